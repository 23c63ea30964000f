"""What the anomaly rules read, and the findings of one round or one month.

Every query is bounded by what is judged: one round's ballots, one month's ratings, and only
the accounts that cast them (in chunks, so a large round never makes one giant IN list).
Excluded ballots and ratings are left out: they were judged already.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.anomalies.rules import (
    AccountRecord,
    BallotRecord,
    Flag,
    RatingRecord,
    Thresholds,
    UnitFigures,
    ballot_round_flags,
    rating_month_flags,
)
from db.appraisal.results import dimensions_of, unit_result
from db.bulletin.quarters import parse_quarter
from db.calendar.months import month_bounds
from db.calendar.workdays import WorkCalendar
from db.cases.metrics import department_metrics
from db.engine import off_the_loop
from db.models import (
    Account,
    AppraisalRound,
    Ballot,
    Department,
    Invite,
    Role,
    RoleGrant,
    RoundResult,
    ServiceRating,
)
from db.ratings.figures import rating_figures

CHUNK = 500
"""Accounts per IN list."""

ROUND_SPAN_DAYS = 91
"""A round without a quarter is compared with the reports of this many days before its close."""


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)]


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive UTC times back; the rules compare them with aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def round_ballots(session: AsyncSession, round_id: int) -> list[BallotRecord]:
    """The round's counted ballots."""
    rows = (
        await session.exec(
            select(Ballot).where(Ballot.round_id == round_id, col(Ballot.excluded_at).is_(None))
        )
    ).all()
    return [
        BallotRecord(
            id=b.id or 0,
            department_id=b.department_id,
            account_id=b.account_id,
            marks=tuple(int(v) for v in json.loads(b.scores)) if b.scores is not None else None,
            at=_aware(b.updated_at),
        )
        for b in rows
    ]


async def span_ratings(
    session: AsyncSession, first_day: date, last_day: date
) -> list[RatingRecord]:
    """The counted service ratings made from `first_day` to `last_day` (local days)."""
    rows = (
        await session.exec(
            select(ServiceRating).where(
                col(ServiceRating.rated_on) >= first_day,
                col(ServiceRating.rated_on) <= last_day,
                col(ServiceRating.excluded_at).is_(None),
            )
        )
    ).all()
    return [
        RatingRecord(
            id=r.id or 0,
            department_id=r.department_id,
            account_id=r.account_id,
            value=r.value,
            at=_aware(r.created_at),
        )
        for r in rows
    ]


async def account_records(session: AsyncSession, ids: Iterable[int]) -> dict[int, AccountRecord]:
    """The accounts with the moments they came in: made, evaluator role granted, invite used."""
    joined: dict[int, set[datetime]] = defaultdict(set)
    telegram: dict[int, int] = {}
    for chunk in _chunks(ids):
        for account in (
            await session.exec(select(Account).where(col(Account.id).in_(chunk)))
        ).all():
            assert account.id is not None
            telegram[account.id] = account.telegram_id
            joined[account.id].add(_aware(account.created_at))
        grants = await session.exec(
            select(RoleGrant.account_id, RoleGrant.granted_at).where(
                col(RoleGrant.account_id).in_(chunk), col(RoleGrant.role) == Role.evaluator
            )
        )
        for account_id, granted_at in grants.all():
            joined[account_id].add(_aware(granted_at))
        invites = await session.exec(
            select(Invite.used_by_account_id, Invite.used_at).where(
                col(Invite.used_by_account_id).in_(chunk), col(Invite.used_at).is_not(None)
            )
        )
        for user, used_at in invites.all():
            if user is not None and used_at is not None:
                joined[user].add(_aware(used_at))
    return {
        account_id: AccountRecord(account_id, number, tuple(sorted(joined[account_id])))
        for account_id, number in telegram.items()
    }


async def rating_activity(
    session: AsyncSession, ids: Iterable[int]
) -> tuple[dict[int, set[int]], set[int]]:
    """Every unit each account ever gave a service rating, and the accounts that cast a ballot."""
    units: dict[int, set[int]] = defaultdict(set)
    balloting: set[int] = set()
    for chunk in _chunks(ids):
        rated = await session.exec(
            select(ServiceRating.account_id, ServiceRating.department_id)
            .where(col(ServiceRating.account_id).in_(chunk))
            .distinct()
        )
        for account_id, department_id in rated.all():
            units[account_id].add(department_id)
        cast = await session.exec(
            select(Ballot.account_id).where(col(Ballot.account_id).in_(chunk)).distinct()
        )
        balloting.update(cast.all())
    return dict(units), balloting


def round_span(round_: AppraisalRound, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The reports a round is compared with: its quarter's (as the bulletin counts it), else
    the days before its close (also for a quarter that is not one, which no bulletin reads)."""
    if round_.quarter:
        try:
            return parse_quarter(round_.quarter).bounds(tz)
        except ValueError:
            pass
    end = _aware(round_.closes_at)
    return end - timedelta(days=ROUND_SPAN_DAYS), end


async def _report_satisfaction(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> dict[int, tuple[float | None, int]]:
    metrics = await department_metrics(session, start, end, now, calendar=calendar, tz=tz)
    return {
        m.department_id: (m.satisfaction_rate, m.ratings)
        for m in metrics
        if m.department_id is not None
    }


@dataclass(frozen=True)
class Findings:
    """The flags of one round or one month, with what the report needs to name things."""

    flags: list[Flag]
    counted: int
    """Ballots (or ratings) judged."""
    accounts: dict[int, int]
    """Account id → Telegram id, for every account the flags name."""
    units: dict[int, Department]


async def _findings(
    session: AsyncSession, flags: list[Flag], counted: int, accounts: dict[int, AccountRecord]
) -> Findings:
    units = {d.id: d for d in (await session.exec(select(Department))).all() if d.id is not None}
    return Findings(
        flags=flags,
        counted=counted,
        accounts={a.id: a.telegram_id for a in accounts.values()},
        units=units,
    )


async def round_findings(
    session: AsyncSession,
    round_: AppraisalRound,
    thresholds: Thresholds,
    now: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> Findings:
    """The anomalies of one round's ballots; its units' scores (the frozen ones of a closed
    round, those of the ballots so far of an open one) beside their report satisfaction. Read
    off the event loop: the report figures are the digest's aggregates, hundreds of
    milliseconds on a city's database."""
    assert round_.id is not None
    with off_the_loop():  # the round's ballots and its units' report figures
        ballots = await round_ballots(session, round_.id)
        accounts = await account_records(session, (b.account_id for b in ballots))
        start, end = round_span(round_, tz)
        reports = await _report_satisfaction(session, start, end, now, calendar, tz)
        units = _compare(await _round_scores(session, round_, ballots), reports)
        flags = ballot_round_flags(ballots, accounts, units, round_.scale_max, thresholds)
        return await _findings(session, flags, len(ballots), accounts)


async def _round_scores(
    session: AsyncSession, round_: AppraisalRound, ballots: list[BallotRecord]
) -> list[tuple[int, float | None, int]]:
    """(unit, score on 100 as a share, ballots counted) of each unit of the round."""
    frozen = (
        await session.exec(select(RoundResult).where(RoundResult.round_id == round_.id))
    ).all()
    if frozen:
        return [(r.department_id, _share(r.score), r.ballots) for r in frozen]
    marks: dict[int, list[list[int] | None]] = defaultdict(list)
    for ballot in ballots:
        marks[ballot.department_id].append(list(ballot.marks) if ballot.marks else None)
    dimensions = len(dimensions_of(round_))
    results = [
        unit_result(unit, unit_marks, dimensions, round_.scale_max)
        for unit, unit_marks in marks.items()
    ]
    return [(r.department_id, _share(r.score), r.ballots) for r in results]


def _share(score: float | None) -> float | None:
    return None if score is None else score / 100


def _compare(
    rated: Iterable[tuple[int, float | None, int]],
    reports: dict[int, tuple[float | None, int]],
) -> list[UnitFigures]:
    return [
        UnitFigures(unit, rate, count, *reports.get(unit, (None, 0))) for unit, rate, count in rated
    ]


async def month_findings(
    session: AsyncSession,
    month: date,
    thresholds: Thresholds,
    now: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> Findings:
    """The anomalies of one month's service ratings (`month`: its first day)."""
    start, end = month_bounds(month, tz)
    last_day = (end.astimezone(tz) - timedelta(days=1)).date()
    with off_the_loop():  # a month's ratings and a city's report figures
        ratings = await span_ratings(session, month, last_day)
        ids = {r.account_id for r in ratings}
        accounts = await account_records(session, ids)
        units_rated, balloting = await rating_activity(session, ids)
        figures = await rating_figures(session, month, last_day)
        reports = await _report_satisfaction(session, start, end, now, calendar, tz)
        units = _compare(
            ((f.department_id, f.satisfaction_rate, f.ratings) for f in figures.values()), reports
        )
        flags = rating_month_flags(ratings, accounts, units, units_rated, balloting, thresholds)
        return await _findings(session, flags, len(ratings), accounts)
