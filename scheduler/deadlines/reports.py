"""The reports' deadlines for the deadline scan: a unit signing for and answering a report, with
the wording of each rung.

Only what a unit's liaisons (and its WeCom robot) hear is queued per report: the leaders and the
office read one summary a day (`scheduler.deadlines.overdue_summary`), and the office's own
deadlines (triage, routing again) are in that summary too. A deadline more than `LOOKBACK` past
has had its last rung long ago, so it is not read at all: a scan reads what changed or became due
lately, not a city's whole backlog every five minutes (`ix_report_due_at` serves the range).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import tuple_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime.fairness import let_others_run
from bot.runtime.i18n import N_, Translator
from bot.runtime.render import esc
from db.calendar.reminders import Rung
from db.cases.rules import DueKind, OwnerKind
from db.models import Report, ReportState
from db.queries import select_rows
from scheduler.deadlines.scan import Deadline, Notice

OPEN_STATES = (
    ReportState.received,
    ReportState.assigned,
    ReportState.signed,
    ReportState.returned,
    ReportState.escalated,
)
"""Reports whose clock runs for somebody other than the reporter (info_requested and replied wait
for the reporter; the 未评价 job closes the latter)."""

WHAT: dict[str, str] = {
    DueKind.triage.value: N_("triage"),
    DueKind.sign.value: N_("signing for it"),
    DueKind.reply.value: N_("answering it"),
    DueKind.reassign.value: N_("routing it again"),
}

TEXTS: dict[Rung, str] = {
    Rung.remind: N_("⏰ Reminder: report <b>{number}</b> ({unit}) is due for {what} by {due}."),
    Rung.urge: N_(
        "催办: report <b>{number}</b> ({unit}) is past its deadline for {what} ({due}). Please "
        "handle it today."
    ),
    Rung.supervise: N_(
        "督办: report <b>{number}</b> ({unit}) is {days} working days past its deadline for "
        "{what} ({due})."
    ),
}


PAGE = 250
"""Deadlines read and turned into objects between two turns of the loop (~4 ms: a person's
step waits behind one such stretch at each of its awaits, see `scan.TURN_SECONDS`)."""

LOOKBACK = timedelta(days=30)
"""The last per-report rung (the robot's 督办) comes a few working days after the due day; a
month covers it across the longest holidays."""


class ReportDeadlines:
    summarised = True

    async def open_deadlines(self, session: AsyncSession, now: datetime) -> list[Deadline]:
        """Read in pages along `ix_report_due_at`, with a turn of the loop between two: on a
        city's database the window holds tens of thousands of deadlines, and turning each row
        into a `Deadline` happens on the loop, wherever the statement ran (measured: 330 ms
        at a time for 25,000 rows in one go)."""
        deadlines: list[Deadline] = []
        after: tuple[datetime, int] | None = None
        while True:
            statement = select_rows(
                col(Report.id),
                col(Report.number),
                col(Report.due_at),
                col(Report.due_kind),
                col(Report.owner_kind),
                col(Report.owner_department_id),
                col(Report.assigned_at),
                col(Report.signed_at),
            ).where(
                col(Report.state).in_(OPEN_STATES),
                col(Report.due_at) > now - LOOKBACK,
                col(Report.owner_kind) == OwnerKind.department.value,
            )
            if after is not None:
                statement = statement.where(tuple_(col(Report.due_at), col(Report.id)) > after)
            statement = statement.order_by(col(Report.due_at), col(Report.id)).limit(PAGE)
            rows = (await session.exec(statement)).all()
            for _id, number, due_at, due_kind, owner_kind, unit_id, assigned, signed in rows:
                if due_kind not in WHAT:
                    continue
                by_unit = owner_kind == OwnerKind.department.value
                since = signed if due_kind == DueKind.reply.value else assigned
                deadlines.append(
                    Deadline(
                        family="report",
                        what=due_kind,
                        subject=number,
                        due_at=due_at,
                        since=since if by_unit else None,
                        department_id=unit_id if by_unit else None,
                    )
                )
            if len(rows) < PAGE:
                return deadlines
            last = rows[-1]
            after = (last[2], last[0])
            await let_others_run()

    def text(self, notice: Notice, _: Translator) -> str:
        deadline = notice.deadline
        return _(TEXTS[notice.step.rung]).format(
            number=deadline.subject,
            unit=esc(notice.unit) if notice.unit else _("the campaign office"),
            what=_(WHAT[deadline.what]),
            due=notice.due_in(_),
            days=notice.overdue_days,
        )
