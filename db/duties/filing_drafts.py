"""A submission being filed, saved at every step in `duty_draft` (subject `submission:<id>`).

Like the report draft, the draft is the memory of the flow: the conversation only says which
question comes next, so a restart between two messages loses nothing. A person may leave a filing
half-done and come back to it days later; only /cancel or the filing itself removes it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.drafts import DraftFile
from db.duty_drafts import delete_draft, load_draft, store_draft


@dataclass
class FilingFile(DraftFile):
    file_id: str | None = None
    """Telegram's id, so the office's notice can show the same file without re-uploading it."""


@dataclass
class FindingDraft:
    """One category of a self-check; `found` None while the liaison has not answered."""

    category_id: int
    found: bool | None = None
    description: str | None = None
    measure: str | None = None
    owner_name: str | None = None
    due_on: str | None = None
    """ISO date."""

    def complete(self) -> bool:
        if self.found is None:
            return False
        if not self.found:
            return True
        return bool(self.description and self.measure and self.owner_name and self.due_on)


@dataclass
class FilingDraft:
    submission_id: int
    answers: list[str | None] = field(default_factory=list)
    """One per question of the submission, None while unanswered."""
    body: str | None = None
    body_done: bool = False
    files: list[FilingFile] = field(default_factory=list)
    files_done: bool = False
    findings: list[FindingDraft] = field(default_factory=list)
    """A self-check: one per category active when the filing began, in menu order."""
    rev: int = 0
    """Bumped on every change, so a confirm button from an older summary is recognised."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> FilingDraft:
        raw = json.loads(text)
        files = [FilingFile(**item) for item in raw.pop("files", [])]
        findings = [FindingDraft(**item) for item in raw.pop("findings", [])]
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(files=files, findings=findings, **known)


def subject_of(submission_id: int) -> str:
    return f"submission:{submission_id}"


async def load_filing_draft(
    session: AsyncSession, account_id: int, submission_id: int
) -> tuple[FilingDraft, datetime] | None:
    row = await load_draft(session, account_id, subject_of(submission_id))
    if row is None:
        return None
    return FilingDraft.from_json(row.data), row.updated_at


async def save_filing_draft(
    session: AsyncSession, account_id: int, draft: FilingDraft, now: datetime
) -> None:
    """Store the draft; the revision moves only when the content did."""
    subject = subject_of(draft.submission_id)
    row = await load_draft(session, account_id, subject)
    if row is not None and row.data != draft.to_json():
        draft.rev += 1
    await store_draft(session, account_id, subject, draft.to_json(), now)


async def delete_filing_draft(
    session: AsyncSession, account_id: int, submission_id: int
) -> FilingDraft | None:
    data = await delete_draft(session, account_id, subject_of(submission_id))
    return None if data is None else FilingDraft.from_json(data)
