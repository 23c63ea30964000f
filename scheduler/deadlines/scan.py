"""One scan for every kind of deadline: reminders, 催办 and 督办 into the outbox.

A source lists its open deadlines (anything with an owner department, a due time and a subject)
and words its messages; the scan decides which rungs are due (`db.calendar.reminders`), who hears
them, and queues one outbox row per recipient with a key that makes a second scan a no-op. Nothing
is kept in memory between scans, so a restart loses and repeats nothing.

Who hears what:

| rung | owned by a unit | owned by the office |
|---|---|---|
| 提醒 remind | the unit's liaisons (and its WeCom robot) | the admins |
| 催办 urge | liaisons, copied to the unit's leaders (and the robot) | the admins |
| 督办 supervise | the unit's leaders and the admins (and the robot) | the admins |

A `summarised` source (the reports) queues only the liaisons' and the unit robot's rows: its
leaders and the office read the daily overdue summary (`scheduler.deadlines.overdue_summary`).

The office's copy (the admins and the office's robot) of a unit's deadline can be grouped, so
that 40 units missing one quarterly report do not send each admin 40 messages on one morning:
a deadline naming a `group` (one duty and period) reaches the office as one message per group,
rung and due day listing the units; the units' own people still get their own, and a group of
one reads like an ungrouped message. The key, e.g.
`supervise:submission_group_O7_2026-Q3:+3:2026-10-13:<chat>`, makes a second scan or a restart
queue nothing more. All units of a group share the due day and so cross the rung together. A
unit that owes since after the group's message was queued (its `since` is later, e.g. added to
the duty's scope late) was not in it: the office gets that unit's own message, as if ungrouped.
A unit or duty deactivated and reactivated meanwhile is not announced to the office again (its
leaders still are). A returned submission owes its own due day, so it is another group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime.fairness import let_others_run
from bot.runtime.i18n import Translator, gettext_for
from bot.runtime.render import MESSAGE_MAX, esc, fit_lines, local_time, marked_due
from db.calendar.reminders import (
    Ladder,
    Rung,
    Step,
    due_rungs,
    overdue_working_days,
    reminder_expires_at,
    step_key,
)
from db.calendar.workdays import WorkCalendar, deadline_is_guessed, local_date
from db.delivery.outbox import SkipReason, enqueue
from db.engine import off_the_loop
from db.models import Department, OutboxMessage, Role
from db.people.roles import Recipient, admin_recipients, department_recipients


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
    group: str = ""
    """Deadlines of units that the office hears about together (e.g. `submission_group_O7_2026-Q3`,
    by a `GroupedSource`); empty for one message per deadline."""


@dataclass(frozen=True)
class Notice:
    """What a source needs to word one rung."""

    step: Step
    deadline: Deadline
    unit: str
    due: str
    overdue_days: int
    guessed: bool = False
    """The due time was counted over days whose holidays the calendar only guesses."""

    def due_in(self, _: Translator) -> str:
        """The due time as the message shows it (marked when guessed)."""
        return marked_due(self.due, self.guessed, _)


class DeadlineSource(Protocol):
    summarised: bool
    """Its leaders' and office's copies are the daily overdue summary
    (`scheduler.deadlines.overdue_summary`), not a message per deadline: only the liaisons and
    the unit's robot hear of each one."""

    async def open_deadlines(self, session: AsyncSession, now: datetime) -> list[Deadline]: ...

    def text(self, notice: Notice, _: Translator) -> str: ...


@runtime_checkable
class GroupedSource(DeadlineSource, Protocol):
    """A source whose deadlines may name a group: it words the head of the office's message."""

    def group_head(self, notice: Notice, count: int, _: Translator) -> str:
        """`notice` is one of the group's `count` units: what the head names is the same for all
        of them (the duty, the due day, the days late)."""
        ...


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


class _UnitPeople:
    """Who hears a unit's rung, looked up once per unit and role in a scan: a unit owing ten
    things is one lookup, not ten."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.known: dict[tuple[int, Role], list[Recipient]] = {}

    async def _holders(self, department_id: int, role: Role) -> list[Recipient]:
        key = (department_id, role)
        if key not in self.known:
            self.known[key] = await department_recipients(
                self.session, department_id, frozenset({role})
            )
        return self.known[key]

    async def of(self, rung: Rung, department_id: int, *, summarised: bool) -> list[Recipient]:
        if rung is Rung.remind or (summarised and rung is Rung.urge):
            return await self._holders(department_id, Role.liaison)
        if summarised:
            return []  # the leaders read the daily summary
        leaders = await self._holders(department_id, Role.leader)
        if rung is Rung.urge:
            return await self._holders(department_id, Role.liaison) + leaders
        return leaders


WECOM_MAX_BYTES = 4000
"""A WeCom robot takes markdown of at most 4096 bytes (a Chinese character is 3 of them)."""


def _fits_telegram(text: str) -> bool:
    return len(text) <= MESSAGE_MAX


def _fits_wecom(text: str) -> bool:
    return len(text.encode()) <= WECOM_MAX_BYTES


Words = Callable[[str, Callable[[str], bool]], str]
"""A message in a language (the recipient's), fitting a channel's limit: `words(language, fits)`."""


@dataclass(frozen=True)
class _Rows:
    """How one rung's rows are queued: to be sent (until `expires_at`), or recorded skipped."""

    expires_at: datetime | None = None
    skipped: SkipReason | None = None


SEND = _Rows()


class _Queue:
    """One scan's rows, counting the new ones (skipped records are not counted)."""

    def __init__(self, session: AsyncSession, scan: ScanContext, admins: list[Recipient]) -> None:
        self.session = session
        self.scan = scan
        self.admins = admins
        self.added = 0
        self.passed_over = 0

    async def _add(self, rows: _Rows, **target: Any) -> None:
        # Most rows of a scan were queued by an earlier one: a read finds them without taking
        # the write lock, which people filing reports are waiting for.
        taken = select(OutboxMessage.id).where(col(OutboxMessage.dedupe_key) == target["key"])
        if (await self.session.exec(taken)).first() is not None:
            return
        inserted = await enqueue(
            self.session,
            now=self.scan.now,
            expires_at=rows.expires_at,
            skipped=rows.skipped,
            **target,
        )
        if rows.skipped is None:
            self.added += inserted
        else:
            self.passed_over += inserted

    async def to_chat(self, key: str, recipient: Recipient, text: str, rows: _Rows = SEND) -> None:
        await self._add(
            rows, key=f"{key}:{recipient.telegram_id}", chat_id=recipient.telegram_id, text=text
        )

    async def to_unit_robot(
        self, key: str, department_id: int, text: str, rows: _Rows = SEND
    ) -> None:
        await self._add(rows, key=f"{key}:wecom", department_id=department_id, text=text)

    async def to_office(self, key: str, words: Words, rows: _Rows = SEND) -> None:
        """The admins (each in their language) and the office's robot."""
        for admin in self.admins:
            await self.to_chat(key, admin, words(admin.language, _fits_telegram), rows)
        if self.scan.office_robot:
            await self._add(
                rows,
                key=f"{key}:wecom-office",
                office_robot=True,
                text=words(self.scan.default_language, _fits_wecom),
            )

    async def first_queued(self, key: str) -> datetime | None:
        """When an earlier scan queued this office message (to anybody), None if none did."""
        keys = [f"{key}:{a.telegram_id}" for a in self.admins] + [f"{key}:wecom-office"]
        statement = select(func.min(OutboxMessage.created_at)).where(
            col(OutboxMessage.dedupe_key).in_(keys)
        )
        return (await self.session.exec(statement)).one()


async def _queue_groups(
    queue: _Queue, source: GroupedSource, groups: dict[str, list[tuple[Notice, str]]]
) -> None:
    """One office message per group; `groups` maps its key to its (notice, own key) pairs."""
    for group_key, members in groups.items():
        queued = await queue.first_queued(group_key)
        if queued is not None:
            # The group's message went out earlier: a unit owing since then was not in it.
            for notice, key in members:
                since = notice.deadline.since
                if since is not None and since > queued:
                    await queue.to_office(key, _one_text(source, notice))
        await queue.to_office(group_key, _group_text(source, [n for n, _key in members]))


def _group_text(source: GroupedSource, notices: list[Notice]) -> Words:
    def words(language: str, fits: Callable[[str], bool]) -> str:
        _ = gettext_for(language)
        if len(notices) == 1:  # "1 units are late" reads worse than the unit's own message
            return source.text(notices[0], _)
        return fit_lines(
            source.group_head(notices[0], len(notices), _),
            [_("• {unit}").format(unit=esc(n.unit)) for n in notices],
            lambda rest: _("… and {count} more units.").format(count=rest),
            fits,
        )

    return words


def _one_text(source: DeadlineSource, notice: Notice) -> Words:
    return lambda language, _fits: source.text(notice, gettext_for(language))


class _StepQueue:
    """The rows of one deadline's rungs: who hears each rung, in which words."""

    def __init__(
        self,
        queue: _Queue,
        people: _UnitPeople,
        source: DeadlineSource,
        deadline: Deadline,
        unit: Department | None,
    ) -> None:
        self.queue = queue
        self.people = people
        self.source = source
        self.deadline = deadline
        self.unit = unit

    async def add(
        self, step: Step, rows: _Rows, groups: dict[str, list[tuple[Notice, str]]] | None
    ) -> None:
        """Queue `step` for everybody who hears it; the office's copy of a grouped deadline is
        collected in `groups` instead (None: the office gets its own message)."""
        deadline, unit, scan = self.deadline, self.unit, self.queue.scan
        notice = Notice(
            step=step,
            deadline=deadline,
            unit=unit.name if unit is not None else "",
            due=local_time(deadline.due_at, scan.tz),
            overdue_days=overdue_working_days(deadline.due_at, scan.now, scan.calendar, scan.tz),
            guessed=deadline_is_guessed(
                deadline.since or scan.now, deadline.due_at, scan.calendar, scan.tz
            ),
        )
        key = step_key(
            deadline.family, deadline.what, deadline.subject, step, deadline.due_at, scan.tz
        )
        if deadline.department_id is not None:
            summarised = self.source.summarised
            for person in await self.people.of(
                step.rung, deadline.department_id, summarised=summarised
            ):
                text = self.source.text(notice, gettext_for(person.language))
                await self.queue.to_chat(key, person, text, rows)
        if unit is not None and unit.id is not None and unit.wecom_url:
            text = self.source.text(notice, gettext_for(scan.default_language))
            await self.queue.to_unit_robot(key, unit.id, text, rows)
        if deadline.department_id is not None and step.rung is not Rung.supervise:
            return
        if self.source.summarised:
            return  # the office reads the daily summary
        if deadline.group and unit is not None and groups is not None:
            day = local_date(deadline.due_at, scan.tz).isoformat()
            group_key = f"{step.rung.value}:{deadline.group}:{step.offset:+d}:{day}"
            groups.setdefault(group_key, []).append((notice, key))
        else:
            await self.queue.to_office(key, _one_text(self.source, notice), rows)


TURN_SECONDS = 0.005
"""How long the scan works before it commits and gives the event loop a turn. Its statements
run inline (microseconds each, where a trip to a worker thread costs milliseconds under load),
so this bounds how long it holds the loop, and the write lock people filing reports wait for.
A person's step waits behind one such stretch at each of its own awaits, so the stretch is
multiplied: at 20 ms the people's p99 while the scan ran was 247 ms, at 5 ms 44 ms
(bench/scale.py --backlog 0, first 10 s of the busy phase)."""


async def scan_deadlines(
    session: AsyncSession, sources: Sequence[DeadlineSource], scan: ScanContext
) -> int:
    """Queue every due rung of every open deadline; returns how many rows were new.

    In turns: after every `TURN_SECONDS` of work the rows so far are committed (each is keyed, so a
    scan cut short is finished by the next) and the loop gets a turn, so a long scan neither
    holds the write lock nor keeps anybody waiting for long. Reading a source's deadlines, one
    statement over thousands of rows, runs on the connection's thread."""
    units = {
        d.id: d
        for d in (await session.exec(select(Department).where(col(Department.active)))).all()
    }
    queue = _Queue(
        session, scan, await admin_recipients(session, scan.admin_ids, scan.default_language)
    )
    people = _UnitPeople(session)
    for source in sources:
        grouping = source if isinstance(source, GroupedSource) else None
        groups: dict[str, list[tuple[Notice, str]]] = {}
        with off_the_loop():
            deadlines = await source.open_deadlines(session, scan.now)
        loop = asyncio.get_running_loop()
        turn_began = loop.time()
        for deadline in deadlines:
            if loop.time() - turn_began > TURN_SECONDS:
                await session.commit()
                await let_others_run()
                turn_began = loop.time()
            rungs = due_rungs(
                deadline.due_at, deadline.since, scan.now, scan.ladder, scan.calendar, scan.tz
            )
            if rungs.send is None:
                continue
            unit = units.get(deadline.department_id) if deadline.department_id else None
            step_of = _StepQueue(queue, people, source, deadline, unit)
            for step in rungs.passed_over:
                await step_of.add(step, _Rows(skipped=SkipReason.passed_over), None)
            expires = reminder_expires_at(rungs.send, deadline.due_at)
            await step_of.add(
                rungs.send, _Rows(expires_at=expires), groups if grouping is not None else None
            )
        if grouping is not None:
            await _queue_groups(queue, grouping, groups)
    return queue.added
