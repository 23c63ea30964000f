"""The rectification ledger (整改台账) in the database: items from self-checks, inspections and
reports, and their history of progress, done, confirmed and reopened.

Every change writes a `LedgerUpdate` in the same transaction, so the history is the audit trail
of the item; the rules are `db.duties.rules.ledger_step`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.ledger.rules import ItemStatus, LedgerAction, LedgerProblem, ledger_step
from db.models import (
    LedgerSource,
    LedgerUpdate,
    LedgerUpdateKind,
    RectificationItem,
)
from db.status_fields import read_status, write_status

MAX_TEXT = 2000

UPDATE_KIND = {
    LedgerAction.progress: LedgerUpdateKind.progress,
    LedgerAction.done: LedgerUpdateKind.done,
    LedgerAction.confirm: LedgerUpdateKind.confirmed,
    LedgerAction.reopen: LedgerUpdateKind.reopened,
}


@dataclass(frozen=True)
class NewItem:
    department_id: int
    source: LedgerSource
    description: str
    due_at: datetime
    measure: str | None = None
    owner_name: str | None = None
    category_id: int | None = None
    submission_id: int | None = None
    report_id: int | None = None


async def add_item(
    session: AsyncSession, new: NewItem, *, actor_account_id: int | None, now: datetime
) -> RectificationItem:
    item = RectificationItem(
        department_id=new.department_id,
        source=new.source,
        submission_id=new.submission_id,
        report_id=new.report_id,
        category_id=new.category_id,
        description=new.description.strip()[:MAX_TEXT],
        measure=(new.measure or "").strip()[:MAX_TEXT] or None,
        owner_name=(new.owner_name or "").strip()[:50] or None,
        due_at=new.due_at,
        created_by=actor_account_id,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    assert item.id is not None
    session.add(
        LedgerUpdate(
            item_id=item.id,
            kind=LedgerUpdateKind.created,
            account_id=actor_account_id,
            created_at=now,
        )
    )
    await session.flush()
    return item


class ItemAccess(StrEnum):
    unknown = "unknown"
    not_yours = "not_yours"


def status_of(item: RectificationItem) -> ItemStatus:
    return read_status(ItemStatus, item)


async def change_item(
    session: AsyncSession,
    item_id: int,
    action: LedgerAction,
    note: str | None,
    *,
    actor_account_id: int | None,
    now: datetime,
    department_ids: Sequence[int] | None,
    version: int | None = None,
) -> LedgerUpdate | LedgerProblem | ItemAccess:
    """Apply one step. `department_ids` are the actor's units (a liaison may only touch their
    own items, and only progress/done); None means the office, which confirms and reopens.
    The caller attaches evidence to the returned update (`DutyFile.update_id`)."""
    item = await session.get(RectificationItem, item_id, with_for_update=True)
    if item is None:
        return ItemAccess.unknown
    if department_ids is not None:
        if item.department_id not in department_ids:
            return ItemAccess.not_yours
        if action not in (LedgerAction.progress, LedgerAction.done):
            return ItemAccess.not_yours
    status = ledger_step(status_of(item), action, note, now, version=version)
    if isinstance(status, LedgerProblem):
        return status
    write_status(item, status)
    update = LedgerUpdate(
        item_id=item_id,
        kind=UPDATE_KIND[action],
        note=(note or "").strip()[:MAX_TEXT] or None,
        account_id=actor_account_id,
        created_at=now,
    )
    session.add(update)
    await session.flush()
    return update


async def history_of(session: AsyncSession, item_id: int) -> list[LedgerUpdate]:
    return list(
        (
            await session.exec(
                select(LedgerUpdate)
                .where(LedgerUpdate.item_id == item_id)
                .order_by(col(LedgerUpdate.id))
            )
        ).all()
    )
