"""An admin's exclusion (剔除) of a ballot or a service rating, and its undoing.

Nothing is ever deleted: the row stays with who excluded it, when and why, and the figures skip
it. A closed round's frozen results are computed again at once (`compute_round_results`);
service rating figures are computed whenever they are read, so they follow by themselves, except
a quarterly bulletin already made (`QuarterBulletin`), which keeps the figures it was sent and
published with: the caller says so. Each change is one conditional UPDATE, so two admins
excluding the same ballot at once exclude it once, and the second is told it already was.
A ballot's round is read after that UPDATE and locked (`FOR UPDATE` on PostgreSQL; SQLite lets
one writer at a time in, and the UPDATE made this one), so a close at the same moment
(`db.appraisal.rounds.close_round`, whose UPDATE locks the round too) either commits first and
the results are computed again here, or waits for this transaction and its results leave the
ballot out: the admin is never told "the close will leave it out" of a close that counted it.
The caller records the audit event in the same transaction and commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from db.anomalies.rules import ItemKind
from db.appraisal.results import compute_round_results
from db.bulletin.quarters import quarter_of
from db.models import (
    ROW_ID_MAX,
    AppraisalRound,
    Ballot,
    QuarterBulletin,
    RoundResult,
    RoundState,
    ServiceRating,
)


class Refusal(StrEnum):
    unknown = "unknown"
    already_excluded = "already_excluded"
    not_excluded = "not_excluded"


@dataclass(frozen=True)
class Item:
    """The ballot or rating as it stands (after the change, or as found when refused)."""

    kind: ItemKind
    id: int
    department_id: int
    excluded_at: datetime | None
    excluded_by: int | None
    excluded_reason: str | None
    round_id: int | None = None
    rated_on: date | None = None


@dataclass(frozen=True)
class ScoreChange:
    """A closed round's unit before and after the results were computed again."""

    round_id: int
    before_score: float | None
    before_ballots: int
    after_score: float | None
    after_ballots: int


@dataclass(frozen=True)
class Changed:
    item: Item
    score: ScoreChange | None
    """Set when a closed round's results were computed again."""
    bulletin: QuarterBulletin | None
    """The quarter's bulletin already made, which keeps its figures."""


async def _ballot_item(session: AsyncSession, ballot_id: int) -> Item | None:
    if not 0 < ballot_id <= ROW_ID_MAX:
        return None
    ballot = await session.get(Ballot, ballot_id, populate_existing=True)
    if ballot is None:
        return None
    return Item(
        ItemKind.ballot,
        ballot_id,
        ballot.department_id,
        ballot.excluded_at,
        ballot.excluded_by,
        ballot.excluded_reason,
        round_id=ballot.round_id,
    )


async def _rating_item(session: AsyncSession, rating_id: int) -> Item | None:
    if not 0 < rating_id <= ROW_ID_MAX:
        return None
    rating = await session.get(ServiceRating, rating_id, populate_existing=True)
    if rating is None:
        return None
    return Item(
        ItemKind.rating,
        rating_id,
        rating.department_id,
        rating.excluded_at,
        rating.excluded_by,
        rating.excluded_reason,
        rated_on=rating.rated_on,
    )


async def find_item(session: AsyncSession, kind: ItemKind, item_id: int) -> Item | None:
    if kind is ItemKind.ballot:
        return await _ballot_item(session, item_id)
    return await _rating_item(session, item_id)


async def _recompute(
    session: AsyncSession, item: Item, now: datetime
) -> tuple[ScoreChange | None, QuarterBulletin | None]:
    if item.kind is ItemKind.rating:
        assert item.rated_on is not None
        return None, await session.get(QuarterBulletin, quarter_of(item.rated_on).key)
    assert item.round_id is not None
    round_ = await session.get(
        AppraisalRound, item.round_id, with_for_update=True, populate_existing=True
    )
    assert round_ is not None
    bulletin = await session.get(QuarterBulletin, round_.quarter) if round_.quarter else None
    if round_.state is not RoundState.closed:
        return None, bulletin  # nothing frozen yet: the close will leave the ballot out
    before = await session.get(RoundResult, (item.round_id, item.department_id))
    results = await compute_round_results(session, round_, now)
    after = next(r for r in results if r.department_id == item.department_id)
    change = ScoreChange(
        round_id=item.round_id,
        before_score=before.score if before is not None else None,
        before_ballots=before.ballots if before is not None else 0,
        after_score=after.score,
        after_ballots=after.ballots,
    )
    return change, bulletin


async def set_excluded(
    session: AsyncSession,
    kind: ItemKind,
    item_id: int,
    *,
    excluded: bool,
    actor_account_id: int | None,
    reason: str | None,
    now: datetime,
) -> Changed | tuple[Refusal, Item | None]:
    """Exclude (`excluded`) or bring back a ballot or rating and recompute what is frozen;
    a refusal, with the item as found, when it does not exist or is already so."""
    item = await find_item(session, kind, item_id)
    if item is None:
        return Refusal.unknown, None
    if item.round_id is not None:
        # The round before the ballot, the order in which a ballot being cast takes them
        # (`db.appraisal.rounds.hold_open`, then its row): the other order could deadlock.
        await session.get(AppraisalRound, item.round_id, with_for_update=True)
    table: type[Ballot] | type[ServiceRating] = Ballot if kind is ItemKind.ballot else ServiceRating
    state = col(table.excluded_at).is_(None) if excluded else col(table.excluded_at).is_not(None)
    result = await session.exec(
        update(table)
        .where(col(table.id) == item_id, state)
        .values(
            excluded_at=now if excluded else None,
            excluded_by=actor_account_id if excluded else None,
            excluded_reason=reason if excluded else None,
        )
    )
    if result.rowcount != 1:
        found = await find_item(session, kind, item_id)
        return (Refusal.already_excluded if excluded else Refusal.not_excluded), found
    changed = await find_item(session, kind, item_id)
    assert changed is not None
    score, bulletin = await _recompute(session, changed, now)
    return Changed(changed, score, bulletin)
