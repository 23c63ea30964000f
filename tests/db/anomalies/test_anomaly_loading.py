"""The rules' records read from the database: a round's counted ballots, a month's ratings, the
accounts with the moments they came in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from db.anomalies.load import (
    account_records,
    month_findings,
    quarter_months,
    round_ballots,
    round_findings,
)
from db.anomalies.rules import Burst, IdenticalBallots, SingleUnitRaters, Thresholds
from db.calendar.workdays import WorkCalendar
from db.models import Ballot
from tests.db.anomalies.anomaly_rows import (
    account,
    appraisal_round,
    ballot,
    service_rating,
    unit,
)

TZ = ZoneInfo("Asia/Shanghai")
CLOSE = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
NOW = CLOSE + timedelta(hours=1)


def test_quarters() -> None:
    assert quarter_months("2026-Q1") == (date(2026, 1, 1), date(2026, 4, 1))
    assert quarter_months("2026-Q4") == (date(2026, 10, 1), date(2027, 1, 1))


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
