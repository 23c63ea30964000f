"""The unit's side of duties: what a unit owes and where each stands, and filing a periodic
report or a self-check with everything that belongs to the round, in the caller's transaction.

A self-check filed again after a return replaces the ledger items of its earlier round that
nobody has touched yet (still open, history only "created"); items the unit has worked on, or the
office has judged, stay, because their history is the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import end_of_day
from db.duties.obligations import AccessProblem, file_submission, status_of
from db.duties.rules import SubmissionProblem, current_due
from db.ledger.items import NewItem, add_item
from db.models import (
    DutyFile,
    LedgerSource,
    LedgerState,
    LedgerUpdate,
    LedgerUpdateKind,
    Obligation,
    RectificationItem,
    Role,
    RoleGrant,
    Submission,
    SubmissionRound,
    SubmissionState,
)

RECENT_ACCEPTED = 10
"""Accepted submissions listed per unit: the newest few; older ones only clutter the list."""


@dataclass(frozen=True)
class OfficialUnits:
    liaison_of: frozenset[int]
    leader_of: frozenset[int]

    @property
    def all(self) -> list[int]:
        return sorted(self.liaison_of | self.leader_of)


async def official_units(session: AsyncSession, account_id: int) -> OfficialUnits:
    """The units a person is an active liaison or leader of."""
    rows = (
        await session.exec(
            select(RoleGrant.role, RoleGrant.department_id).where(
                RoleGrant.account_id == account_id,
                col(RoleGrant.revoked_at).is_(None),
                col(RoleGrant.department_id).is_not(None),
            )
        )
    ).all()
    liaison = frozenset(d for role, d in rows if role == Role.liaison and d is not None)
    leader = frozenset(d for role, d in rows if role == Role.leader and d is not None)
    return OfficialUnits(liaison, leader)


class DutyStatus(StrEnum):
    """What `/duties` shows; `overdue` is computed, never stored."""

    due = "due"
    overdue = "overdue"
    submitted = "submitted"
    returned = "returned"
    accepted = "accepted"


def duty_status(submission: Submission, now: datetime) -> DutyStatus:
    state = SubmissionState(submission.state)
    if state is SubmissionState.due:
        return DutyStatus.overdue if now > submission.due_at else DutyStatus.due
    return DutyStatus(state.value)


def working_due(submission: Submission) -> datetime:
    """The due time the unit works against (`current_due`), and for one filed the period's, so
    every submission sorts and shows by one time."""
    return current_due(status_of(submission)) or submission.due_at


async def unit_duties(
    session: AsyncSession, department_id: int
) -> list[tuple[Submission, Obligation]]:
    """What a unit owes: open and submitted ones by due time, then the newest accepted."""
    statement = (
        select(Submission, Obligation)
        .join(Obligation, col(Obligation.id) == col(Submission.obligation_id))
        .where(Submission.department_id == department_id)
    )
    pending = (
        await session.exec(
            statement.where(col(Submission.state) != SubmissionState.accepted).order_by(
                col(Submission.due_at), col(Submission.id)
            )
        )
    ).all()
    accepted = (
        await session.exec(
            statement.where(col(Submission.state) == SubmissionState.accepted)
            .order_by(col(Submission.accepted_at).desc(), col(Submission.id).desc())
            .limit(RECENT_ACCEPTED)
        )
    ).all()
    rows = sorted(pending, key=lambda r: (working_due(r[0]), r[0].id or 0))
    return [*rows, *accepted]


@dataclass(frozen=True)
class NewFile:
    kind: str
    mime_type: str
    size: int
    sha256: str
    path: str
    file_name: str | None = None


@dataclass(frozen=True)
class Filed:
    round: SubmissionRound
    on_time: bool
    """Against the due time the unit was working to when it filed (a return's own due)."""
    added: tuple[RectificationItem, ...] = ()
    kept: tuple[RectificationItem, ...] = ()


async def file_report(
    session: AsyncSession,
    submission_id: int,
    *,
    department_ids: Sequence[int],
    answers: Sequence[tuple[str, str]],
    body: str | None,
    files: Sequence[NewFile],
    actor_account_id: int | None,
    now: datetime,
) -> Filed | SubmissionProblem | AccessProblem:
    """A periodic report's round: the answers (question, answer), the text and the files."""
    due = await _due_before(session, submission_id)
    filed = await file_submission(
        session,
        submission_id,
        department_ids=department_ids,
        answers=[{"question": q, "answer": a} for q, a in answers],
        body=body,
        actor_account_id=actor_account_id,
        now=now,
    )
    if not isinstance(filed, SubmissionRound):
        return filed
    for f in files:
        session.add(
            DutyFile(
                round_id=filed.id,
                kind=f.kind,
                file_name=f.file_name,
                mime_type=f.mime_type,
                size=f.size,
                sha256=f.sha256,
                path=f.path,
                created_at=now,
            )
        )
    await session.flush()
    return Filed(filed, due is not None and now <= due)


async def _due_before(session: AsyncSession, submission_id: int) -> datetime | None:
    submission = await session.get(Submission, submission_id)
    return working_due(submission) if submission is not None else None


@dataclass(frozen=True)
class Finding:
    """One category's answer in a self-check."""

    category_id: int
    found: bool
    description: str | None = None
    measure: str | None = None
    owner_name: str | None = None
    due_on: date | None = None


async def file_self_check(
    session: AsyncSession,
    submission_id: int,
    *,
    department_ids: Sequence[int],
    findings: Sequence[Finding],
    actor_account_id: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> Filed | SubmissionProblem | AccessProblem:
    """A self-check's round; every problem found becomes a rectification item due at the end of
    its local due day, replacing the untouched items of an earlier round."""
    due = await _due_before(session, submission_id)
    filed = await file_submission(
        session,
        submission_id,
        department_ids=department_ids,
        answers=[
            {
                "category_id": f.category_id,
                "found": f.found,
                "description": f.description,
                "measure": f.measure,
                "owner": f.owner_name,
                "due_on": f.due_on.isoformat() if f.due_on else None,
            }
            for f in findings
        ],
        body=None,
        actor_account_id=actor_account_id,
        now=now,
    )
    if not isinstance(filed, SubmissionRound):
        return filed
    submission = await session.get(Submission, submission_id)
    assert submission is not None
    added, kept = await replace_self_check_items(
        session, submission, findings, actor_account_id=actor_account_id, now=now, tz=tz
    )
    return Filed(filed, due is not None and now <= due, added, kept)


async def untouched_items(session: AsyncSession, submission_id: int) -> list[RectificationItem]:
    """The submission's items nobody has worked on: open, never reopened, and with no history
    but their creation."""
    worked_on = (
        select(func.count())
        .select_from(LedgerUpdate)
        .where(
            col(LedgerUpdate.item_id) == col(RectificationItem.id),
            col(LedgerUpdate.kind) != LedgerUpdateKind.created,
        )
        .scalar_subquery()
    )
    statement = (
        select(RectificationItem)
        .where(
            RectificationItem.submission_id == submission_id,
            col(RectificationItem.state) == LedgerState.open,
            RectificationItem.reopen_count == 0,
            worked_on == 0,
        )
        .order_by(col(RectificationItem.id))
    )
    return list((await session.exec(statement)).all())


async def replace_self_check_items(
    session: AsyncSession,
    submission: Submission,
    findings: Sequence[Finding],
    *,
    actor_account_id: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[tuple[RectificationItem, ...], tuple[RectificationItem, ...]]:
    """Drop the untouched items of the submission, add one per finding; returns (added, kept)."""
    assert submission.id is not None
    dropped = [item.id for item in await untouched_items(session, submission.id)]
    if dropped:
        # Their only history is the `created` row, which goes with them.
        await session.exec(delete(LedgerUpdate).where(col(LedgerUpdate.item_id).in_(dropped)))
        await session.exec(delete(RectificationItem).where(col(RectificationItem.id).in_(dropped)))
    kept = (
        await session.exec(
            select(RectificationItem)
            .where(RectificationItem.submission_id == submission.id)
            .order_by(col(RectificationItem.id))
        )
    ).all()
    added = []
    for finding in findings:
        if not finding.found or finding.due_on is None:
            continue
        added.append(
            await add_item(
                session,
                NewItem(
                    department_id=submission.department_id,
                    source=LedgerSource.self_check,
                    description=finding.description or "",
                    due_at=end_of_day(finding.due_on, tz),
                    measure=finding.measure,
                    owner_name=finding.owner_name,
                    category_id=finding.category_id,
                    submission_id=submission.id,
                ),
                actor_account_id=actor_account_id,
                now=now,
            )
        )
    return tuple(added), tuple(kept)
