"""`db.cases.metrics`: every figure of a hand-made month equals the hand-computed value.

The reports go through the real path (`submit_draft`, `open_case`, `apply_command`) with a
controlled clock, on SQLite and PostgreSQL, because the figures are only as right as the columns
and events the case handling actually writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import WorkCalendar, add_working_days
from db.cases import metrics
from db.cases.handling import apply_command, open_case
from db.cases.metrics import (
    DepartmentMetrics,
    department_metrics,
    overdue_numbers,
    overdue_numbers_by_department,
    sign_due_expr,
    sign_due_pieces,
)
from db.cases.metrics import total as city_total
from db.cases.rules import (
    Actor,
    Applied,
    Command,
    Limits,
    Rate,
    Rating,
    Reply,
    RequestInfo,
    Return,
    Sign,
)
from db.engine import session_factory
from db.models import Account, Department, DepartmentKind
from tests.factories import file_report

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar({})
LIMITS = Limits()
HOUR = timedelta(hours=1)

START = datetime(2026, 2, 28, 16, tzinfo=UTC)
"""March 2026 in Shanghai, as the caller converts it: [03-01 00:00, 04-01 00:00) local."""
END = datetime(2026, 3, 31, 16, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 2, tzinfo=UTC)
"""When the digest runs: 10:00 on Wednesday 1 April in Shanghai."""

MON = datetime(2026, 3, 16, 2, 30, tzinfo=UTC)
"""Monday 16 March, 10:30 local: the sign due is the end of Tuesday 17 March."""
JAN = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
"""Long before the period: its reply dues have passed by `NOW`."""


@dataclass(frozen=True)
class World:
    departments: tuple[int, int, int, int]
    liaison: Actor
    reporter: Actor
    reporter_account_id: int


async def _world(session: AsyncSession) -> World:
    departments = [
        Department(code=f"M{i}", name=f"部门{i}", kind=DepartmentKind.department) for i in range(4)
    ]
    liaison = Account(telegram_id=8001)
    reporter = Account(telegram_id=8002)
    session.add_all([*departments, liaison, reporter])
    await session.flush()
    ids = [d.id for d in departments if d.id is not None]
    assert len(ids) == 4 and reporter.id is not None
    return World(
        departments=(ids[0], ids[1], ids[2], ids[3]),
        liaison=Actor(account_id=liaison.id, liaison_of=frozenset(ids)),
        reporter=Actor(account_id=reporter.id, is_reporter=True),
        reporter_account_id=reporter.id,
    )


async def _report(
    session: AsyncSession, world: World, department_id: int | None, at: datetime
) -> tuple[int, str]:
    """A report filed at `at` and, with a department, auto-assigned to it at once."""
    report = await file_report(session, world.reporter_account_id, at, department_id)
    await open_case(session, report, at, CALENDAR, LIMITS, TZ, auto_assign=True)
    assert report.id is not None
    return report.id, report.number


async def _steps(
    session: AsyncSession, report_id: int, steps: list[tuple[Command, Actor, datetime]]
) -> None:
    for command, actor, at in steps:
        outcome = await apply_command(session, report_id, command, actor, at, CALENDAR, LIMITS, TZ)
        assert isinstance(outcome, Applied), (command, outcome)


async def _month(session: AsyncSession, world: World) -> dict[str, str]:
    """The hand-made month; returns the numbers of the reports the test names."""
    a, b, c, _ = world.departments
    li, rep = world.liaison, world.reporter
    numbers: dict[str, str] = {}

    async def report(name: str, department_id: int | None, at: datetime) -> int:
        report_id, numbers[name] = await _report(session, world, department_id, at)
        return report_id

    # Department A.
    r1 = await report("r1", a, MON)  # signed on time, answered, 满意.
    await _steps(
        session,
        r1,
        [
            (Sign(), li, MON + HOUR),
            (Reply("已整改"), li, MON + 2 * HOUR),
            (Rate(Rating.satisfied), rep, MON + 3 * HOUR),
        ],
    )
    r2 = await report("r2", a, MON)  # signed late (Wednesday), 不满意 → 重办 → 基本满意.
    wed = MON + timedelta(days=2)
    await _steps(
        session,
        r2,
        [
            (Sign(), li, wed),
            (Reply("已整改"), li, wed + HOUR),
            (Rate(Rating.unsatisfied), rep, wed + 2 * HOUR),
            (Reply("已再次整改"), li, wed + 3 * HOUR),
            (Rate(Rating.basically_satisfied), rep, wed + 4 * HOUR),
        ],
    )
    r3 = await report("r3", a, MON)  # returned unsigned: the office's, not overdue for A.
    await _steps(session, r3, [(Return("不属于本单位职责"), li, MON + HOUR)])
    await report("r4", a, MON)  # never signed: overdue since the end of 17 March.

    # Department B.
    r5 = await report("r5", b, MON)  # signed on time, reply due in April: not overdue.
    await _steps(session, r5, [(Sign(), li, MON + HOUR)])
    r6 = await report("r6", b, MON)  # signed on time, 不满意 twice → escalated.
    await _steps(
        session,
        r6,
        [
            (Sign(), li, MON + HOUR),
            (Reply("已整改"), li, MON + 2 * HOUR),
            (Rate(Rating.unsatisfied), rep, MON + 3 * HOUR),
            (Reply("已再次整改"), li, MON + 4 * HOUR),
            (Rate(Rating.unsatisfied), rep, MON + 5 * HOUR),
        ],
    )
    r7 = await report("r7", b, JAN)  # January: not received in March, overdue reply.
    await _steps(session, r7, [(Sign(), li, JAN + HOUR)])

    # Department C.
    r8 = await report("r8", c, JAN)  # January, waiting for the reporter: still C's overdue.
    await _steps(
        session, r8, [(Sign(), li, JAN + HOUR), (RequestInfo("哪一天？"), li, JAN + 2 * HOUR)]
    )
    mar2 = datetime(2026, 3, 2, 2, tzinfo=UTC)
    r9 = await report("r9", c, mar2)  # answered, never rated: the rating due is not C's.
    await _steps(session, r9, [(Sign(), li, mar2 + HOUR), (Reply("已答复"), li, mar2 + 2 * HOUR)])
    # January, signed at once, answered on 20 March: long after its reply due, so late.
    # The report's due is then the rating due (not C's), so it is not overdue either.
    r13 = await report("r13", c, JAN)
    mar20 = datetime(2026, 3, 20, 2, tzinfo=UTC)
    await _steps(session, r13, [(Sign(), li, JAN + HOUR), (Reply("迟复"), li, mar20)])
    # 23:30 on 31 March local: inside the period; 00:30 on 1 April local: outside it.
    await report("r10", c, datetime(2026, 3, 31, 15, 30, tzinfo=UTC))
    await report("r11", c, datetime(2026, 3, 31, 16, 30, tzinfo=UTC))

    await report("r12", None, MON)  # with the office: no department's figure.
    await session.commit()
    return numbers


async def _metrics(session: AsyncSession) -> list[DepartmentMetrics]:
    return await department_metrics(session, START, END, NOW, calendar=CALENDAR, tz=TZ)


async def test_figures_equal_the_hand_computed_month(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        numbers = await _month(session, world)
        a, b, c, d = world.departments

        rows = {m.department_id: m for m in await _metrics(session)}
        assert rows == {
            a: DepartmentMetrics(
                a,
                received=4,
                signed=2,
                signed_on_time=1,
                sign_decided=4,  # r3 and r4 were never signed and their due has passed.
                answered=3,
                answered_on_time=3,
                returned=1,
                reopened=1,
                satisfied=2,
                ratings=3,
                open_now=1,
                overdue_now=1,
            ),
            b: DepartmentMetrics(
                b,
                received=2,
                signed=2,
                signed_on_time=2,
                sign_decided=2,
                answered=2,
                answered_on_time=2,
                reopened=1,
                satisfied=0,
                ratings=2,
                open_now=2,  # r5 (reply due in April) and r7.
                overdue_now=1,
            ),
            # r9 answered on time, r13 late.
            c: DepartmentMetrics(
                c,
                received=2,
                signed=1,
                signed_on_time=1,
                sign_decided=1,  # r10 still has until 2 April to be signed: not late yet.
                answered=2,
                answered_on_time=1,
                open_now=3,  # r8, and r10 and r11 waiting to be signed.
                overdue_now=1,
            ),
            d: DepartmentMetrics(d),
        }
        assert rows[a].signed_on_time_rate == 0.25
        assert rows[c].signed_on_time_rate == 1.0, "r10 is neither on time nor late yet"
        assert rows[a].returned_rate == 0.25
        assert rows[a].reopened_rate == 1 / 3
        assert rows[a].satisfaction_rate == 2 / 3
        assert rows[b].satisfaction_rate == 0.0
        assert rows[c].satisfaction_rate is None
        assert rows[a].answered_on_time_rate == 1.0
        assert rows[c].answered_on_time_rate == 0.5
        assert rows[d].answered_on_time_rate is None
        assert rows[d].signed_on_time_rate is None
        assert rows[b].overdue_rate == 0.5
        assert rows[c].overdue_rate == 1 / 3
        assert rows[d].overdue_rate is None

        total = city_total(
            await department_metrics(session, START, END, NOW, calendar=CALENDAR, tz=TZ)
        )
        assert total == DepartmentMetrics(
            None,
            received=8,
            signed=5,
            signed_on_time=4,
            sign_decided=7,
            answered=7,
            answered_on_time=6,
            returned=1,
            reopened=2,
            satisfied=2,
            ratings=5,
            open_now=6,
            overdue_now=3,
        )

        assert await overdue_numbers(session, a, NOW) == [numbers["r4"]]
        assert await overdue_numbers(session, b, NOW) == [numbers["r7"]]
        assert await overdue_numbers(session, c, NOW) == [numbers["r8"]]
        assert await overdue_numbers(session, d, NOW) == []
        assert await overdue_numbers_by_department(session, NOW) == {
            a: [numbers["r4"]],
            b: [numbers["r7"]],
            c: [numbers["r8"]],
        }
        # Before r4's sign due (end of 17 March local) nothing of A is overdue.
        assert await overdue_numbers(session, a, datetime(2026, 3, 17, 15, tzinfo=UTC)) == []


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_statement_count_does_not_grow_with_reports(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        await _month(session, world)

        async def run() -> int:
            with _statements(any_engine) as seen:
                await _metrics(session)
                city_total(
                    await department_metrics(session, START, END, NOW, calendar=CALENDAR, tz=TZ)
                )
                await overdue_numbers(session, world.departments[0], NOW)
            return len(seen)

        before = await run()
        for _ in range(10):
            report_id, _number = await _report(session, world, world.departments[0], MON)
            await _steps(session, report_id, [(Sign(), world.liaison, MON + HOUR)])
        await session.commit()
        after = await run()

    assert before == after == 1 + 1 + 1


async def test_overdue_numbers_by_department_keeps_the_most_overdue_first(
    any_engine: AsyncEngine,
) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        a, b = world.departments[0], world.departments[1]
        # Never signed: each is overdue from the end of its sign day, the earliest most overdue.
        days = [datetime(2026, 3, day, 2, tzinfo=UTC) for day in (10, 2, 5)]
        filed = {day: (await _report(session, world, a, day))[1] for day in days}
        await _report(session, world, b, days[0])
        await session.commit()

        by_department = await overdue_numbers_by_department(session, NOW, limit=2)
        assert by_department[a] == [filed[days[1]], filed[days[2]]]
        assert len(by_department[b]) == 1
        assert by_department[a] == await overdue_numbers(session, a, NOW, limit=2)


async def test_an_inactive_department_is_listed_only_with_activity(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        await _month(session, world)
        a, _b, _c, d = world.departments
        for department_id in (a, d):
            department = await session.get(Department, department_id)
            assert department is not None
            department.active = False
        await session.commit()

        rows = {m.department_id: m for m in await _metrics(session)}
        assert a in rows and rows[a].received == 4  # closed since, but its month still counts
        assert d not in rows


def test_sign_due_pieces_cover_the_month_with_each_day_s_due() -> None:
    """The stretches `department_metrics` counts on time against: contiguous, exactly the
    period, and a report assigned at any time of a local day falls in the stretch whose due is
    that day's sign due, across a weekend, a holiday and a make-up working day."""
    calendar = WorkCalendar(
        {date(2026, 3, 9): False, date(2026, 3, 10): False, date(2026, 3, 14): True}
    )
    pieces = sign_due_pieces(START, END, calendar, TZ, 1)
    assert pieces[0][0] == START and pieces[-1][1] == END
    assert all(one[1] == two[0] for one, two in pairwise(pieces))
    assert all(one[2] != two[2] for one, two in pairwise(pieces))
    assert len(pieces) < 31  # the weekends share their Friday's due
    day = date(2026, 3, 1)
    while day < date(2026, 4, 1):
        due = add_working_days(datetime.combine(day, time(12), tzinfo=TZ), 1, calendar, TZ)
        for moment in (time(0), time(12), time(23, 59, 59, 999999)):
            assigned = datetime.combine(day, moment, tzinfo=TZ)
            [piece] = [p for p in pieces if p[0] <= assigned < p[1]]
            assert piece[2] == due, (assigned, piece)
        day += timedelta(days=1)


async def test_both_statement_shapes_give_the_same_rows(any_engine: AsyncEngine) -> None:
    """SQLite runs the per-department seeks and PostgreSQL the grouped shape; each database
    runs both here, so neither can drift from the other unnoticed."""
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        await _month(session, world)
        pieces = sign_due_pieces(START, END, CALENDAR, TZ, LIMITS.sign_days)
        seeks = await session.exec(  # type: ignore[call-overload]
            metrics._metrics_statement(len(pieces)),
            params=metrics._metrics_parameters(START, END, NOW, pieces),
        )
        sign_due = sign_due_expr(START, END, CALENDAR, TZ, LIMITS.sign_days)
        grouped = await session.exec(  # type: ignore[call-overload]
            metrics._grouped_metrics_statement(START, END, NOW, sign_due)
        )
        by_seeks = [tuple(int(value) for value in row) for row in seeks.all()]
        assert by_seeks == [tuple(int(value) for value in row) for row in grouped.all()]
        assert any(sum(row[2:]) for row in by_seeks)
