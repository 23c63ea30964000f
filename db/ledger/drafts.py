"""Ledger updates and inspections being typed, kept in `duty_draft` at every step.

The chat conversation only says which question comes next; the draft holds what was typed and
the evidence already downloaded, so a restart between two messages loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.drafts import DraftFile
from db.duty_drafts import delete_draft, load_draft, store_draft

INSPECTION = "inspection"
"""Subject of the admin's inspection draft (one at a time per admin)."""


def item_subject(item_id: int) -> str:
    return f"item:{item_id}"


@dataclass
class UpdateDraft:
    """A liaison's progress note or "done" for one item, with its evidence."""

    item_id: int
    action: str
    """`progress` or `done` (a `db.duties.rules.LedgerAction` value)."""
    version: int
    """The item's version when the button was pressed."""
    note: str | None = None
    files: list[DraftFile] = field(default_factory=list)
    files_done: bool = False


@dataclass
class InspectionDraft:
    """An admin's 明察暗访 finding on its way to becoming a ledger item."""

    department_id: int | None = None
    category_id: int | None = None
    description: str | None = None
    files: list[DraftFile] = field(default_factory=list)
    files_done: bool = False
    due_on: str | None = None
    """ISO date."""
    rev: int = 0
    """Bumped on every change, so a confirm button from an older summary is recognised."""


Kept = TypeVar("Kept", UpdateDraft, InspectionDraft)


def _from_json(kind: type[Kept], text: str) -> Kept:
    raw = json.loads(text)
    files = [DraftFile(**item) for item in raw.pop("files", [])]
    known = {k: v for k, v in raw.items() if k in kind.__dataclass_fields__}
    return kind(files=files, **known)


def update_from_json(text: str) -> UpdateDraft:
    return _from_json(UpdateDraft, text)


def inspection_from_json(text: str) -> InspectionDraft:
    return _from_json(InspectionDraft, text)


async def load(session: AsyncSession, account_id: int, subject: str) -> str | None:
    row = await load_draft(session, account_id, subject)
    return row.data if row is not None else None


async def save(
    session: AsyncSession,
    account_id: int,
    subject: str,
    draft: UpdateDraft | InspectionDraft,
    now: datetime,
) -> None:
    await store_draft(
        session, account_id, subject, json.dumps(asdict(draft), ensure_ascii=False), now
    )


async def discard(session: AsyncSession, account_id: int, subject: str) -> list[str]:
    """Delete the draft; returns the paths of its files, for removal once nothing else uses them
    (the caller flushes first: `db.files.remove_if_unreferenced` looks at stored drafts)."""
    data = await delete_draft(session, account_id, subject)
    return [] if data is None else [f["path"] for f in json.loads(data).get("files", [])]
