"""`db.duties.metrics` and the duties in the digest: 按时报送率 and 整改完成率 of a hand-computed
March 2026, their place in the score, and the weights that move the ranking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import end_of_day
from db.cases.metrics import DepartmentMetrics
from db.cases.rules import Limits
from db.duties.metrics import DutyMetrics, duty_metrics
from db.engine import session_factory
from db.models import (
    DuePeriod,
    DutyScope,
    LedgerSource,
    LedgerState,
    Obligation,
    ObligationKind,
    RectificationItem,
    Submission,
    SubmissionState,
)
from db.office.digest import ScoreWeights, build_digest, score
from tests.db.cases.test_case_metrics import CALENDAR, END, NOW, START, TZ, _month, _world

MARCH = date(2026, 3, 1)
CREATED = datetime(2026, 1, 5, 2, tzinfo=UTC)


def day(month: int, dom: int) -> datetime:
    """The end of a local day of 2026: how due times are stored."""
    return end_of_day(date(2026, month, dom), TZ)


@dataclass
class Duties:
    session: AsyncSession
    active: int
    withdrawn: int
    made: int = 0

    async def submission(
        self,
        unit: int,
        due: datetime,
        first_filed: datetime | None,
        state: SubmissionState = SubmissionState.submitted,
        *,
        withdrawn: bool = False,
    ) -> None:
        self.made += 1
        self.session.add(
            Submission(
                obligation_id=self.withdrawn if withdrawn else self.active,
                department_id=unit,
                period=f"P{self.made}",  # one row per (duty, unit, period)
                due_at=due,
                state=SubmissionState.due if first_filed is None else state,
                rounds=0 if first_filed is None else 1,
                first_submitted_at=first_filed,
                submitted_at=first_filed,
                created_at=CREATED,
            )
        )

    async def item(
        self, unit: int, due: datetime, state: LedgerState, done: datetime | None = None
    ) -> None:
        self.session.add(
            RectificationItem(
                department_id=unit,
                source=LedgerSource.self_check,
                description="整改事项",
                due_at=due,
                state=state,
                done_at=done,
                confirmed_at=done if state is LedgerState.confirmed else None,
                created_at=CREATED,
            )
        )


async def _duties(session: AsyncSession) -> Duties:
    obligations = [
        Obligation(
            kind=ObligationKind.other,
            title=title,
            scope=DutyScope.all,
            period=DuePeriod.once,
            due_on=date(2026, 3, 10),
            starts_on=date(2026, 1, 1),
            active=active,
        )
        for title, active in (("专项报告", True), ("已撤回的任务", False))
    ]
    session.add_all(obligations)
    await session.flush()
    ids = [o.id for o in obligations if o.id is not None]
    return Duties(session, ids[0], ids[1])


async def _march(session: AsyncSession, a: int, b: int, c: int) -> None:
    """The hand-computed duties of March (the expected figures are in the test)."""
    d = await _duties(session)
    # A: 4 due in March, 2 first filed by their due time (one of them returned since).
    await d.submission(a, day(3, 10), day(3, 9))
    await d.submission(a, day(3, 10), day(3, 11))  # late
    await d.submission(a, day(3, 20), None)  # missing
    await d.submission(a, day(3, 25), day(3, 24), SubmissionState.returned)
    await d.submission(a, day(2, 27), None)  # February's: not March's
    await d.submission(a, day(4, 8), None)  # April's
    await d.submission(a, day(3, 10), None, withdrawn=True)  # a withdrawn duty counts nothing
    # B: one due at the last moment of March, filed at that very moment: on time.
    await d.submission(b, day(3, 31), day(3, 31))
    # A's ledger: 5 due by the end of March, 2 done or confirmed by then.
    await d.item(a, day(2, 10), LedgerState.done, day(2, 9))  # an earlier month's, done
    await d.item(a, day(3, 20), LedgerState.confirmed, day(3, 19))
    await d.item(a, day(3, 25), LedgerState.open)
    await d.item(a, day(3, 25), LedgerState.done, day(4, 1))  # done only after the month
    await d.item(a, day(3, 5), LedgerState.open)  # reopened (done_at cleared)
    await d.item(a, day(4, 10), LedgerState.open)  # due in April
    # C: one item due at the end of March, done the day before.
    await d.item(c, day(3, 31), LedgerState.done, day(3, 30))
    await session.flush()


async def test_figures_equal_the_hand_computed_march(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        a, b, c, d = world.departments
        await _march(session, a, b, c)
        figures = await duty_metrics(session, START, END, NOW)
        mid_march = await duty_metrics(session, START, END, datetime(2026, 3, 15, 4, tzinfo=UTC))

    assert figures[a] == DutyMetrics(
        a, submissions_due=4, submissions_on_time=2, items_due=5, items_completed=2
    )
    assert figures[a].submission_on_time_rate == 0.5
    assert figures[a].ledger_completion_rate == 0.4
    assert figures[b] == DutyMetrics(b, submissions_due=1, submissions_on_time=1)
    assert figures[b].ledger_completion_rate is None
    assert figures[c] == DutyMetrics(c, items_due=1, items_completed=1)
    assert figures[c].submission_on_time_rate is None
    assert d not in figures
    total = sum(figures.values(), DutyMetrics())
    assert (total.submissions_due, total.submissions_on_time) == (5, 3)
    assert (total.items_due, total.items_completed) == (6, 3)
    # Judged in the middle of March: only what has fallen due so far.
    assert mid_march[a] == DutyMetrics(
        a, submissions_due=2, submissions_on_time=1, items_due=2, items_completed=1
    )


def test_a_unit_that_owed_nothing_is_scored_without_the_duties() -> None:
    metrics = DepartmentMetrics(1, received=4, signed_on_time=3, sign_decided=4)
    weights = ScoreWeights()
    alone = score(metrics, weights)
    # 及时签收 3/4 and 回退 0/4 (g = 1) are the only defined rates: 0.2·3/4 + 0.05 over 0.25.
    assert score(metrics, weights, DutyMetrics(1)) == alone == pytest.approx(80.0)
    # 按时报送 1/2 joins them with its weight 0.1.
    owed = DutyMetrics(1, submissions_due=2, submissions_on_time=1)
    assert score(metrics, weights, owed) == pytest.approx(100 * (0.15 + 0.05 + 0.05) / 0.35)
    only_duties = ScoreWeights(0, 0, 0, 0, 0, 0, submissions_on_time=1, ledger_completion=1)
    assert score(metrics, only_duties) is None
    assert score(metrics, only_duties, DutyMetrics(1, items_due=4, items_completed=1)) == 25.0
    with pytest.raises(ValueError):
        ScoreWeights(0, 0, 0, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError):
        ScoreWeights(ledger_completion=-0.1)


async def test_the_duty_weights_change_the_ranking(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        await _month(session, world)
        a, b, c, _d = world.departments
        duties = await _duties(session)
        # B missed its only submission; C filed on time and fixed its item.
        await duties.submission(b, day(3, 20), None)
        await duties.submission(c, day(3, 20), day(3, 19))
        await duties.item(c, day(3, 25), LedgerState.confirmed, day(3, 24))
        await session.flush()

        async def ranking(weights: ScoreWeights) -> list[int]:
            digest = await build_digest(
                session, MARCH, NOW, calendar=CALENDAR, tz=TZ, limits=Limits(), weights=weights
            )
            return [f.department_id for f in digest.ranked]

        without = await ranking(ScoreWeights(submissions_on_time=0, ledger_completion=0))
        default = await ranking(ScoreWeights())
        digest = await build_digest(
            session, MARCH, NOW, calendar=CALENDAR, tz=TZ, limits=Limits(), weights=ScoreWeights()
        )

    assert without == [c, b, a]  # the reports alone (tests/db/office/test_digest.py)
    # C: (0.738·0.7 + 0.1 + 0.1) / 0.9; A owed nothing and keeps 62.08; B: 0.625 / 1.1.
    assert default == [c, a, b]
    by_id = {f.department_id: f for f in digest.departments}
    score_c = (0.2 * 1 + 0.3 * 0.5 + 0.05 + 0.05 + 0.1 * 2 / 3 + 0.1 + 0.1) / 0.9
    assert by_id[c].score == pytest.approx(100 * score_c)
    assert by_id[b].score == pytest.approx(100 * 0.625 / 1.1)
    assert by_id[c].duties == DutyMetrics(c, 1, 1, 1, 1)
    assert by_id[a].duties == DutyMetrics()
    assert digest.duty_totals == DutyMetrics(None, 2, 1, 1, 1)


async def test_a_unit_without_reports_is_ranked_on_its_duties(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        await _month(session, world)
        _a, _b, _c, d = world.departments
        before = await build_digest(
            session, MARCH, NOW, calendar=CALENDAR, tz=TZ, limits=Limits(), weights=ScoreWeights()
        )
        duties = await _duties(session)
        await duties.submission(d, day(3, 20), day(3, 19))
        await session.flush()
        after = await build_digest(
            session, MARCH, NOW, calendar=CALENDAR, tz=TZ, limits=Limits(), weights=ScoreWeights()
        )

    assert d in [f.department_id for f in before.unranked]
    # No reports, one submission due and filed on time: judged on that alone, and first.
    [ranked_d] = [f for f in after.ranked if f.department_id == d]
    assert ranked_d.score == pytest.approx(100.0) and ranked_d.rank == 1
    assert d not in [f.department_id for f in after.unranked]


def test_rates_of_an_empty_month() -> None:
    assert DutyMetrics().submission_on_time_rate is None
    assert DutyMetrics().ledger_completion_rate is None
    assert (DutyMetrics(1, 2, 1) + DutyMetrics(2, 1, 1)).submission_on_time_rate == 2 / 3
