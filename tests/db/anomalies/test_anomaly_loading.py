"""The rules' records read from the database: a round's counted ballots, a month's ratings, the
accounts with the moments they came in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from db.anomalies.load import (
    account_records,
    month_findings,
    round_ballots,
    round_findings,
    round_span,
)
from db.anomalies.rules import (
    Burst,
    FarFromReports,
    IdenticalBallots,
    SingleUnitRaters,
    Thresholds,
)
from db.appraisal.results import compute_round_results
from db.calendar.workdays import WorkCalendar
from db.models import AppraisalRound, Ballot, EventKind, ReportEvent
from tests.db.anomalies.anomaly_rows import (
    account,
    appraisal_round,
    ballot,
    service_rating,
    unit,
)
from tests.factories import file_report

TZ = ZoneInfo("Asia/Shanghai")
CLOSE = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
NOW = CLOSE + timedelta(hours=1)


def test_a_rounds_reports_are_its_quarters_else_the_days_before_its_close() -> None:
    def span(quarter: str | None) -> tuple[datetime, datetime]:
        return round_span(AppraisalRound(quarter=quarter, closes_at=CLOSE), TZ)

    shanghai_midnight = timedelta(hours=8)
    assert span("2026-Q1") == (
        datetime(2026, 1, 1, tzinfo=UTC) - shanghai_midnight,
        datetime(2026, 4, 1, tzinfo=UTC) - shanghai_midnight,
    )
    assert span("2026-Q4")[1] == datetime(2027, 1, 1, tzinfo=UTC) - shanghai_midnight
    before_close = (CLOSE - timedelta(days=91), CLOSE)
    assert span(None) == before_close
    for malformed in ("2026-Q5", "2026Q1", "Q1-2026", "2026-Qx"):
        assert span(malformed) == before_close, malformed


async def test_a_rounds_identical_ballots_are_found_and_excluded_ones_left_out(
    session: AsyncSession,
) -> None:
    units = [await unit(session, f"W9{n}", f"窗口{n}") for n in range(3)]
    old = CLOSE - timedelta(days=60)
    people = [
        await account(session, 7000 + n, old + timedelta(days=n), evaluator=True) for n in range(4)
    ]
    round_ = await appraisal_round(session, units, CLOSE)
    assert round_.id is not None
    cast: list[int] = []
    for n, person in enumerate(people):
        at = CLOSE - timedelta(days=5 - n)
        cast.append(await ballot(session, round_.id, units[0], person, [5, 5, 5, 5, 4], at))
        cast.append(await ballot(session, round_.id, units[1], person, [4, 4, 4, 4, 4], at))
        cast.append(await ballot(session, round_.id, units[2], person, None, at))
    excluded = await session.get(Ballot, cast[-2])  # the fourth evaluator's second ballot
    assert excluded is not None
    excluded.excluded_at = NOW
    await session.flush()

    records = await round_ballots(session, round_.id)
    assert len(records) == 11 and cast[-2] not in {r.id for r in records}
    assert records[0].marks == (5, 5, 5, 5, 4) and records[0].at.tzinfo is not None

    findings = await round_findings(
        session, round_, Thresholds(), NOW, calendar=WorkCalendar(), tz=TZ
    )
    [flag] = [f for f in findings.flags if isinstance(f, IdenticalBallots)]
    assert flag.accounts == tuple(people[:3]), "without its excluded ballot the fourth differs"
    assert findings.counted == 11
    assert findings.accounts[people[0]] == 7000
    assert findings.units[units[0]].code == "W90"


async def test_accounts_come_in_when_made_granted_or_invited(session: AsyncSession) -> None:
    made = datetime(2026, 1, 5, 3, 10, tzinfo=UTC)
    person = await account(session, 7100, made)
    [record] = (await account_records(session, [person])).values()
    assert record.telegram_id == 7100 and record.joined == (made,)


async def test_a_months_single_unit_raters_and_burst_are_found(session: AsyncSession) -> None:
    window = await unit(session, "W95", "不动产登记窗口")
    other = await unit(session, "W96", "社保窗口")
    made = datetime(2026, 3, 9, 1, 5, tzinfo=UTC)
    people = [await account(session, 7200 + n, made + timedelta(minutes=n)) for n in range(5)]
    regular = await account(session, 7300, made - timedelta(days=300))
    ratings = [await service_rating(session, window, p, date(2026, 3, 9)) for p in people]
    await service_rating(session, window, regular, date(2026, 3, 10))
    await service_rating(session, other, regular, date(2026, 2, 10))  # rated another unit before
    await service_rating(session, window, people[0], date(2026, 4, 1))  # another month

    findings = await month_findings(
        session, date(2026, 3, 1), Thresholds(), NOW, calendar=WorkCalendar(), tz=TZ
    )
    assert findings.counted == 6
    [single] = [f for f in findings.flags if isinstance(f, SingleUnitRaters)]
    assert single.department_id == window and single.ratings == tuple(ratings)
    [burst] = [f for f in findings.flags if isinstance(f, Burst)]
    assert burst.accounts == tuple(people) and burst.ratings == tuple(ratings)
    quiet = await month_findings(
        session, date(2026, 2, 1), Thresholds(), NOW, calendar=WorkCalendar(), tz=TZ
    )
    assert quiet.flags == [] and quiet.counted == 1


async def poorly_rated_by_reporters(session: AsyncSession, department_id: int) -> None:
    """Ten ratings of the unit's answers in March: 2 satisfied, 8 not (reopened): 20%."""
    reporter = await account(session, 7400, datetime(2025, 1, 1, tzinfo=UTC))
    report = await file_report(
        session, reporter, datetime(2026, 3, 2, 2, tzinfo=UTC), department_id
    )
    assert report.id is not None
    for n in range(10):
        session.add(
            ReportEvent(
                report_id=report.id,
                department_id=department_id,
                kind=EventKind.rated if n < 2 else EventKind.reopened,
                created_at=datetime(2026, 3, 3 + n, 2, tzinfo=UTC),
            )
        )
    await session.flush()


async def test_a_unit_rated_far_above_its_report_satisfaction(session: AsyncSession) -> None:
    window = await unit(session, "W97", "公积金窗口")
    await poorly_rated_by_reporters(session, window)
    people = [
        await account(session, 7500 + n, datetime(2025, 6, n + 1, tzinfo=UTC), evaluator=True)
        for n in range(5)
    ]
    closed = await appraisal_round(session, [window], CLOSE)
    still_open = await appraisal_round(session, [window], CLOSE, closed=False)
    for round_ in (closed, still_open):
        assert round_.id is not None
        for n, person in enumerate(people):
            marks = [5, 5, 5, 5, 5] if n % 2 else [5, 4, 5, 4, 5]  # not identical
            await ballot(session, round_.id, window, person, marks, CLOSE - timedelta(days=n))
    await compute_round_results(session, closed, NOW)
    for round_ in (closed, still_open):
        findings = await round_findings(
            session, round_, Thresholds(), NOW, calendar=WorkCalendar(), tz=TZ
        )
        [far] = [f for f in findings.flags if isinstance(f, FarFromReports)]
        # Three of 5 4 5 4 5, two of 5 5 5 5 5: means 5 4.4 5 4.4 5, their mean 4.76 of 5 is
        # 95.2 on 100, beside 2 satisfied of 10.
        assert (far.department_id, far.rated_count) == (window, 5)
        assert far.rated == pytest.approx(0.952)
        assert (far.reports, far.report_count) == (0.2, 10)
    for person in people:
        await service_rating(session, window, person, date(2026, 3, 20))
    month = await month_findings(
        session, date(2026, 3, 1), Thresholds(), NOW, calendar=WorkCalendar(), tz=TZ
    )
    [far] = [f for f in month.flags if isinstance(f, FarFromReports)]
    assert (far.rated, far.rated_count, far.reports) == (1.0, 5, 0.2)
    fair = await month_findings(
        session, date(2026, 3, 1), Thresholds(far_gap=0.81), NOW, calendar=WorkCalendar(), tz=TZ
    )
    assert not [f for f in fair.flags if isinstance(f, FarFromReports)]
