"""`db.cases.handling`: a case stored on its report, commands applied with a compare-and-set,
migrations.

The concurrency and migration tests use `any_engine`, so they run on PostgreSQL as well: the
"exactly one 签收 wins" promise depends on how each backend handles two racing UPDATEs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command as alembic_command
from sqlalchemy import Connection, func, insert, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import WorkCalendar, end_of_day, local_date
from db.cases.handling import (
    CONSULTATION_REPLY_DAYS,
    ConfiguredLimits,
    apply_command,
    apply_for,
    case_of,
    limits_for,
    open_case,
    store_applied,
    write_case,
)
from db.cases.rules import (
    Accept,
    Actor,
    AnswerInfo,
    Applied,
    Case,
    Command,
    DecideExtension,
    DueKind,
    Limits,
    Merge,
    Owner,
    Rate,
    Rating,
    RefusalReason,
    Refused,
    Reject,
    Reply,
    RequestExtension,
    RequestInfo,
    Return,
    Sign,
    apply,
    new_case,
)
from db.engine import session_factory
from db.migrate import alembic_config, upgrade_engine
from db.models import (
    Account,
    AuditEvent,
    Category,
    CategoryKind,
    Department,
    DepartmentKind,
    EventKind,
    IdentityMode,
    Report,
    ReportEvent,
    ReportState,
)
from tests.conftest import NOW
from tests.factories import file_report

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar({})
LIMITS = Limits()
HOUR = timedelta(hours=1)

ADMIN_ACCOUNT_TELEGRAM = 7001
LIAISON_ACCOUNTS_TELEGRAM = (7002, 7003)
REPORTER_TELEGRAM = 7004


@dataclass(frozen=True)
class World:
    """Ids of the rows a test needs; plain ints so they cross sessions safely."""

    department_id: int
    other_department_id: int
    admin: Actor
    liaisons: tuple[Actor, Actor]
    reporter: Actor
    reporter_account_id: int


async def _world(session: AsyncSession) -> World:
    departments = [
        Department(code="D101", name="市市场监管局", kind=DepartmentKind.department),
        Department(code="D102", name="市住建局", kind=DepartmentKind.department),
    ]
    admin = Account(telegram_id=ADMIN_ACCOUNT_TELEGRAM)
    liaisons = [Account(telegram_id=t) for t in LIAISON_ACCOUNTS_TELEGRAM]
    reporter = Account(telegram_id=REPORTER_TELEGRAM)
    session.add_all([*departments, admin, *liaisons, reporter])
    await session.flush()
    department_id, other_id = (d.id for d in departments)
    assert department_id is not None and other_id is not None
    scope = frozenset({department_id})
    return World(
        department_id=department_id,
        other_department_id=other_id,
        admin=Actor(account_id=admin.id, is_admin=True),
        liaisons=(
            Actor(account_id=liaisons[0].id, liaison_of=scope),
            Actor(account_id=liaisons[1].id, liaison_of=scope),
        ),
        reporter=Actor(account_id=reporter.id, is_reporter=True),
        reporter_account_id=_id(reporter.id),
    )


def _id(value: int | None) -> int:
    assert value is not None
    return value


async def _report(
    session: AsyncSession, world: World, *, department_id: int | None = None
) -> Report:
    return await file_report(session, world.reporter_account_id, NOW, department_id)


async def _opened_report(session: AsyncSession, world: World) -> int:
    """A report already with the department (auto-assigned), committed; returns its id."""
    report = await _report(session, world, department_id=world.department_id)
    await open_case(session, report, NOW, CALENDAR, LIMITS, TZ, auto_assign=True)
    await session.commit()
    return _id(report.id)


def _run(case: Case, steps: list[tuple[Command, Actor]], start: datetime) -> list[Case]:
    """Every case along a command sequence, one hour apart; each step must be applied."""
    cases = [case]
    now = start
    for command, actor in steps:
        now += HOUR
        outcome = apply(cases[-1], command, actor, now, CALENDAR, LIMITS, TZ)
        assert isinstance(outcome, Applied), (command, outcome)
        cases.append(outcome.case)
    return cases


def _sequences(world: World) -> list[list[Case]]:
    admin, liaison, reporter = world.admin, world.liaisons[0], world.reporter
    start = new_case(NOW, CALENDAR, LIMITS, TZ)
    handled = _run(
        start,
        [
            (Accept(world.department_id), admin),
            (Sign(), liaison),
            (RequestExtension(3, "需要现场核查"), liaison),
            (DecideExtension(approve=True), admin),
            (RequestInfo("具体是哪一天？"), liaison),
            (AnswerInfo("三月十日上午"), reporter),
            (Reply("已责令整改"), liaison),
            (Rate(Rating.unsatisfied, "没有解决"), reporter),
            (Reply("已再次核查并整改"), liaison),
            (Rate(Rating.unsatisfied), reporter),
        ],
        NOW,
    )
    returned = _run(
        start,
        [
            (Accept(world.department_id), admin),
            (Return("不属于本单位职责"), liaison),
            (Merge(into_report_id=42), admin),
        ],
        NOW,
    )
    conflict = new_case(NOW, CALENDAR, LIMITS, TZ, conflict_department_id=world.department_id)
    rejected = _run(conflict, [(Reject("不属于作风问题"), admin)], NOW)
    pending = _run(
        start,
        [
            (Accept(world.department_id), admin),
            (Sign(), liaison),
            (RequestExtension(5, "涉及多个部门"), liaison),
        ],
        NOW,
    )
    return [handled, returned, rejected, pending]


def _world_in_memory() -> World:
    scope = frozenset({11})
    return World(
        department_id=11,
        other_department_id=12,
        admin=Actor(account_id=1, is_admin=True),
        liaisons=(Actor(account_id=2, liaison_of=scope), Actor(account_id=3, liaison_of=scope)),
        reporter=Actor(account_id=4, is_reporter=True),
        reporter_account_id=4,
    )


def test_case_round_trips_through_a_report_in_memory() -> None:
    cases = [case for sequence in _sequences(_world_in_memory()) for case in sequence]
    # The sequences cover every optional field, so a column the mapping forgot would show here.
    assert any(c.extension_pending is not None for c in cases)
    assert any(c.merged_into is not None for c in cases)
    assert any(c.conflict_department_id is not None for c in cases)
    assert any(c.owner is None for c in cases)
    assert any(c.rating is Rating.unsatisfied and c.reopen_count == 1 for c in cases)
    for case in cases:
        report = Report()
        write_case(report, case)
        assert case_of(report) == case
        # Writing over another case leaves nothing of the old one behind.
        write_case(report, cases[-1])
        write_case(report, case)
        assert case_of(report) == case


async def test_case_round_trips_through_the_database(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        world = await _world(session)
        anchor = await _report(session, world)
        stored: list[tuple[int, Case]] = []
        for case in (case for sequence in _sequences(world) for case in sequence):
            report = await _report(session, world)
            # A merge target must exist (foreign key): point it at the anchor report.
            if case.merged_into is not None:
                case = replace(case, merged_into=_id(anchor.id))
            write_case(report, case)
            stored.append((_id(report.id), case))
        await session.commit()
    async with sessions() as session:
        for report_id, case in stored:
            report = await session.get(Report, report_id)
            assert report is not None
            assert case_of(report) == case


def test_limits_for_category_kind() -> None:
    complaint = Category(code="C", name_zh="投诉", name_en="c", kind=CategoryKind.complaint)
    consultation = Category(code="Q", name_zh="咨询", name_en="q", kind=CategoryKind.consultation)
    base = Limits(reply_days=15, sign_days=2)
    assert limits_for(complaint, base) == base
    assert limits_for(consultation, base) == replace(base, reply_days=CONSULTATION_REPLY_DAYS)
    assert limits_for(consultation, base, consultation_reply_days=3).reply_days == 3


def test_limits_for_category_days_override_the_defaults() -> None:
    """An admin's days on the category beat the configured ones, for either kind."""
    base = Limits(reply_days=15, sign_days=2)
    own = Category(code="C", name_zh="投诉", name_en="c", sign_days=1, reply_days=10)
    assert limits_for(own, base) == replace(base, sign_days=1, reply_days=10)
    consultation = Category(
        code="Q", name_zh="咨询", name_en="q", kind=CategoryKind.consultation, reply_days=8
    )
    assert limits_for(consultation, base) == replace(base, reply_days=8)
    only_sign = Category(code="S", name_zh="签", name_en="s", sign_days=3)
    assert limits_for(only_sign, base) == replace(base, sign_days=3)


async def test_open_case_with_auto_assign_goes_to_the_department(session: AsyncSession) -> None:
    world = await _world(session)
    report = await _report(session, world, department_id=world.department_id)
    await open_case(session, report, NOW, CALENDAR, LIMITS, TZ, auto_assign=True)
    await session.commit()

    case = case_of(report)
    assert case.state is ReportState.assigned
    assert case.owner == Owner.department(world.department_id)
    assert case.department_id == world.department_id
    assert case.due_kind is DueKind.sign
    assert case.due_at is not None
    due_day = local_date(case.due_at, TZ)
    assert CALENDAR.is_working_day(due_day)
    assert case.due_at == end_of_day(due_day, TZ)
    assert due_day > local_date(NOW, TZ)
    events = (
        await session.exec(select(ReportEvent).where(ReportEvent.report_id == report.id))
    ).all()
    assert [(e.kind, e.actor_role, e.public) for e in events] == [
        (EventKind.created, "reporter", True),
        (EventKind.accepted, "system", True),
    ]


async def test_open_case_without_auto_assign_or_with_conflict_stays_with_office(
    session: AsyncSession,
) -> None:
    world = await _world(session)
    plain = await _report(session, world, department_id=world.department_id)
    await open_case(session, plain, NOW, CALENDAR, LIMITS, TZ, auto_assign=False)
    marked = await _report(session, world, department_id=world.department_id)
    await open_case(
        session,
        marked,
        NOW,
        CALENDAR,
        LIMITS,
        TZ,
        auto_assign=True,
        conflict_department_id=world.other_department_id,
    )
    await session.commit()
    for report in (plain, marked):
        case = case_of(report)
        assert case.state is ReportState.received
        assert case.owner == Owner.admins()
        assert case.due_kind is DueKind.triage
    assert case_of(marked).conflict_department_id == world.other_department_id
    accepted = await session.exec(
        select(func.count()).select_from(ReportEvent).where(ReportEvent.kind == EventKind.accepted)
    )
    assert accepted.one() == 0


async def test_apply_command_writes_case_and_event(session: AsyncSession) -> None:
    world = await _world(session)
    report_id = await _opened_report(session, world)
    liaison = world.liaisons[0]
    later = NOW + HOUR
    opened = await session.get(Report, report_id)
    assert opened is not None and opened.due_kind == DueKind.sign
    sign_due = opened.due_at
    assert sign_due is not None

    outcome = await apply_command(session, report_id, Sign(), liaison, later, CALENDAR, LIMITS, TZ)
    assert isinstance(outcome, Applied)
    outcome = await apply_command(
        session,
        report_id,
        RequestExtension(3, "需要现场核查"),
        liaison,
        later + HOUR,
        CALENDAR,
        LIMITS,
        TZ,
    )
    assert isinstance(outcome, Applied)
    await session.commit()

    report = await session.get(Report, report_id)
    assert report is not None
    assert case_of(report) == outcome.case
    assert report.version == 2
    assert report.signed_at == later
    assert report.updated_at == later + HOUR
    events = (
        await session.exec(
            select(ReportEvent)
            .where(ReportEvent.report_id == report_id)
            .order_by(col(ReportEvent.id))
        )
    ).all()
    signed, requested = events[-2:]
    assert (signed.kind, signed.public, signed.actor_account_id, signed.actor_role) == (
        EventKind.signed,
        True,
        liaison.account_id,
        "liaison",
    )
    assert signed.created_at == later
    # The signed event carries the sign due it was measured against.
    assert signed.due_at == sign_due
    # The department's extension request is internal: the reporter does not see it.
    assert (requested.kind, requested.public, requested.body, requested.due_at) == (
        EventKind.extension_requested,
        False,
        "需要现场核查",
        None,
    )


async def test_replied_event_carries_the_reply_due_in_force(session: AsyncSession) -> None:
    world = await _world(session)
    report_id = await _opened_report(session, world)
    liaison = world.liaisons[0]
    signed = await apply_command(
        session, report_id, Sign(), liaison, NOW + HOUR, CALENDAR, LIMITS, TZ
    )
    assert isinstance(signed, Applied) and signed.case.due_kind is DueKind.reply
    reply_due = signed.case.due_at
    replied = await apply_command(
        session, report_id, Reply("已整改"), liaison, NOW + 2 * HOUR, CALENDAR, LIMITS, TZ
    )
    assert isinstance(replied, Applied)
    # After the reply the report's due is the reporter's rating due; the event keeps the reply due.
    assert replied.case.due_kind is DueKind.rating and replied.case.due_at != reply_due
    rated = await apply_command(
        session,
        report_id,
        Rate(Rating.satisfied),
        world.reporter,
        NOW + 3 * HOUR,
        CALENDAR,
        LIMITS,
        TZ,
    )
    assert isinstance(rated, Applied)
    await session.commit()
    events = (
        await session.exec(
            select(ReportEvent)
            .where(ReportEvent.report_id == report_id)
            .order_by(col(ReportEvent.id))
        )
    ).all()
    dues = {event.kind: event.due_at for event in events}
    assert dues[EventKind.replied] == reply_due
    # Only signed and replied are measured against a due time.
    assert dues[EventKind.rated] is None
    assert all(
        event.due_at is None
        for event in events
        if event.kind not in {EventKind.signed, EventKind.replied}
    )


async def test_rating_comment_is_stored(session: AsyncSession) -> None:
    world = await _world(session)
    report_id = await _opened_report(session, world)
    liaison = world.liaisons[0]
    steps: list[tuple[Command, Actor]] = [
        (Sign(), liaison),
        (Reply("已整改"), liaison),
        (Rate(Rating.basically_satisfied, " 还可以 "), world.reporter),
    ]
    now = NOW
    for command, actor in steps:
        now += HOUR
        outcome = await apply_command(session, report_id, command, actor, now, CALENDAR, LIMITS, TZ)
        assert isinstance(outcome, Applied)
    await session.commit()
    report = await session.get(Report, report_id)
    assert report is not None
    assert (report.state, report.rating, report.rating_comment) == (
        ReportState.closed,
        "basically_satisfied",
        "还可以",
    )


async def test_refused_command_writes_nothing(session: AsyncSession) -> None:
    world = await _world(session)
    report_id = await _opened_report(session, world)
    before = await session.get(Report, report_id)
    assert before is not None
    case_before, version_before = case_of(before), before.version
    count = select(func.count()).select_from(ReportEvent)
    events_before = (await session.exec(count)).one()

    outsider = Actor(account_id=world.liaisons[0].account_id, liaison_of=frozenset({999}))
    cases: list[tuple[Command, Actor, RefusalReason]] = [
        (Sign(), outsider, RefusalReason.not_allowed),
        (Reply("好了"), world.liaisons[0], RefusalReason.wrong_state),
        (Return("   "), world.liaisons[0], RefusalReason.bad_value),
    ]
    for command, actor, reason in cases:
        outcome = await apply_command(
            session, report_id, command, actor, NOW + HOUR, CALENDAR, LIMITS, TZ
        )
        assert outcome == Refused(reason)
    missing = await apply_command(
        session, 10_000, Sign(), world.liaisons[0], NOW, CALENDAR, LIMITS, TZ
    )
    assert missing == Refused(RefusalReason.wrong_state)
    await session.commit()

    after = await session.get(Report, report_id)
    assert after is not None
    assert case_of(after) == case_before
    assert after.version == version_before
    assert (await session.exec(count)).one() == events_before


async def test_stale_version_loses_the_compare_and_set(session: AsyncSession) -> None:
    world = await _world(session)
    report_id = await _opened_report(session, world)
    report = await session.get(Report, report_id)
    assert report is not None
    seen = report.version
    outcome = apply(case_of(report), Sign(), world.liaisons[0], NOW, CALENDAR, LIMITS, TZ)
    assert isinstance(outcome, Applied)
    before = case_of(report)
    li0, li1 = world.liaisons[0], world.liaisons[1]
    assert not await store_applied(session, report_id, seen + 1, outcome, li0, NOW, before=before)
    assert await store_applied(session, report_id, seen, outcome, li0, NOW, before=before)
    # The same read applied again (a second liaison holding the old version) loses.
    assert not await store_applied(session, report_id, seen, outcome, li1, NOW, before=before)
    await session.commit()
    signed = await session.exec(
        select(func.count()).select_from(ReportEvent).where(ReportEvent.kind == EventKind.signed)
    )
    assert signed.one() == 1


async def test_two_liaisons_sign_at_once_exactly_one_wins(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        world = await _world(session)
        report_id = await _opened_report(session, world)

    async def sign(actor: Actor) -> Applied | Refused:
        async with sessions() as session:
            outcome = await apply_command(
                session, report_id, Sign(), actor, NOW + HOUR, CALENDAR, LIMITS, TZ
            )
            await session.commit()
            return outcome

    outcomes = await asyncio.gather(*(sign(actor) for actor in world.liaisons))
    assert sorted(type(o).__name__ for o in outcomes) == ["Applied", "Refused"]
    assert Refused(RefusalReason.wrong_state) in outcomes
    winner = next(o for o in outcomes if isinstance(o, Applied))

    async with sessions() as session:
        events = (
            await session.exec(
                select(ReportEvent).where(
                    ReportEvent.report_id == report_id, ReportEvent.kind == EventKind.signed
                )
            )
        ).all()
        assert len(events) == 1
        report = await session.get(Report, report_id)
        assert report is not None
        assert case_of(report) == winner.case
        assert report.version == 1
        assert events[0].actor_account_id in {a.account_id for a in world.liaisons}


async def test_migration_0004_downgrades_and_upgrades(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        world = await _world(session)
        report_id = await _opened_report(session, world)

    async def columns(table: str = "report") -> set[str]:
        async with any_engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns(table)}
            )

    def downgrade(connection: Connection) -> None:
        config = alembic_config(str(any_engine.url))
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0003")

    async with any_engine.begin() as connection:
        await connection.run_sync(downgrade)
    remaining = await columns()
    assert "version" not in remaining and "handling_department_id" not in remaining
    assert "department_id" in remaining
    assert "due_at" not in await columns("report_event")
    await upgrade_engine(any_engine)
    assert {"version", "due_at", "merged_into_id", "rating_comment"} <= await columns()
    assert "due_at" in await columns("report_event")

    async with sessions() as session:
        report = await session.get(Report, report_id)
        assert report is not None
        # The row filed before survives; its case columns came back with their defaults.
        assert (report.version, report.extension_used, report.reopen_count) == (0, False, 0)
        assert report.owner_kind is None
        # And the foreign keys are back: a merge target that does not exist is rejected.
        with pytest.raises(IntegrityError):
            await session.exec(
                insert(Report).values(  # type: ignore[call-overload]
                    number="ZF2026-999999",
                    year=2026,
                    seq=999_999,
                    category_id=report.category_id,
                    description="x",
                    identity_mode=IdentityMode.real_name,
                    language="zh_CN",
                    state=ReportState.received,
                    created_at=NOW,
                    updated_at=NOW,
                    merged_into_id=123_456,
                )
            )
        await session.rollback()


async def test_migration_0005_downgrades_and_upgrades(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        world = await _world(session)
        report_id = await _opened_report(session, world)
        signed = await apply_command(
            session, report_id, Sign(), world.liaisons[0], NOW + HOUR, CALENDAR, LIMITS, TZ
        )
        assert isinstance(signed, Applied)
        await session.commit()

    async def event_columns() -> set[str]:
        async with any_engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("report_event")}
            )

    def downgrade(connection: Connection) -> None:
        config = alembic_config(str(any_engine.url))
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0004")

    async with any_engine.begin() as connection:
        await connection.run_sync(downgrade)
    assert "due_at" not in await event_columns()
    await upgrade_engine(any_engine)
    assert "due_at" in await event_columns()

    async with sessions() as session:
        events = (
            await session.exec(select(ReportEvent).where(ReportEvent.report_id == report_id))
        ).all()
        # The events recorded before survive; the due they carried is gone with the column.
        kinds = {event.kind for event in events}
        assert EventKind.signed in kinds
        assert all(event.due_at is None for event in events)


async def test_an_admins_decision_is_audited_and_a_liaisons_step_is_not(
    session: AsyncSession,
) -> None:
    admin = Account(telegram_id=7001, language="zh_CN")
    unit = Department(code="D901", name="市测试局", kind=DepartmentKind.department)
    session.add_all([admin, unit])
    await session.flush()
    assert admin.id is not None and unit.id is not None
    report = await file_report(session, admin.id, NOW)
    configured = ConfiguredLimits(Limits())
    await open_case(session, report, NOW, CALENDAR, Limits(), TZ, auto_assign=False)
    accepted = await apply_for(
        session, report, Accept(unit.id), Actor(admin.id, is_admin=True), NOW, configured, TZ
    )
    assert isinstance(accepted, Applied)
    liaison = Actor(admin.id, liaison_of=frozenset({unit.id}))
    signed = await apply_for(session, report, Sign(), liaison, NOW, configured, TZ)
    assert isinstance(signed, Applied)
    trail = (await session.exec(select(AuditEvent))).all()
    assert [(e.action, e.subject) for e in trail] == [("case.accepted", report.number)]
