"""The duties' deadlines for the deadline scan: submissions a unit owes and its open
rectification items, with the wording of each rung.

Both are owned by the unit, so they climb the same ladder as a report (提醒 to the liaisons, 催办
copied to the leaders, 督办 to the leaders and the office). Outbox keys name the subject as `S<id>`
(a submission) or `L<id>` (a ledger item) and the due day, so each rung goes out once:

* a submission owed for the first time is `round1`; a returned one owes round n+1 by its
  `resubmit_due_at`, a key of its own, so a return starts a fresh ladder (even on the same day);
* a filed (submitted or accepted) submission and a done or confirmed item are no longer read,
  so their ladder stops; an item the office reopens keeps its due day and the rungs already sent.

The office hears a submission's 督办 once per duty, period and due day, listing the units (group
`submission_group_O<obligation>_<period>`, `…_again` for returned ones, whose wording differs):
when 40 of 91 units miss a quarterly report, each admin gets one message, not 40. A returned
submission owes its own due day (counted from its review), so it joins only the units returned
towards the same day. Ledger items keep one 督办 each: they are few and each has its own number.

The scan job opens the new periods' submissions (`db.duties.obligations.open_submissions`) in the
same transaction before reading these, so a new quarter is chased without anybody opening it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime.i18n import N_, Translator
from bot.runtime.period_text import period_label
from bot.runtime.render import cut, esc
from db.calendar.reminders import Rung
from db.duties.rules import ONCE
from db.models import (
    Department,
    LedgerState,
    Obligation,
    RectificationItem,
    Submission,
    SubmissionRound,
    SubmissionState,
)
from db.queries import select_rows
from scheduler.deadlines.scan import Deadline, Notice

TITLE_MAX = 60
"""A duty's title in a reminder (titles may be 200 characters)."""
DESCRIPTION_MAX = 80
"""A ledger item's description in a reminder: enough to recognise it; /ledger has the rest."""

FIRST_ROUND = "round1"

FILE_TEXTS: dict[Rung, str] = {
    Rung.remind: N_("⏰ Reminder: {unit} is due to file {duty} by {due}. File it with /duties."),
    Rung.urge: N_(
        "催办: {unit} has not filed {duty}, due {due}. Please file it today with /duties."
    ),
    Rung.supervise: N_("督办: {unit} is {days} working days late filing {duty} (due {due})."),
}

GROUP_TEXTS: dict[bool, str] = {
    False: N_("督办: {count} units are {days} working days late filing {duty} (due {due}):"),
    True: N_("督办: {count} units are {days} working days late filing the returned {duty} again:"),
}
"""The office's one 督办 for a duty's units, by whether it was returned (then each unit has its
own due time, all on the same day)."""

REFILE_TEXTS: dict[Rung, str] = {
    Rung.remind: N_(
        "⏰ Reminder: {duty} was returned to {unit} and is due again by {due}. File it with "
        "/duties."
    ),
    Rung.urge: N_(
        "催办: {unit} has not filed the returned {duty} again, due {due}. Please file it today "
        "with /duties."
    ),
    Rung.supervise: N_(
        "督办: {unit} is {days} working days late filing the returned {duty} again (due {due})."
    ),
}

ITEM_TEXTS: dict[Rung, str] = {
    Rung.remind: N_(
        "⏰ Reminder: rectification item {item} of {unit} is due to be fixed by {due}. Report "
        "progress or mark it done with /ledger.\n{description}"
    ),
    Rung.urge: N_(
        "催办: rectification item {item} of {unit} was due by {due} and is still open. Please "
        "finish it and mark it done with /ledger.\n{description}"
    ),
    Rung.supervise: N_(
        "督办: rectification item {item} of {unit} is {days} working days past its deadline "
        "({due}).\n{description}"
    ),
}


def duty_name(title: str, period: str, _: Translator) -> str:
    """`<b>季度工作报告</b>（2026年第4季度）`: the title cut and escaped, the period in words; a
    one-off duty is named by its title alone."""
    bold = f"<b>{esc(cut(title, TITLE_MAX))}</b>"
    if period == ONCE:
        return bold
    return _("{title} ({period})").format(title=bold, period=period_label(period, _))


class SubmissionDeadlines:
    """Submissions owed (`due`) or owed again (`returned`) by active units for active duties."""

    summarised = False  # the office's copies are grouped per duty instead

    async def open_deadlines(self, session: AsyncSession, now: datetime) -> list[Deadline]:
        last_round = and_(
            col(SubmissionRound.submission_id) == col(Submission.id),
            col(SubmissionRound.number) == col(Submission.rounds),
        )
        statement = (
            select_rows(
                col(Submission.id),
                col(Submission.obligation_id),
                col(Submission.department_id),
                col(Submission.period),
                col(Submission.state),
                col(Submission.due_at),
                col(Submission.resubmit_due_at),
                col(Submission.rounds),
                col(Submission.created_at),
                col(SubmissionRound.reviewed_at),
                col(Obligation.title),
            )
            .join(Obligation, col(Obligation.id) == col(Submission.obligation_id))
            .join(Department, col(Department.id) == col(Submission.department_id))
            .outerjoin(SubmissionRound, last_round)
            .where(
                col(Submission.state).in_([SubmissionState.due, SubmissionState.returned]),
                col(Obligation.active),
                col(Department.active),
            )
            .order_by(col(Submission.id))
        )
        deadlines = []
        for row in (await session.exec(statement)).all():
            (
                sid,
                oid,
                unit,
                period,
                state,
                due_at,
                resubmit_due,
                rounds,
                created,
                reviewed,
                title,
            ) = row
            returned = state == SubmissionState.returned
            group = f"submission_group_O{oid}_{period}"
            deadlines.append(
                Deadline(
                    family="submission",
                    what=f"round{rounds + 1}",
                    subject=f"S{sid}",
                    due_at=(resubmit_due or due_at) if returned else due_at,
                    since=reviewed if returned else created,
                    department_id=unit,
                    title=title,
                    period=period,
                    group=f"{group}_again" if returned else group,
                )
            )
        return deadlines

    def text(self, notice: Notice, _: Translator) -> str:
        deadline = notice.deadline
        texts = FILE_TEXTS if deadline.what == FIRST_ROUND else REFILE_TEXTS
        return _(texts[notice.step.rung]).format(
            unit=esc(notice.unit),
            duty=duty_name(deadline.title, deadline.period, _),
            due=notice.due_in(_),
            days=notice.overdue_days,
        )

    def group_head(self, notice: Notice, count: int, _: Translator) -> str:
        deadline = notice.deadline
        return _(GROUP_TEXTS[deadline.what != FIRST_ROUND]).format(
            count=count,
            duty=duty_name(deadline.title, deadline.period, _),
            due=notice.due_in(_),
            days=notice.overdue_days,
        )


class LedgerDeadlines:
    """Open rectification items of active units (done and confirmed ones are not chased)."""

    summarised = False

    async def open_deadlines(self, session: AsyncSession, now: datetime) -> list[Deadline]:
        statement = (
            select_rows(
                col(RectificationItem.id),
                col(RectificationItem.department_id),
                col(RectificationItem.due_at),
                col(RectificationItem.created_at),
                col(RectificationItem.description),
            )
            .join(Department, col(Department.id) == col(RectificationItem.department_id))
            .where(col(RectificationItem.state) == LedgerState.open, col(Department.active))
            .order_by(col(RectificationItem.id))
        )
        return [
            Deadline(
                family="ledger",
                what="fix",
                subject=f"L{item_id}",
                due_at=due_at,
                since=created,
                department_id=unit,
                title=description,
            )
            for item_id, unit, due_at, created, description in (await session.exec(statement)).all()
        ]

    def text(self, notice: Notice, _: Translator) -> str:
        deadline = notice.deadline
        return _(ITEM_TEXTS[notice.step.rung]).format(
            item=f"<code>{esc(deadline.subject)}</code>",
            unit=esc(notice.unit),
            description=esc(cut(deadline.title, DESCRIPTION_MAX)),
            due=notice.due_in(_),
            days=notice.overdue_days,
        )
