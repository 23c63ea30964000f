"""Rating rounds: opening one from a form, who is asked, the turnout, and the close.

Plain functions over a session; callers commit. An evaluator is invited to a round while they
hold an active evaluator grant in one of its groups: membership is read at every press, so an
evaluator removed mid-round can no longer rate, and one who joins a group mid-round can.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.appraisal.form import SCALE_MAX, RoundForm, UnitScope
from db.appraisal.results import UnitResult, compute_round_results
from db.calendar.workdays import end_of_day
from db.models import (
    Account,
    AppraisalRound,
    Ballot,
    Department,
    DepartmentKind,
    EvaluatorGroup,
    Role,
    RoleGrant,
    RoundGroup,
    RoundState,
    RoundUnit,
)


class RoundProblem(StrEnum):
    unknown_groups = "unknown_groups"
    unknown_units = "unknown_units"
    no_groups = "no_groups"
    no_units = "no_units"
    past_close = "past_close"


@dataclass(frozen=True)
class Refusal:
    problem: RoundProblem
    words: tuple[str, ...] = ()
    """The group or unit codes that name nothing."""


async def _groups_of(session: AsyncSession, form: RoundForm) -> list[EvaluatorGroup] | Refusal:
    active = (
        await session.exec(
            select(EvaluatorGroup)
            .where(col(EvaluatorGroup.active))
            .order_by(col(EvaluatorGroup.code))
        )
    ).all()
    if form.all_groups:
        return list(active) if active else Refusal(RoundProblem.no_groups)
    by_word: dict[str, EvaluatorGroup] = {}
    for group in active:
        by_word[group.code.upper()] = group
        by_word[group.name.upper()] = group
    found = [by_word.get(word.upper()) for word in form.groups]
    unknown = tuple(w for w, g in zip(form.groups, found, strict=True) if g is None)
    if unknown:
        return Refusal(RoundProblem.unknown_groups, unknown)
    chosen = {g.id: g for g in found if g is not None}
    return list(chosen.values())


async def _units_of(session: AsyncSession, form: RoundForm) -> list[Department] | Refusal:
    statement = select(Department).where(col(Department.active))
    if form.units is UnitScope.all:
        statement = statement.where(Department.kind == DepartmentKind.department)
    elif form.units is UnitScope.dept_class:
        # Like 全部, a class means its departments: windows and key positions share the classes
        # but are rated by the people they serve (service ratings), or listed by code here.
        statement = statement.where(
            Department.kind == DepartmentKind.department, Department.dept_class == form.unit_class
        )
    else:
        # Codes are kept as imported (`w002` as well as `W002`) and typed in any case.
        statement = statement.where(func.upper(Department.code).in_(list(form.unit_codes)))
    units = list((await session.exec(statement.order_by(col(Department.code)))).all())
    if form.units is UnitScope.listed:
        by_code = {u.code.upper(): u for u in units}
        unknown = tuple(c for c in form.unit_codes if c not in by_code)
        if unknown:
            return Refusal(RoundProblem.unknown_units, unknown)
        units = [by_code[c] for c in form.unit_codes]
    return units if units else Refusal(RoundProblem.no_units)


def closes_at_of(closes_on: date, tz: ZoneInfo) -> datetime:
    """The end of the local closing day."""
    return end_of_day(closes_on, tz)


async def create_round(
    session: AsyncSession,
    form: RoundForm,
    *,
    created_by: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> AppraisalRound | Refusal:
    """Store a round from a complete form (see `db.appraisal.form.missing_keys`)."""
    assert form.title and form.period and form.closes_on and form.units
    closes_at = closes_at_of(form.closes_on, tz)
    if closes_at <= now:
        return Refusal(RoundProblem.past_close)
    groups = await _groups_of(session, form)
    if isinstance(groups, Refusal):
        return groups
    units = await _units_of(session, form)
    if isinstance(units, Refusal):
        return units
    round_ = AppraisalRound(
        title=form.title,
        period=form.period,
        quarter=form.quarter,
        dimensions=json.dumps(list(form.dimensions), ensure_ascii=False),
        scale_max=SCALE_MAX,
        closes_on=form.closes_on,
        closes_at=closes_at,
        created_by=created_by,
        created_at=now,
    )
    session.add(round_)
    await session.flush()
    assert round_.id is not None
    for group in groups:
        assert group.id is not None
        session.add(RoundGroup(round_id=round_.id, group_id=group.id))
    for position, unit in enumerate(units):
        assert unit.id is not None
        session.add(RoundUnit(round_id=round_.id, department_id=unit.id, position=position))
    await session.flush()
    return round_


async def round_groups(session: AsyncSession, round_id: int) -> list[EvaluatorGroup]:
    return list(
        (
            await session.exec(
                select(EvaluatorGroup)
                .join(RoundGroup, col(RoundGroup.group_id) == col(EvaluatorGroup.id))
                .where(RoundGroup.round_id == round_id)
                .order_by(col(EvaluatorGroup.code))
            )
        ).all()
    )


async def round_units(session: AsyncSession, round_id: int) -> list[Department]:
    """The round's units in the order evaluators are shown them."""
    return list(
        (
            await session.exec(
                select(Department)
                .join(RoundUnit, col(RoundUnit.department_id) == col(Department.id))
                .where(RoundUnit.round_id == round_id)
                .order_by(col(RoundUnit.position), col(Department.id))
            )
        ).all()
    )


@dataclass(frozen=True)
class Invited:
    account: Account
    group_id: int


async def round_evaluators(session: AsyncSession, round_id: int) -> list[Invited]:
    """The evaluators the round asks now: active evaluator grants in its groups."""
    rows = (
        await session.exec(
            select(Account, RoleGrant.group_id)
            .join(RoleGrant, col(RoleGrant.account_id) == col(Account.id))
            .join(RoundGroup, col(RoundGroup.group_id) == col(RoleGrant.group_id))
            .where(
                RoundGroup.round_id == round_id,
                RoleGrant.role == Role.evaluator,
                col(RoleGrant.revoked_at).is_(None),
            )
            .order_by(col(RoleGrant.id))
        )
    ).all()
    return [Invited(account, group_id) for account, group_id in rows if group_id is not None]


async def invited_group(session: AsyncSession, round_id: int, account_id: int) -> int | None:
    """The group through which the account may rate this round now, or None."""
    return (
        await session.exec(
            select(RoleGrant.group_id)
            .join(RoundGroup, col(RoundGroup.group_id) == col(RoleGrant.group_id))
            .where(
                RoundGroup.round_id == round_id,
                RoleGrant.account_id == account_id,
                RoleGrant.role == Role.evaluator,
                col(RoleGrant.revoked_at).is_(None),
            )
        )
    ).first()


async def open_rounds_for(session: AsyncSession, account_id: int) -> list[AppraisalRound]:
    """The open rounds the account may rate now, closing soonest first."""
    return list(
        (
            await session.exec(
                select(AppraisalRound)
                .join(RoundGroup, col(RoundGroup.round_id) == col(AppraisalRound.id))
                .join(RoleGrant, col(RoleGrant.group_id) == col(RoundGroup.group_id))
                .where(
                    AppraisalRound.state == RoundState.open,
                    RoleGrant.account_id == account_id,
                    RoleGrant.role == Role.evaluator,
                    col(RoleGrant.revoked_at).is_(None),
                )
                .order_by(col(AppraisalRound.closes_at), col(AppraisalRound.id))
            )
        ).all()
    )


@dataclass(frozen=True)
class GroupTurnout:
    group: EvaluatorGroup
    evaluators: int
    """Active evaluators of the group now."""
    rated: int
    """Evaluators of the group who marked at least one unit."""
    ballots: int
    """Ballots with marks cast through the group."""
    skipped: int
    """Units the group's evaluators skipped (没有接触过)."""


async def turnout(session: AsyncSession, round_id: int) -> list[GroupTurnout]:
    """Per group of the round: its evaluators, how many marked a unit, ballots and skips."""
    members = dict(
        (
            await session.exec(
                select(RoleGrant.group_id, func.count())
                .join(RoundGroup, col(RoundGroup.group_id) == col(RoleGrant.group_id))
                .where(
                    RoundGroup.round_id == round_id,
                    RoleGrant.role == Role.evaluator,
                    col(RoleGrant.revoked_at).is_(None),
                )
                .group_by(col(RoleGrant.group_id))
            )
        ).all()
    )
    marked: dict[int | None, tuple[int, int]] = {}
    skipped: dict[int | None, int] = {}
    for group_id, has_marks, people, count in (
        await session.exec(
            select(
                Ballot.group_id,
                col(Ballot.scores).is_not(None),
                func.count(func.distinct(Ballot.account_id)),
                func.count(),
            )
            .where(Ballot.round_id == round_id)
            .group_by(col(Ballot.group_id), col(Ballot.scores).is_not(None))
        )
    ).all():
        if has_marks:
            marked[group_id] = (int(people), int(count))
        else:
            skipped[group_id] = int(count)
    return [
        GroupTurnout(
            group,
            int(members.get(group.id, 0)),
            marked.get(group.id, (0, 0))[0],
            marked.get(group.id, (0, 0))[1],
            skipped.get(group.id, 0),
        )
        for group in await round_groups(session, round_id)
    ]


async def unfinished_evaluators(session: AsyncSession, round_id: int) -> list[Invited]:
    """The round's evaluators who have not yet cast a ballot on every unit (the reminders')."""
    units = await session.scalar(
        select(func.count()).select_from(RoundUnit).where(RoundUnit.round_id == round_id)
    )
    done = dict(
        (
            await session.exec(
                select(Ballot.account_id, func.count())
                .where(Ballot.round_id == round_id)
                .group_by(col(Ballot.account_id))
            )
        ).all()
    )
    return [
        person
        for person in await round_evaluators(session, round_id)
        if int(done.get(person.account.id or 0, 0)) < int(units or 0)
    ]


async def hold_open(session: AsyncSession, round_id: int) -> bool:
    """Keep the round from closing until this transaction ends; False if it has closed already.

    A ballot read as open and written a moment later could land in a round whose results a
    close froze in between, counted nowhere. So the round's row is held as `close_round` holds
    it: on PostgreSQL a shared lock waits for a close under way and then finds the row no longer
    open; on SQLite a conditional UPDATE that changes nothing takes the one write lock, after
    which no close commits before this transaction does. A ballot is either in the frozen
    results or refused as closed.
    """
    is_open = (col(AppraisalRound.id) == round_id, col(AppraisalRound.state) == RoundState.open)
    if session.get_bind().dialect.name == "postgresql":
        # FOR SHARE: ballots of one round do not wait for each other, only for a close (and
        # an exclusion), and no dead row version is left per ballot.
        shared = select(AppraisalRound.id).where(*is_open).with_for_update(read=True)
        return (await session.exec(shared)).first() is not None
    held = await session.exec(
        update(AppraisalRound)
        .where(*is_open)
        .values(state=RoundState.open)
        .execution_options(synchronize_session=False)
    )
    return held.rowcount == 1


async def close_round(
    session: AsyncSession, round_: AppraisalRound, now: datetime
) -> list[UnitResult] | None:
    """Close an open round and freeze its results; None when it was closed already.

    The state changes by a conditional UPDATE, so two closers (the job and an admin's
    `/round close`, or two processes) cannot both compute: only the one that matched an open
    row does. The UPDATE also locks the round's row until the commit, which an exclusion
    (`db.anomalies.exclusions.set_excluded`) waits for, so the results computed here and an
    exclusion made at the same moment never miss each other.
    """
    assert round_.id is not None
    claimed = await session.exec(
        update(AppraisalRound)
        .where(col(AppraisalRound.id) == round_.id, col(AppraisalRound.state) == RoundState.open)
        .values(state=RoundState.closed, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    await session.refresh(round_)
    return await compute_round_results(session, round_, now)
