"""Duties and submissions in the database: creating and editing a duty, opening the submissions
each period owes, filing a round and reviewing it.

The rules live in `db.duties.rules`; this module loads rows, applies a rule and writes the result
in the caller's transaction (flush, never commit), so a handler's notices go out with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import WorkCalendar, add_working_days, local_date
from db.duties.rules import (
    DueRule,
    Period,
    SubmissionProblem,
    SubmissionStatus,
    due_day,
    due_time,
    file_round,
    owed_periods,
    parse_period,
    period_key,
    review,
)
from db.models import (
    Department,
    DepartmentKind,
    DuePeriod,
    DutyScope,
    Obligation,
    ObligationKind,
    ObligationUnit,
    ReviewDecision,
    Submission,
    SubmissionRound,
)
from db.status_fields import read_status, write_status

UNIT_KINDS = (DepartmentKind.department, DepartmentKind.district)
"""Who owes a duty scoped to "all" or to a class: the organisations themselves. Windows, key
positions and projects belong to a department, which files for them; a duty that must reach one
of them names it in a list."""

MAX_QUESTIONS = 20
MAX_QUESTION_LENGTH = 300


class DutyProblem(StrEnum):
    no_units = "no_units"
    """The scope names no active unit."""
    past_due = "past_due"
    """A fixed due day that has already passed."""
    bad_rule = "bad_rule"
    bad_questions = "bad_questions"
    unknown = "unknown"


@dataclass(frozen=True)
class DutySpec:
    """Everything an admin decides about a duty."""

    kind: ObligationKind
    title: str
    scope: DutyScope
    rule: DueRule
    scope_class: str | None = None
    unit_ids: tuple[int, ...] = ()
    questions: tuple[str, ...] = ()
    campaign_id: int | None = None


def rule_of(obligation: Obligation) -> DueRule:
    return DueRule(
        period=DuePeriod(obligation.period),
        due_on=obligation.due_on,
        days_after=obligation.days_after,
        starts_on=obligation.starts_on,
        ends_on=obligation.ends_on,
    )


def questions_of(row: Obligation | Submission) -> list[str]:
    return [str(q) for q in json.loads(row.questions or "[]")]


@dataclass(frozen=True)
class _Unit:
    id: int
    kind: DepartmentKind
    dept_class: str | None


async def _active_units(session: AsyncSession) -> list[_Unit]:
    statement = (
        select(col(Department.id), col(Department.kind), col(Department.dept_class))
        .where(col(Department.active))
        .order_by(col(Department.id))
    )
    return [_Unit(i, kind, c) for i, kind, c in (await session.exec(statement)).all() if i]


def _covered(
    units: Sequence[_Unit], scope: DutyScope, scope_class: str | None, unit_ids: Sequence[int]
) -> list[int]:
    """Of the active `units`, the ids a scope covers; one rule for a single duty and for the
    scan's batch of them."""
    if scope is DutyScope.listed:
        listed = set(unit_ids)
        return [u.id for u in units if u.id in listed]
    return [
        u.id
        for u in units
        if u.kind in UNIT_KINDS and (scope is DutyScope.all or u.dept_class == scope_class)
    ]


async def scope_unit_ids(
    session: AsyncSession,
    scope: DutyScope,
    scope_class: str | None,
    unit_ids: Sequence[int],
) -> list[int]:
    """The active units a scope covers, by id."""
    return _covered(await _active_units(session), scope, scope_class, unit_ids)


async def _listed_units(
    session: AsyncSession, obligation_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The units each of these duties names (`ObligationUnit`), by duty id."""
    statement = select(ObligationUnit.obligation_id, ObligationUnit.department_id).where(
        col(ObligationUnit.obligation_id).in_(list(obligation_ids))
    )
    listed: dict[int, list[int]] = {}
    for obligation_id, department_id in (await session.exec(statement)).all():
        listed.setdefault(obligation_id, []).append(department_id)
    return listed


@dataclass(frozen=True)
class DutyOverview:
    """What `/duty list` says of one duty."""

    units: int
    """Active units it covers now."""
    filed: int
    """Submissions filed at least once."""
    listed_codes: list[str]
    """The codes of a `listed` duty's units, in code order."""


async def duty_overviews(
    session: AsyncSession, obligations: Sequence[Obligation]
) -> dict[int, DutyOverview]:
    """Every duty's overview in a fixed few statements, not a few per duty."""
    ids = [o.id for o in obligations if o.id is not None]
    units = await _active_units(session)
    listed = await _listed_units(session, ids)
    filed_rows = await session.exec(
        select(Submission.obligation_id, func.count())
        .where(col(Submission.obligation_id).in_(ids), col(Submission.rounds) > 0)
        .group_by(col(Submission.obligation_id))
    )
    filed = {obligation_id: count for obligation_id, count in filed_rows.all()}
    code_rows = await session.exec(
        select(ObligationUnit.obligation_id, Department.code)
        .join(Department, col(Department.id) == col(ObligationUnit.department_id))
        .where(col(ObligationUnit.obligation_id).in_(ids))
        .order_by(col(Department.code))
    )
    codes: dict[int, list[str]] = {}
    for obligation_id, code in code_rows.all():
        codes.setdefault(obligation_id, []).append(code)
    return {
        o.id: DutyOverview(
            units=len(_covered(units, DutyScope(o.scope), o.scope_class, listed.get(o.id, []))),
            filed=filed.get(o.id, 0),
            listed_codes=codes.get(o.id, []),
        )
        for o in obligations
        if o.id is not None
    }


def _clean_questions(questions: Sequence[str]) -> list[str] | None:
    cleaned = [q.strip() for q in questions if q.strip()]
    if len(cleaned) > MAX_QUESTIONS or any(len(q) > MAX_QUESTION_LENGTH for q in cleaned):
        return None
    return cleaned


async def _check(
    session: AsyncSession, spec: DutySpec, today: date, *, kept_due: bool = False
) -> DutyProblem | None:
    """`kept_due`: an edit that leaves the due rule alone may fix the title of a duty already
    past its day; only a new day must lie ahead."""
    if spec.rule.problem() is not None or not spec.title.strip():
        return DutyProblem.bad_rule
    past = spec.rule.period is DuePeriod.once and spec.rule.due_on and spec.rule.due_on < today
    if past and not kept_due:
        return DutyProblem.past_due
    if _clean_questions(spec.questions) is None:
        return DutyProblem.bad_questions
    units = await scope_unit_ids(session, spec.scope, spec.scope_class, spec.unit_ids)
    if not units:
        return DutyProblem.no_units
    return None


async def create_obligation(
    session: AsyncSession,
    spec: DutySpec,
    *,
    actor_account_id: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> Obligation | DutyProblem:
    today = local_date(now, tz)
    problem = await _check(session, spec, today)
    if problem is not None:
        return problem
    # The required fields are given here and written again, with the rest, by `_write_spec`.
    obligation = Obligation(
        campaign_id=spec.campaign_id,
        kind=spec.kind,
        title=spec.title,
        scope=spec.scope,
        period=spec.rule.period,
        starts_on=spec.rule.starts_on or today,
        created_by=actor_account_id,
        created_at=now,
    )
    _write_spec(obligation, spec, now)
    session.add(obligation)
    await session.flush()
    assert obligation.id is not None
    _link_units(session, obligation.id, spec)
    await session.flush()
    return obligation


def _write_spec(obligation: Obligation, spec: DutySpec, now: datetime) -> None:
    """What a new duty and an edit take from the spec alike (an edit keeps the duty's
    `starts_on`, see `edit_obligation`); the spec has passed `_check`."""
    obligation.kind = spec.kind
    obligation.title = spec.title.strip()[:200]
    obligation.scope = spec.scope
    obligation.scope_class = spec.scope_class if spec.scope is DutyScope.dept_class else None
    obligation.period = spec.rule.period
    obligation.due_on = spec.rule.due_on
    obligation.days_after = spec.rule.days_after
    obligation.ends_on = spec.rule.ends_on
    obligation.questions = json.dumps(_clean_questions(spec.questions), ensure_ascii=False)
    obligation.updated_at = now


def _link_units(session: AsyncSession, obligation_id: int, spec: DutySpec) -> None:
    """The units a `listed` duty names, each once; other scopes are read from the units."""
    if spec.scope is DutyScope.listed:
        for unit_id in dict.fromkeys(spec.unit_ids):
            session.add(ObligationUnit(obligation_id=obligation_id, department_id=unit_id))


async def switch_off(session: AsyncSession, obligation: Obligation, now: datetime) -> None:
    """No new periods open for the duty; what units already filed stays."""
    obligation.active = False
    obligation.updated_at = now
    session.add(obligation)
    await session.flush()


async def has_filings(session: AsyncSession, obligation_id: int) -> bool:
    statement = (
        select(Submission.id)
        .where(Submission.obligation_id == obligation_id, col(Submission.rounds) > 0)
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None


@dataclass(frozen=True)
class EditResult:
    obligation: Obligation
    future_only: bool
    """Something was already filed: submissions already opened keep their due time, questions
    and units; the change applies to periods still to come (the admin is told so)."""


async def edit_obligation(
    session: AsyncSession,
    obligation_id: int,
    spec: DutySpec,
    *,
    now: datetime,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> EditResult | DutyProblem:
    obligation = await session.get(Obligation, obligation_id)
    if obligation is None:
        return DutyProblem.unknown
    today = local_date(now, tz)
    kept_due = (spec.rule.period, spec.rule.due_on, spec.rule.days_after) == (
        obligation.period,
        obligation.due_on,
        obligation.days_after,
    )
    problem = await _check(session, spec, today, kept_due=kept_due)
    if problem is not None:
        return problem
    future_only = await has_filings(session, obligation_id)
    _write_spec(obligation, spec, now)
    if future_only:
        # Periods opened so far stay as they were; the next materialisation opens new ones
        # from today's rule only.
        obligation.starts_on = max(obligation.starts_on, today + timedelta(days=1))
    await session.exec(
        delete(ObligationUnit).where(col(ObligationUnit.obligation_id) == obligation_id)
    )
    _link_units(session, obligation_id, spec)
    if not future_only:
        # Nothing filed yet: every opened submission follows the new duty.
        units = set(await scope_unit_ids(session, spec.scope, spec.scope_class, spec.unit_ids))
        rule = rule_of(obligation)
        for submission in (
            await session.exec(select(Submission).where(Submission.obligation_id == obligation_id))
        ).all():
            if submission.department_id not in units:
                await session.delete(submission)
                continue
            submission.questions = obligation.questions
            submission.due_at = _due_for(rule, submission.period, calendar, tz)
            submission.version += 1
    await session.flush()
    return EditResult(obligation, future_only)


def _due_for(rule: DueRule, key: str, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    return due_time(due_day(rule, parse_period(key), calendar), tz)


async def open_submissions(
    session: AsyncSession, now: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> int:
    """Create the submission every unit owes for every opened period of every active duty.

    Idempotent (existing rows are looked up first, and the table's unique key guards the rest);
    the deadline scan calls it before reading due times, so a new quarter's report shows up in
    `/duties` and gets its reminders without anybody starting it. A few statements whatever the
    number of duties: the scan runs it every time.
    """
    today = local_date(now, tz)
    owed: list[tuple[Obligation, DueRule, list[Period | None]]] = []
    for obligation in (await session.exec(select(Obligation).where(col(Obligation.active)))).all():
        rule = rule_of(obligation)
        periods = owed_periods(rule, today)
        if periods:
            owed.append((obligation, rule, periods))
    if not owed:
        return 0
    ids = [o.id for o, _rule, _periods in owed if o.id is not None]
    units = await _active_units(session)
    listed = await _listed_units(session, ids)
    keys = {period_key(p) for _o, _rule, periods in owed for p in periods}
    opened = select(Submission.obligation_id, Submission.department_id, Submission.period).where(
        col(Submission.obligation_id).in_(ids), col(Submission.period).in_(keys)
    )
    existing = {(o, d, p) for o, d, p in (await session.exec(opened)).all()}
    added = 0
    for obligation, rule, periods in owed:
        assert obligation.id is not None
        unit_ids = _covered(
            units,
            DutyScope(obligation.scope),
            obligation.scope_class,
            listed.get(obligation.id, []),
        )
        for period in periods:
            key = period_key(period)
            due_at = due_time(due_day(rule, period, calendar), tz)
            for unit_id in unit_ids:
                if (obligation.id, unit_id, key) in existing:
                    continue
                session.add(
                    Submission(
                        obligation_id=obligation.id,
                        department_id=unit_id,
                        period=key,
                        due_at=due_at,
                        questions=obligation.questions,
                        created_at=now,
                    )
                )
                added += 1
    await session.flush()
    return added


def status_of(submission: Submission) -> SubmissionStatus:
    return read_status(SubmissionStatus, submission)


class AccessProblem(StrEnum):
    unknown = "unknown"
    not_yours = "not_yours"
    """A liaison of another unit: answered like an unknown submission, never with its content."""


async def file_submission(
    session: AsyncSession,
    submission_id: int,
    *,
    department_ids: Sequence[int],
    answers: object,
    body: str | None,
    actor_account_id: int | None,
    now: datetime,
) -> SubmissionRound | SubmissionProblem | AccessProblem:
    """Record one round for a unit the actor is a liaison of; the caller adds its files
    (`DutyFile.round_id`) in the same transaction."""
    submission = await session.get(Submission, submission_id, with_for_update=True)
    if submission is None:
        return AccessProblem.unknown
    if submission.department_id not in department_ids:
        return AccessProblem.not_yours
    status = file_round(status_of(submission), now)
    if isinstance(status, SubmissionProblem):
        return status
    write_status(submission, status)
    filed = SubmissionRound(
        submission_id=submission_id,
        number=status.rounds,
        answers=json.dumps(answers, ensure_ascii=False, default=str),
        body=body,
        submitted_by=actor_account_id,
        submitted_at=now,
    )
    session.add(filed)
    await session.flush()
    return filed


async def review_submission(
    session: AsyncSession,
    submission_id: int,
    decision: ReviewDecision,
    comment: str | None,
    *,
    version: int,
    reviewer_account_id: int | None,
    now: datetime,
    resubmit_days: int,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> Submission | SubmissionProblem | AccessProblem:
    """Accept or return the last round; a return owes another round `resubmit_days` working
    days later. The round keeps the decision and comment, so every round stays visible."""
    submission = await session.get(Submission, submission_id, with_for_update=True)
    if submission is None:
        return AccessProblem.unknown
    status = review(
        status_of(submission),
        decision,
        comment,
        now,
        version=version,
        resubmit_due_at=add_working_days(now, resubmit_days, calendar, tz),
    )
    if isinstance(status, SubmissionProblem):
        return status
    write_status(submission, status)
    last = await last_round(session, submission_id)
    assert last is not None  # a submitted submission has filed a round
    last.decision = decision
    last.comment = (comment or "").strip() or None
    last.reviewed_by = reviewer_account_id
    last.reviewed_at = now
    await session.flush()
    return submission


async def last_round(session: AsyncSession, submission_id: int) -> SubmissionRound | None:
    return (
        await session.exec(
            select(SubmissionRound)
            .where(SubmissionRound.submission_id == submission_id)
            .order_by(col(SubmissionRound.number).desc())
            .limit(1)
        )
    ).first()


async def rounds_of(session: AsyncSession, submission_id: int) -> list[SubmissionRound]:
    return list(
        (
            await session.exec(
                select(SubmissionRound)
                .where(SubmissionRound.submission_id == submission_id)
                .order_by(col(SubmissionRound.number))
            )
        ).all()
    )
