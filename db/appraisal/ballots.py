"""Casting and changing ballots: one per evaluator, unit and round, until the round closes.

Every call checks again what a button cannot prove: the round is open and not past its close
(and holds it open until the ballot is committed, `db.appraisal.rounds.hold_open`),
the account still holds an evaluator grant in one of its groups, the unit is one the round rates
and each mark is on the round's scale. A refusal changes nothing.

The ballot is written with one `INSERT … ON CONFLICT (round, unit, account) DO UPDATE`, so two
presses at once (a double tap, two devices) make one row whatever order they commit in: the
unique constraint decides, not a read before the write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.appraisal.results import dimensions_of
from db.appraisal.rounds import hold_open, invited_group
from db.models import AppraisalRound, Ballot, RoundState, RoundUnit

COMMENT_MAX = 500


class BallotProblem(StrEnum):
    unknown_round = "unknown_round"
    closed = "closed"
    not_invited = "not_invited"
    """No active evaluator grant in any of the round's groups (never had one, or removed)."""
    unknown_unit = "unknown_unit"
    bad_marks = "bad_marks"
    """Not one mark per dimension, or a mark outside 1..scale_max (a forged button)."""
    no_ballot = "no_ballot"
    """A comment for a unit the evaluator has not rated."""


@dataclass(frozen=True)
class Rater:
    """A round the account may rate now, and the group it rates through."""

    round: AppraisalRound
    group_id: int


async def rater(
    session: AsyncSession, round_id: int, account_id: int, now: datetime
) -> Rater | BallotProblem:
    """The open round and the account's group in it, or why the account may not rate it."""
    round_ = await session.get(AppraisalRound, round_id)
    if round_ is None:
        return BallotProblem.unknown_round
    if round_.state is not RoundState.open or round_.closes_at <= now:
        return BallotProblem.closed
    group_id = await invited_group(session, round_id, account_id)
    if group_id is None:
        return BallotProblem.not_invited
    return Rater(round_, group_id)


async def in_round(session: AsyncSession, round_id: int, department_id: int) -> bool:
    found = await session.get(RoundUnit, (round_id, department_id))
    return found is not None


def marks_fit(round_: AppraisalRound, marks: list[int], *, complete: bool) -> bool:
    """Each mark on the round's scale, and (complete) one per dimension or (not) at most that."""
    dimensions = len(dimensions_of(round_))
    if len(marks) > dimensions or (complete and len(marks) != dimensions):
        return False
    return all(1 <= mark <= round_.scale_max for mark in marks)


def _upsert(
    dialect: str, values: Mapping[str, object], changes: Mapping[str, object]
) -> postgresql.Insert | sqlite.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Ballot).values(**values)
    return statement.on_conflict_do_update(
        index_elements=["round_id", "department_id", "account_id"], set_=changes
    )


async def cast_ballot(
    session: AsyncSession,
    *,
    round_id: int,
    department_id: int,
    account_id: int,
    marks: list[int] | None,
    now: datetime,
) -> Ballot | BallotProblem:
    """Store the evaluator's marks for the unit (None: 没有接触过), replacing earlier ones.

    A changed ballot keeps its comment unless the unit is now skipped, which clears it. Flushes;
    the caller commits.
    """
    found = await rater(session, round_id, account_id, now)
    if isinstance(found, BallotProblem):
        return found
    if not await hold_open(session, round_id):
        return BallotProblem.closed
    if not await in_round(session, round_id, department_id):
        return BallotProblem.unknown_unit
    if marks is not None and not marks_fit(found.round, marks, complete=True):
        return BallotProblem.bad_marks
    scores = json.dumps(marks) if marks is not None else None
    changes: dict[str, object] = {"scores": scores, "group_id": found.group_id, "updated_at": now}
    if marks is None:
        changes["comment"] = None
    values = {
        "round_id": round_id,
        "department_id": department_id,
        "account_id": account_id,
        "group_id": found.group_id,
        "scores": scores,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    await session.exec(_upsert(dialect, values, changes))
    ballot = await ballot_of(session, round_id, department_id, account_id)
    assert ballot is not None
    await session.refresh(ballot)
    return ballot


async def ballot_of(
    session: AsyncSession, round_id: int, department_id: int, account_id: int
) -> Ballot | None:
    return (
        await session.exec(
            select(Ballot).where(
                Ballot.round_id == round_id,
                Ballot.department_id == department_id,
                Ballot.account_id == account_id,
            )
        )
    ).first()


async def set_comment(
    session: AsyncSession,
    *,
    round_id: int,
    department_id: int,
    account_id: int,
    comment: str,
    now: datetime,
) -> Ballot | BallotProblem:
    """Add (or replace) the comment of a ballot with marks, while the round is open."""
    found = await rater(session, round_id, account_id, now)
    if isinstance(found, BallotProblem):
        return found
    if not await hold_open(session, round_id):
        return BallotProblem.closed
    ballot = await ballot_of(session, round_id, department_id, account_id)
    if ballot is None or ballot.scores is None:
        return BallotProblem.no_ballot
    ballot.comment = comment[:COMMENT_MAX]
    ballot.updated_at = now
    session.add(ballot)
    await session.flush()
    return ballot


async def ballots_by_unit(
    session: AsyncSession, round_id: int, account_id: int
) -> dict[int, Ballot]:
    """The account's ballots in the round, by unit."""
    rows = (
        await session.exec(
            select(Ballot)
            .where(Ballot.round_id == round_id, Ballot.account_id == account_id)
            .order_by(col(Ballot.id))
        )
    ).all()
    return {ballot.department_id: ballot for ballot in rows}
