"""`db.bulletin`: quarters, the quarterly score and the ranking of a hand-computed quarter.

The reports are the March of `tests/db/cases/test_case_metrics.py` (its figures are checked
there), which is all of 2026-Q1's reports; the appraisal rounds and ratings are added here.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from db.bulletin.bulletin import Bulletin, compute_bulletin, freeze, stored_bulletin
from db.bulletin.quarters import Quarter, last_finished_quarter, parse_quarter
from db.bulletin.scoring import BulletinWeights, UnitLine, quarter_score, rank_lines
from db.cases.rules import Limits
from db.engine import session_factory
from db.models import (
    Account,
    AppraisalRound,
    RoundResult,
    RoundState,
    ServiceRating,
    ServiceRatingValue,
)
from tests.db.cases.test_case_metrics import CALENDAR, NOW, TZ, _month, _world

Q1 = Quarter(2026, 1)
WEIGHTS = BulletinWeights()
# 及时签收 0.1, 按时办结 0.15, 满意 0.15, 回退 0.05, 重办 0.05,
# 报送 0.1, 整改 0.1, 评议 0.2, 服务评价 0.1


def test_quarters_parse_and_bound_in_local_time() -> None:
    assert parse_quarter("2026-Q4") == Quarter(2026, 4)
    assert parse_quarter(" 2026-q1 ").key == "2026-Q1"
    for bad in ("2026-Q5", "2026-Q0", "2026Q4", "26-Q1", "2026-03", ""):
        with pytest.raises(ValueError):
            parse_quarter(bad)
    q4 = Quarter(2026, 4)
    assert (q4.first_day, q4.last_day) == (date(2026, 10, 1), date(2026, 12, 31))
    assert q4.following() == Quarter(2027, 1) and Quarter(2027, 1).previous() == q4
    # Local midnights of Shanghai (UTC+8): 30 Sep 16:00 UTC to 31 Dec 16:00 UTC.
    assert q4.bounds(TZ) == (
        datetime(2026, 9, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 31, 16, tzinfo=UTC),
    )
    # 1 January 07:00 in Shanghai is still 31 December in UTC: the finished quarter is Q4.
    assert last_finished_quarter(datetime(2026, 12, 31, 23, tzinfo=UTC), TZ) == q4
    assert last_finished_quarter(datetime(2026, 12, 31, 15, tzinfo=UTC), TZ) == Quarter(2026, 3)


def test_the_score_leaves_undefined_components_out_of_both_sums() -> None:
    # Only the appraisal (80 → g 0.8) and the service rating (0.5) are defined:
    # (0.2 × 0.8 + 0.1 × 0.5) / (0.2 + 0.1) = 0.21 / 0.3 = 70.
    assert quarter_score({"appraisal": 80.0, "service_rating": 0.5}, WEIGHTS) == pytest.approx(70)
    # A penalty counts 1 − rate, and a rate above 1 counts as 1: returned 0.4 → 0.6, reopened
    # 1.5 → 0: (0.05 × 0.6 + 0.05 × 0) / 0.1 = 30.
    assert quarter_score({"returned": 0.4, "reopened": 1.5}, WEIGHTS) == pytest.approx(30)
    assert quarter_score({}, WEIGHTS) is None
    only_appraisal = BulletinWeights(**{**WEIGHTS.as_dict(), "appraisal": 0.0})
    assert quarter_score({"appraisal": 80.0}, only_appraisal) is None, "weight 0: left out"
    with pytest.raises(ValueError):
        BulletinWeights(appraisal=-1)


def _line(code: str, value: float | None) -> UnitLine:
    return UnitLine(
        department_id=ord(code), code=code, name=code, kind="window", components={}, score=value
    )


def test_equal_scores_share_a_rank_and_the_last_places_are_marked() -> None:
    lines = [_line(c, v) for c, v in (("E", 70), ("A", 90), ("C", 80), ("B", 80), ("D", 70))]
    lines.append(_line("Z", None))
    ranked = rank_lines(lines, bottom_count=1)
    assert [(u.code, u.rank, u.bottom) for u in ranked] == [
        ("A", 1, False),
        ("B", 2, False),
        ("C", 2, False),
        ("D", 4, True),  # tied with the last place: 末位 too
        ("E", 4, True),
        ("Z", None, False),
    ]
    three = rank_lines(lines, bottom_count=3)
    assert [u.code for u in three if u.bottom] == ["B", "C", "D", "E"]
    assert not [u for u in rank_lines(lines, bottom_count=0) if u.bottom]
    assert not rank_lines([_line("A", 50)], bottom_count=1)[0].bottom, "alone: not 末位"
    tied = rank_lines([_line("A", 50), _line("B", 50)], bottom_count=1)
    assert [(u.rank, u.bottom) for u in tied] == [(1, False), (1, False)], "all first: none last"


async def _round(
    session: AsyncSession, state: RoundState, quarter: str, results: dict[int, float]
) -> None:
    round_ = AppraisalRound(
        title="百家企业评政风",
        period=quarter,
        quarter=quarter,
        dimensions=json.dumps(["总体满意"]),
        closes_on=date(2026, 3, 20),
        closes_at=datetime(2026, 3, 20, 16, tzinfo=UTC),
        state=state,
    )
    session.add(round_)
    await session.flush()
    assert round_.id is not None
    for unit, value in results.items():
        session.add(
            RoundResult(
                round_id=round_.id, department_id=unit, ballots=3, means="[4.0]", score=value
            )
        )
    await session.flush()


async def test_the_hand_computed_quarter(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        await _month(session, world)
        a, b, c, d = world.departments
        await _round(session, RoundState.closed, "2026-Q1", {a: 80.0, b: 60.0})
        await _round(session, RoundState.closed, "2026-Q1", {a: 90.0})
        await _round(session, RoundState.open, "2026-Q1", {c: 100.0})  # not closed: not counted
        await _round(session, RoundState.closed, "2026-Q2", {d: 10.0})  # another quarter
        raters = [Account(telegram_id=9100 + i) for i in range(5)]
        session.add_all(raters)
        await session.flush()
        values = [
            (ServiceRatingValue.satisfied, date(2026, 1, 5), False),
            (ServiceRatingValue.basic, date(2026, 3, 31), False),
            (ServiceRatingValue.unsatisfied, date(2026, 2, 1), False),
            (ServiceRatingValue.unsatisfied, date(2026, 2, 2), True),  # excluded by an admin
            (ServiceRatingValue.unsatisfied, date(2026, 4, 1), False),  # next quarter
        ]
        for rater, (value, day, excluded) in zip(raters, values, strict=True):
            assert rater.id is not None
            session.add(
                ServiceRating(
                    department_id=d,
                    account_id=rater.id,
                    value=value,
                    rated_on=day,
                    day_key=day.isoformat(),
                    excluded_at=NOW if excluded else None,
                )
            )
        await session.flush()
        bulletin = await compute_bulletin(
            session,
            Q1,
            NOW,
            calendar=CALENDAR,
            tz=TZ,
            limits=Limits(),
            weights=WEIGHTS,
            bottom_count=1,
        )
        by_id = {u.department_id: u for u in bulletin.units}

        # By hand, component by component (g = rate, 1 − rate for a penalty, score/100):
        # A: 及时签收 1/4, 按时办结 3/3, 满意 2/3, 回退 1/4, 重办 1/3, 评议 (80 + 90) / 2 = 85.
        #    (0.1·0.25 + 0.15·1 + 0.15·2/3 + 0.05·0.75 + 0.05·2/3 + 0.2·0.85) / 0.7
        #    = (0.025 + 0.15 + 0.1 + 0.0375 + 0.033333 + 0.17) / 0.7 = 0.515833 / 0.7 = 73.690476
        # B: 2/2, 2/2, 0/2, 0/2, 1/2, 评议 60:
        #    (0.1 + 0.15 + 0 + 0.05 + 0.025 + 0.12) / 0.7 = 0.445 / 0.7 = 63.571429
        # C: 1/1, 1/2, no rating, 0/2, 0/2, no closed round:
        #    (0.1 + 0.075 + 0.05 + 0.05) / 0.35 = 0.275 / 0.35 = 78.571429
        # D: no report; service ratings 满意 + 基本满意 of three counted = 2/3: 66.666667
        assert by_id[a].score == pytest.approx(73.690476)
        assert by_id[b].score == pytest.approx(63.571429)
        assert by_id[c].score == pytest.approx(78.571429)
        assert by_id[d].score == pytest.approx(66.666667)
        assert by_id[a].components["appraisal"] == pytest.approx(85)
        assert by_id[a].counts["ballots"] == 6 and by_id[d].counts["service_ratings"] == 3
        # The quarter's counts are the sums of its months, and each month's are kept.
        assert by_id[a].counts["received"] == 4
        assert by_id[a].months["2026-03"] == {
            "received": 4,
            "answered": 3,
            "answered_on_time": 3,
            "satisfied": 2,
            "ratings": 3,
        }
        assert by_id[a].months["2026-01"]["received"] == 0
        assert [(u.department_id, u.rank, u.bottom) for u in bulletin.units] == [
            (c, 1, False),
            (a, 2, False),
            (d, 3, False),
            (b, 4, True),
        ]

        frozen = await freeze(session, bulletin, NOW)
        again = await compute_bulletin(
            session,
            Q1,
            NOW,
            calendar=CALENDAR,
            tz=TZ,
            limits=Limits(),
            weights=BulletinWeights(appraisal=5),
            bottom_count=2,
        )
        assert (await freeze(session, again, NOW)).data == frozen.data, "the first freeze stands"
        await session.commit()
        row = await stored_bulletin(session, "2026-Q1")
        assert row is not None
        read = Bulletin.from_json(row.data)
        assert read.frozen and read.units == bulletin.units


async def test_two_freezes_of_a_quarter_at_once_both_return_its_one_row(
    any_engine: AsyncEngine,
) -> None:
    """`/publish` and the sending job (or two `/publish`) freezing one quarter at once: both
    read no row, both insert; the second insert does nothing and returns the first's row."""
    sessions = session_factory(any_engine)
    both_read = asyncio.Barrier(2)

    def bulletin_of(weight: float) -> Bulletin:
        return Bulletin(
            quarter="2026-Q1",
            first_day=Q1.first_day,
            last_day=Q1.last_day,
            computed_at=NOW,
            weights={"appraisal": weight},
            bottom_count=1,
            units=(),
        )

    async def freeze_at_once(weight: float) -> str:
        async with sessions() as session:
            assert await stored_bulletin(session, "2026-Q1") is None
            await both_read.wait()
            row = await freeze(session, bulletin_of(weight), NOW)
            await session.commit()
            return row.data

    first, second = await asyncio.gather(freeze_at_once(1.0), freeze_at_once(2.0))
    assert first == second
    async with sessions() as session:
        row = await stored_bulletin(session, "2026-Q1")
        assert row is not None and row.data == first
