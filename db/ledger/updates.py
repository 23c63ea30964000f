"""The ledger's steps with their evidence and the office's views of it: a liaison's progress or
"done" with files, an inspection (明察暗访) becoming an item, items across units.

`db.ledger.items` applies the state rules; this module adds what travels with a step (its `DutyFile`
rows, the audit event of an office action) in the same transaction, so a step never exists
without its evidence or an office decision without its audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.audit import record
from db.cases.drafts import DraftFile
from db.ledger.items import ItemAccess, NewItem, add_item, change_item
from db.ledger.rules import LedgerAction, LedgerProblem
from db.models import (
    Department,
    DutyFile,
    LedgerState,
    LedgerUpdate,
    RectificationItem,
    Report,
    ReportState,
)


def _attach(
    session: AsyncSession, update_id: int, files: Sequence[DraftFile], now: datetime
) -> None:
    for file in files:
        session.add(
            DutyFile(
                update_id=update_id,
                kind=file.kind,
                file_name=file.file_name,
                mime_type=file.mime_type,
                size=file.size,
                sha256=file.sha256,
                path=file.path,
                created_at=now,
            )
        )


async def record_step(
    session: AsyncSession,
    item_id: int,
    action: LedgerAction,
    note: str | None,
    files: Sequence[DraftFile] = (),
    *,
    actor_account_id: int | None,
    now: datetime,
    department_ids: Sequence[int] | None,
    version: int | None = None,
) -> LedgerUpdate | LedgerProblem | ItemAccess:
    """`db.ledger.items.change_item` plus the step's evidence; an office step (`department_ids`
    None) is also written to the audit trail, under the unit's code."""
    item = await session.get(RectificationItem, item_id)
    before = item.state if item is not None else None
    update = await change_item(
        session,
        item_id,
        action,
        note,
        actor_account_id=actor_account_id,
        now=now,
        department_ids=department_ids,
        version=version,
    )
    if not isinstance(update, LedgerUpdate):
        return update
    assert update.id is not None and item is not None
    _attach(session, update.id, files, now)
    if department_ids is None:
        unit = await session.get(Department, item.department_id)
        await record(
            session,
            actor_account_id=actor_account_id,
            action=f"ledger.{update.kind.value}",
            subject=unit.code if unit is not None else str(item.department_id),
            now=now,
            before={"item": item_id, "state": str(before)},
            after={"item": item_id, "state": item.state.value, "note": update.note},
        )
    await session.flush()
    return update


async def record_finding(
    session: AsyncSession,
    new: NewItem,
    files: Sequence[DraftFile],
    *,
    actor_account_id: int | None,
    now: datetime,
) -> RectificationItem:
    """An office finding (an inspection, or a closed report that still needs a fix) becomes an
    item of the unit's ledger; its evidence hangs on the item's `created` step; audited."""
    item = await add_item(session, new, actor_account_id=actor_account_id, now=now)
    created = (
        await session.exec(select(LedgerUpdate).where(LedgerUpdate.item_id == item.id))
    ).one()
    assert created.id is not None
    _attach(session, created.id, files, now)
    unit = await session.get(Department, new.department_id)
    await record(
        session,
        actor_account_id=actor_account_id,
        action=f"ledger.{new.source.value}",
        subject=unit.code if unit is not None else str(new.department_id),
        now=now,
        after={
            "item": item.id,
            "category_id": new.category_id,
            "report_id": new.report_id,
            "due_at": new.due_at.isoformat(),
        },
    )
    await session.flush()
    return item


async def files_by_update(session: AsyncSession, item_id: int) -> dict[int, list[DutyFile]]:
    """The evidence of an item's history, by the update it came with."""
    statement = (
        select(DutyFile)
        .join(LedgerUpdate, col(LedgerUpdate.id) == col(DutyFile.update_id))
        .where(LedgerUpdate.item_id == item_id)
        .order_by(col(DutyFile.id))
    )
    found: dict[int, list[DutyFile]] = {}
    for file in (await session.exec(statement)).all():
        assert file.update_id is not None
        found.setdefault(file.update_id, []).append(file)
    return found


@dataclass(frozen=True)
class LedgerRow:
    item: RectificationItem
    unit: Department


async def ledger_rows(
    session: AsyncSession,
    *,
    department_ids: Sequence[int] | None,
    states: frozenset[LedgerState] = frozenset(LedgerState),
) -> list[LedgerRow]:
    """Items of some units (None: every unit) in these states, by unit code then item number."""
    statement = (
        select(RectificationItem, Department)
        .join(Department, col(Department.id) == col(RectificationItem.department_id))
        .where(col(RectificationItem.state).in_(states))
        .order_by(col(Department.code), col(RectificationItem.id))
    )
    if department_ids is not None:
        statement = statement.where(col(RectificationItem.department_id).in_(department_ids))
    return [LedgerRow(item, unit) for item, unit in (await session.exec(statement)).all()]


class FromReportProblem(StrEnum):
    """Why a report cannot become a ledger item (handlers word each one)."""

    unknown = "unknown"
    not_closed = "not_closed"
    no_unit = "no_unit"
    unit_inactive = "unit_inactive"
    """The unit was deactivated since: nobody there would keep the item."""


async def report_for_ledger(session: AsyncSession, number: str) -> Report | FromReportProblem:
    """The closed report (and so its unit) an admin turns into a ledger item, or a
    `FromReportProblem` value: only a finished case can promise a fix the ledger tracks."""
    report = (await session.exec(select(Report).where(Report.number == number))).first()
    if report is None:
        return FromReportProblem.unknown
    if report.state is not ReportState.closed:
        return FromReportProblem.not_closed
    if report.handling_department_id is None:
        return FromReportProblem.no_unit
    unit = await session.get(Department, report.handling_department_id)
    if unit is None or not unit.active:
        return FromReportProblem.unit_inactive
    return report
