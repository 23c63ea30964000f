"""The report a person is typing, saved at every step.

The draft is the memory of the report flow: the chat conversation only says which question comes
next, the draft holds every answer, so a restart or a crash between two messages loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import IdentityMode, ReportDraft


@dataclass
class DraftFile:
    kind: str
    mime_type: str
    size: int
    sha256: str
    path: str
    file_name: str | None = None


@dataclass
class Draft:
    category_id: int | None = None
    department_id: int | None = None
    department_text: str | None = None
    department_unsure: bool = False
    description: str | None = None
    time_place: str | None = None
    time_place_skipped: bool = False
    attachments: list[DraftFile] = field(default_factory=list)
    evidence_done: bool = False
    identity_mode: IdentityMode | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    leader_involved: bool = False
    """涉及单位负责人: the report must not be handled by the named unit itself."""
    rev: int = 0
    """Bumped on every change, so a confirm button from an older summary is recognised."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Draft:
        raw = json.loads(text)
        files = [DraftFile(**item) for item in raw.pop("attachments", [])]
        mode = raw.pop("identity_mode", None)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(
            attachments=files,
            identity_mode=IdentityMode(mode) if mode else None,
            **known,
        )

    def is_complete(self) -> bool:
        if self.category_id is None or not self.description or self.identity_mode is None:
            return False
        if self.department_id is None and not self.department_unsure:
            return False
        if self.identity_mode is IdentityMode.real_name:
            return bool(self.reporter_name and self.reporter_phone)
        return True


async def load_draft(session: AsyncSession, account_id: int) -> tuple[Draft, datetime] | None:
    row = await session.get(ReportDraft, account_id)
    if row is None:
        return None
    # The identity map holds rows weakly; keeping this one lets `save_draft` skip a SELECT.
    session.info.setdefault("drafts", {})[account_id] = row
    return Draft.from_json(row.data), row.updated_at


async def save_draft(session: AsyncSession, account_id: int, draft: Draft, now: datetime) -> None:
    """Store the draft and count the activity; the revision moves only when the content did."""
    row = await session.get(ReportDraft, account_id)
    if row is None:
        row = ReportDraft(account_id=account_id, data=draft.to_json(), updated_at=now)
    elif row.data != draft.to_json():
        draft.rev += 1
        row.data = draft.to_json()
    row.updated_at = now
    session.add(row)


async def delete_draft(session: AsyncSession, account_id: int) -> Draft | None:
    row = await session.get(ReportDraft, account_id)
    if row is None:
        return None
    draft = Draft.from_json(row.data)
    await session.delete(row)
    return draft


async def expired_drafts(
    session: AsyncSession, now: datetime, idle: timedelta, limit: int = 500
) -> list[ReportDraft]:
    cutoff = now - idle
    result = await session.exec(
        select(ReportDraft).where(ReportDraft.updated_at < cutoff).limit(limit)
    )
    return list(result.all())
