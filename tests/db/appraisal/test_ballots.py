"""Ballots without Telegram: one per evaluator, unit and round, refusals that change nothing,
concurrent presses, and the frozen figures against hand-computed ones."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.appraisal import ballots
from db.appraisal.ballots import BallotProblem, Rater, cast_ballot, set_comment
from db.appraisal.form import RoundForm, UnitScope
from db.appraisal.groups import evaluator_grant, group_by_word
from db.appraisal.results import unit_result
from db.appraisal.rounds import Refusal, close_round, create_round, turnout
from db.engine import SessionFactory, session_factory
from db.models import (
    Account,
    AppraisalRound,
    Ballot,
    Department,
    DepartmentKind,
    Role,
    RoundResult,
)
from db.people.roles import grant_role, revoke_role
from tests.conftest import NOW

TZ = ZoneInfo("Asia/Shanghai")
FORM = RoundForm(
    title="百家企业评政风",
    period="2026年第1季度",
    quarter="2026-Q1",
    groups=("QY",),
    units=UnitScope.listed,
    unit_codes=("D001", "D002"),
    dimensions=("服务态度", "办事效率"),
    closes_on=date(2026, 3, 20),
)


async def setup(session: AsyncSession) -> tuple[AppraisalRound, list[Account], Department]:
    """A round of QY over D001 and D002; evaluators 1 and 2 in QY, 3 in WS; W001 not rated."""
    units = [
        Department(code="D001", name="市发改委", kind=DepartmentKind.department),
        Department(code="D002", name="市城乡建设委", kind=DepartmentKind.department),
        Department(code="W001", name="政务服务中心", kind=DepartmentKind.window),
    ]
    people = [Account(telegram_id=950 + i) for i in range(3)]
    session.add_all([*units, *people])
    await session.flush()
    qy, ws = await group_by_word(session, "QY"), await group_by_word(session, "WS")
    assert qy is not None and ws is not None
    for person, group in zip(people, (qy, qy, ws), strict=True):
        assert person.id is not None
        await grant_role(session, person.id, Role.evaluator, None, NOW, group_id=group.id)
    made = await create_round(session, FORM, created_by=None, now=NOW, tz=TZ)
    assert isinstance(made, AppraisalRound) and made.id is not None
    await session.commit()
    return made, people, units[2]


async def cast(
    session: AsyncSession, round_: AppraisalRound, unit: str, who: Account, marks: list[int] | None
) -> Ballot | BallotProblem:
    department = (await session.exec(select(Department).where(Department.code == unit))).one()
    assert round_.id is not None and department.id is not None and who.id is not None
    return await cast_ballot(
        session,
        round_id=round_.id,
        department_id=department.id,
        account_id=who.id,
        marks=marks,
        now=NOW,
    )


async def test_a_ballot_is_changed_in_place(session: AsyncSession) -> None:
    round_, (one, _two, _three), _window = await setup(session)
    first = await cast(session, round_, "D001", one, [4, 5])
    assert isinstance(first, Ballot) and json.loads(first.scores or "") == [4, 5]
    assert round_.id is not None and one.id is not None
    commented = await set_comment(
        session,
        round_id=round_.id,
        department_id=first.department_id,
        account_id=one.id,
        comment="办事很快",
        now=NOW,
    )
    assert isinstance(commented, Ballot)
    again = await cast(session, round_, "D001", one, [2, 3])
    assert isinstance(again, Ballot) and again.id == first.id
    assert (json.loads(again.scores or ""), again.comment) == ([2, 3], "办事很快")
    skipped = await cast(session, round_, "D001", one, None)
    assert isinstance(skipped, Ballot) and (skipped.scores, skipped.comment) == (None, None)
    assert len((await session.exec(select(Ballot))).all()) == 1


@pytest.mark.parametrize(
    "marks", [[0, 3], [6, 3], [3], [3, 3, 3], [-1, 5], [5, 10]], ids=lambda m: str(m)
)
async def test_marks_off_the_scale_are_refused(session: AsyncSession, marks: list[int]) -> None:
    round_, (one, _two, _three), _window = await setup(session)
    assert await cast(session, round_, "D001", one, marks) is BallotProblem.bad_marks
    assert (await session.exec(select(Ballot))).all() == []


async def test_who_what_and_when_are_checked(session: AsyncSession) -> None:
    round_, (one, two, other_group), window = await setup(session)
    assert round_.id is not None and two.id is not None
    assert await cast(session, round_, "W001", one, [3, 3]) is BallotProblem.unknown_unit
    assert await cast(session, round_, "D001", other_group, [3, 3]) is BallotProblem.not_invited
    assert (
        await cast_ballot(
            session, round_id=999, department_id=1, account_id=two.id, marks=[3, 3], now=NOW
        )
        is BallotProblem.unknown_round
    )

    # Removed mid-round: the grant ends, the next press is refused.
    assert isinstance(await cast(session, round_, "D001", two, [3, 3]), Ballot)
    grant = (await session.exec(select(Ballot))).one()
    held = await evaluator_grant(session, two.id)
    assert held is not None and held.id is not None
    await revoke_role(session, held.id, NOW)
    assert await cast(session, round_, "D002", two, [3, 3]) is BallotProblem.not_invited
    assert await cast(session, round_, "D001", two, [5, 5]) is BallotProblem.not_invited
    await session.refresh(grant)
    assert json.loads(grant.scores or "") == [3, 3]

    # After the close: by the clock before the job ran, and by the state after it.
    assert one.id is not None
    late = await cast_ballot(
        session,
        round_id=round_.id,
        department_id=grant.department_id,
        account_id=one.id,
        marks=[4, 4],
        now=round_.closes_at,
    )
    assert late is BallotProblem.closed
    await close_round(session, round_, NOW)
    assert await cast(session, round_, "D001", one, [4, 4]) is BallotProblem.closed
    assert len((await session.exec(select(Ballot))).all()) == 1
    assert window.id is not None


async def _committed(
    sessions: SessionFactory,
    round_: AppraisalRound,
    unit: Department,
    who: Account,
    marks: list[int],
) -> Ballot | BallotProblem:
    """One press, in a session of its own, committed."""
    async with sessions() as session:
        result = await cast_ballot(
            session,
            round_id=round_.id or 0,
            department_id=unit.id or 0,
            account_id=who.id or 0,
            marks=marks,
            now=NOW,
        )
        await session.commit()
        return result


async def test_two_presses_at_once_make_one_ballot(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        round_, (one, _two, _three), _window = await setup(session)
        unit = (await session.exec(select(Department).where(Department.code == "D001"))).one()
    assert round_.id is not None and unit.id is not None and one.id is not None

    async def press(marks: list[int]) -> None:
        assert isinstance(await _committed(sessions, round_, unit, one, marks), Ballot)

    for _ in range(5):
        await asyncio.gather(*(press([m, m]) for m in (1, 2, 3, 4, 5)))
    async with sessions() as session:
        ballots = (await session.exec(select(Ballot))).all()
    assert len(ballots) == 1
    assert json.loads(ballots[0].scores or "")[0] in {1, 2, 3, 4, 5}


def test_unit_result_against_hand_computed_figures() -> None:
    # Three ballots on three dimensions, one skip: means (4+5+3)/3 = 4, (2+4+3)/3 = 3,
    # (5+5+4)/3 = 4.6667; their mean 11.6667/3 = 3.8889 of 5 = 77.78 on 100.
    result = unit_result(7, [[4, 2, 5], [5, 4, 5], None, [3, 3, 4]], 3, 5)
    assert (result.ballots, result.skipped) == (3, 1)
    assert result.means == (4.0, 3.0, 4.6667)
    assert result.score == 77.78
    # Only skips: no score, not a zero.
    nobody = unit_result(8, [None, None], 3, 5)
    assert (nobody.ballots, nobody.skipped, nobody.score) == (0, 2, None)
    assert nobody.means == (None, None, None)
    # All top marks are 100.
    assert unit_result(9, [[5, 5, 5]], 3, 5).score == 100.0


async def test_the_close_freezes_what_was_cast(session: AsyncSession) -> None:
    round_, (one, two, _three), _window = await setup(session)
    await cast(session, round_, "D001", one, [4, 5])
    await cast(session, round_, "D001", two, [3, 2])
    await cast(session, round_, "D002", one, None)
    counts = {
        row.group.code: (row.evaluators, row.rated, row.ballots, row.skipped)
        for row in await turnout(session, round_.id or 0)
    }
    assert counts == {"QY": (2, 2, 2, 1)}
    # Evaluator two takes the ballot back to 没有接触过: no longer counted as having rated.
    await cast(session, round_, "D001", two, None)
    counts = {
        row.group.code: (row.evaluators, row.rated, row.ballots, row.skipped)
        for row in await turnout(session, round_.id or 0)
    }
    assert counts == {"QY": (2, 1, 1, 2)}
    await cast(session, round_, "D001", two, [3, 2])
    results = await close_round(session, round_, NOW + timedelta(days=5))
    assert results is not None
    by_unit = {r.department_id: r for r in results}
    d001 = next(r for r in by_unit.values() if r.ballots == 2)
    # (4+3)/2 = 3.5 and (5+2)/2 = 3.5: 3.5 of 5 = 70 on 100.
    assert d001.means == (3.5, 3.5) and d001.score == 70.0
    assert sorted((r.ballots, r.skipped, r.score) for r in results) == [(0, 1, None), (2, 0, 70.0)]
    stored = (await session.exec(select(RoundResult))).all()
    assert len(stored) == 2
    assert await close_round(session, round_, NOW + timedelta(days=6)) is None
    assert isinstance(
        await create_round(session, FORM, created_by=None, now=NOW + timedelta(days=9), tz=TZ),
        Refusal,
    )


async def test_a_ballot_cast_while_the_round_closes_is_refused(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The voter reads the round as open while the close is computing: stored after the close
    commits, its ballot would be counted nowhere."""
    sessions = session_factory(engine)
    async with sessions() as session:
        round_, (one, _two, _three), _window = await setup(session)
        unit = (await session.exec(select(Department).where(Department.code == "D001"))).one()
    assert round_.id is not None and unit.id is not None and one.id is not None
    read_as_open = asyncio.Event()
    read = ballots.rater

    async def reading(*args: Any) -> Rater | BallotProblem:
        found = await read(*args)
        if isinstance(found, Rater):
            read_as_open.set()
        return found

    monkeypatch.setattr(ballots, "rater", reading)
    # Two connections open in the pool before the close: on SQLite, opening one sets the
    # journal mode, which waits for the write lock the close holds.
    async with sessions() as first, sessions() as second:
        for warm in (first, second):
            await warm.exec(select(Ballot))

    async with sessions() as closer:
        closing = await closer.get(AppraisalRound, round_.id)
        assert closing is not None
        results = await close_round(closer, closing, NOW)
        assert results is not None and all(r.ballots == 0 for r in results)
        voting = asyncio.create_task(_committed(sessions, round_, unit, one, [4, 4]))
        await asyncio.wait_for(read_as_open.wait(), 10)
        await closer.commit()
    assert await voting is BallotProblem.closed
    async with sessions() as session:
        assert (await session.exec(select(Ballot))).all() == []
