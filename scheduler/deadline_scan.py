"""One scan for every kind of deadline: reminders, 催办 and 督办 into the outbox.

A source lists its open deadlines (anything with an owner department, a due time and a subject)
and words its messages; the scan decides which rungs are due (`db.reminders`), who hears them,
and queues one outbox row per recipient with a key that makes a second scan a no-op. Nothing is
kept in memory between scans, so a restart loses and repeats nothing.

Who hears what:

| rung | owned by a unit | owned by the office |
|---|---|---|
| 提醒 remind | the unit's liaisons (and its WeCom robot) | the admins |
| 催办 urge | liaisons, copied to the unit's leaders (and the robot) | the admins |
| 督办 supervise | the unit's leaders and the admins (and the robot) | the admins |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator, gettext_for
from bot.render import local_time
from db.models import Department, Role
from db.outbox import enqueue
from db.reminders import Ladder, Rung, Step, due_steps, overdue_working_days, step_key
from db.roles import Recipient, admin_recipients, department_recipients
from db.workdays import WorkCalendar


@dataclass(frozen=True)
class Deadline:
    family: str
    """What kind of thing is due, e.g. `report`; part of the outbox key."""
    what: str
    """What is due about it, e.g. `sign` or `reply`; part of the outbox key."""
    subject: str
    """Its public name, e.g. the report number."""
    due_at: datetime
    since: datetime | None
    """When this due time was set; rungs already past then are not sent."""
    department_id: int | None
    """The owning unit; None when the office owns it."""
    title: str = ""
    """What the message names besides the subject (a duty's title, a ledger item's description):
    user text, so the source cuts and escapes it when wording the message."""
    period: str = ""
    """The period a duty is owed for (`Submission.period`, e.g. 2026-Q4); empty otherwise."""


@dataclass(frozen=True)
class Notice:
    """What a source needs to word one rung."""

    step: Step
    deadline: Deadline
    unit: str
    due: str
    overdue_days: int


class DeadlineSource(Protocol):
    async def open_deadlines(self, session: AsyncSession, now: datetime) -> list[Deadline]: ...

    def text(self, notice: Notice, _: Translator) -> str: ...


@dataclass(frozen=True)
class ScanContext:
    now: datetime
    calendar: WorkCalendar
    tz: ZoneInfo
    ladder: Ladder
    admin_ids: list[int]
    default_language: str
    office_robot: bool = False
    """The office has its own WeCom robot (`[wecom] office_url`)."""


async def _audience(
    session: AsyncSession, rung: Rung, department_id: int | None, scan: ScanContext
) -> list[Recipient]:
    admins = await admin_recipients(session, scan.admin_ids, scan.default_language)
    if department_id is None:
        return admins
    liaisons = await department_recipients(session, department_id, frozenset({Role.liaison}))
    leaders = await department_recipients(session, department_id, frozenset({Role.leader}))
    if rung is Rung.remind:
        return liaisons
    if rung is Rung.urge:
        return liaisons + leaders
    return leaders + admins


async def scan_deadlines(
    session: AsyncSession, sources: Sequence[DeadlineSource], scan: ScanContext
) -> int:
    """Queue every due rung of every open deadline; returns how many rows were new."""
    units = {
        d.id: d
        for d in (await session.exec(select(Department).where(col(Department.active)))).all()
    }
    added = 0
    for source in sources:
        for deadline in await source.open_deadlines(session, scan.now):
            steps = due_steps(
                deadline.due_at, deadline.since, scan.now, scan.ladder, scan.calendar, scan.tz
            )
            if not steps:
                continue
            unit = units.get(deadline.department_id) if deadline.department_id else None
            for step in steps:
                notice = Notice(
                    step=step,
                    deadline=deadline,
                    unit=unit.name if unit is not None else "",
                    due=local_time(deadline.due_at, scan.tz),
                    overdue_days=overdue_working_days(
                        deadline.due_at, scan.now, scan.calendar, scan.tz
                    ),
                )
                key = step_key(
                    deadline.family, deadline.what, deadline.subject, step, deadline.due_at, scan.tz
                )
                for recipient in await _audience(session, step.rung, deadline.department_id, scan):
                    added += await enqueue(
                        session,
                        key=f"{key}:{recipient.telegram_id}",
                        chat_id=recipient.telegram_id,
                        text=source.text(notice, gettext_for(recipient.language)),
                        now=scan.now,
                    )
                to_office = deadline.department_id is None or step.rung is Rung.supervise
                if to_office and scan.office_robot:
                    added += await enqueue(
                        session,
                        key=f"{key}:wecom-office",
                        office_robot=True,
                        text=source.text(notice, gettext_for(scan.default_language)),
                        now=scan.now,
                    )
                if unit is not None and unit.wecom_url:
                    added += await enqueue(
                        session,
                        key=f"{key}:wecom",
                        department_id=unit.id,
                        text=source.text(notice, gettext_for(scan.default_language)),
                        now=scan.now,
                    )
    return added
