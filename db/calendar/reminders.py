"""When a deadline's reminders and escalations fall due: plain functions, no database.

Every deadline of the campaign (a report to sign or answer, later a self-check or a quarterly
report) gets the same ladder, counted in working days in the campaign time zone, each rung at the
configured time of day (09:00 by default):

* 提醒 (remind): N working days before the due day (default 1 and 0: the day before and the day
  itself), to whoever must act;
* 催办 (urge): the first working day after the due day, to whoever must act, copied to their
  leader;
* 督办 (supervise): `supervise_after_days` working days after the due day, to the leader and the
  campaign office.

A rung is due once its moment has passed. A reminder is only worth sending while the deadline
is still ahead and if it was not already past when the deadline was set (a report assigned at
10:30 is not "reminded" of the 09:00 rung of the same morning); escalations stay due until sent.
Only the highest due rung is sent (`due_rungs`): after the bot was down over a rung's day, the
next scan finds two rungs due at once, and two identical reminders a second apart (or a 催办
and a 督办 together) tell the recipient nothing more than the higher one; the lower ones are
passed over, recorded as skipped. A reminder also stops being worth sending once its deadline
has passed (`reminder_expires_at`): the sender drops it rather than deliver it late.
Each rung has a key (`step_key`) that names the deadline, the rung and the due day, so an outbox
insert-or-ignore sends it once, and a moved deadline (an approved extension) starts a new ladder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from db.calendar.workdays import WorkCalendar, local_date, shift_working_days, working_days_between


class Rung(StrEnum):
    remind = "remind"
    urge = "urge"
    """催办"""
    supervise = "supervise"
    """督办"""


@dataclass(frozen=True)
class Ladder:
    """The configured rungs (see `[reminders]` in the config)."""

    remind_before_days: tuple[int, ...] = (1, 0)
    at: time = time(9, 0)
    supervise_after_days: int = 3


@dataclass(frozen=True)
class Step:
    rung: Rung
    offset: int
    """Working days relative to the due day: -1 the day before, 0 the day, +1 the day after."""
    at: datetime
    """Aware UTC moment from which the step is due."""


def ladder_for(
    due_at: datetime, ladder: Ladder, calendar: WorkCalendar, tz: ZoneInfo
) -> list[Step]:
    """Every rung of one deadline, in time order."""
    due_day = local_date(due_at, tz)

    def step(rung: Rung, offset: int) -> Step:
        day = shift_working_days(due_day, offset, calendar)
        return Step(rung, offset, datetime.combine(day, ladder.at, tzinfo=tz).astimezone(UTC))

    reminders = sorted({before for before in ladder.remind_before_days if before >= 0})
    return [
        *(step(Rung.remind, -before) for before in reversed(reminders)),
        step(Rung.urge, 1),
        step(Rung.supervise, max(ladder.supervise_after_days, 2)),
    ]


def due_steps(
    due_at: datetime,
    since: datetime | None,
    now: datetime,
    ladder: Ladder,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> list[Step]:
    """The rungs to send now (the outbox drops the ones already sent).

    `since` is when the deadline was set (None when unknown: every passed rung counts).
    """
    steps = []
    for step in ladder_for(due_at, ladder, calendar, tz):
        if step.at > now:
            continue
        if step.rung is Rung.remind and (now > due_at or (since is not None and step.at < since)):
            continue
        if step.rung is not Rung.remind and now <= due_at:
            continue
        steps.append(step)
    return steps


@dataclass(frozen=True)
class DueRungs:
    send: Step | None
    """The highest rung due now, or None."""
    passed_over: tuple[Step, ...]
    """Lower rungs due at the same moment: never to be sent (their day went by unseen)."""


def due_rungs(
    due_at: datetime,
    since: datetime | None,
    now: datetime,
    ladder: Ladder,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> DueRungs:
    """What one scan does with a deadline: send the highest due rung, pass over the others.

    The outbox ignores a rung queued before, so in a scan that runs on time the passed-over
    rungs are the ones already sent, and only after downtime is one of them really dropped.
    """
    steps = due_steps(due_at, since, now, ladder, calendar, tz)
    if not steps:
        return DueRungs(None, ())
    return DueRungs(steps[-1], tuple(steps[:-1]))


def reminder_expires_at(step: Step, due_at: datetime) -> datetime | None:
    """A reminder announces `due_at` and is worthless after it; escalations never expire."""
    return due_at if step.rung is Rung.remind else None


def step_key(
    family: str, what: str, subject: str, step: Step, due_at: datetime, tz: ZoneInfo
) -> str:
    """e.g. `remind:report_reply_due:ZF2026-000123:-1:2026-04-03`; the recipient is appended by
    the caller."""
    day = local_date(due_at, tz).isoformat()
    return f"{step.rung.value}:{family}_{what}_due:{subject}:{step.offset:+d}:{day}"


def overdue_working_days(
    due_at: datetime, now: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> int:
    """Whole working days past the due day (0 while on time)."""
    return max(0, working_days_between(due_at, now, calendar, tz))
