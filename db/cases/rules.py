"""Case handling (受理 → 派单 → 签收 → 办理 → 反馈 → 回访 → 办结) as a pure state machine.

"事事有回音、件件有着落": a report that is not finished always has somebody responsible for it
(`Case.owner`) and a moment by which they must act (`Case.due_at`, `Case.due_kind`). Keeping the
rules here, as plain functions of a frozen `Case`, lets hypothesis drive thousands of command
sequences through them without Telegram or a database, and gives handlers and the scheduler one
place that decides who may do what and when.

`apply` never trusts where a command came from: permission follows only from the `Actor` (which
the caller builds from the database, never from callback data) and the `Case`. It returns either
`Applied` (the new case and the one timeline event to record) or `Refused` (a reason; nothing
changed). Checks run in a fixed order — who, then the state, then time limits and once-only
rules, then the command's own values — so a forged or stale button is refused for what it is
before its content matters.

Concurrency: `apply` is a function of the case it is given, so two liaisons pressing 签收 at once
both get `Applied` if both read the case before either wrote it. The caller must make the
read-apply-write atomic: read the report under a row lock (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite serialises writers, so a ``BEGIN IMMEDIATE`` transaction), or write back with a
compare-and-set (``UPDATE … WHERE id = :id AND updated_at = :read_at``; the state alone is not
enough, since an extension request changes the case without changing its state). The loser then
sees the signed case, and its `Sign` is refused with `RefusalReason.wrong_state`: exactly one wins.

Rules chosen where the issue is silent:

* The reply time limit runs from the moment of signing (签收后 N 个工作日), and a 重办 gets a fresh
  one from the moment it is reopened; signing late is allowed (the lateness is a metric, and the
  report must still move on).
* While a question is with the reporter the owner is the reporter, but the due time stays the
  department's reply due: the clock does not stop, and the department may answer without waiting.
* An extension is one request per case (a denied request uses it up; a 重办 does not give another).
  Approval moves the due time from the current due, or from now when the office decides after the
  due time has already passed, so a slow decision never yields a due time in the past.
* Reject and merge are possible while the office owns the case before handling (received,
  returned); an escalated case is finished with `CloseByAdmin` or sent out again with `Reassign`.
* A second 不满意 escalates, whether after the 重办 or after a reassignment that followed an
  escalation: a case is reopened at most once.
* After a return or an escalation the case keeps the department it was last assigned to, so the
  timeline names it and that department's stale buttons are refused as `wrong_state`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar, assert_never
from zoneinfo import ZoneInfo

from db.calendar.workdays import (
    WorkCalendar,
    add_working_days,
    end_of_day,
    local_date,
    previous_working_day,
)
from db.models import EventKind, ReportState

TERMINAL_STATES = frozenset({ReportState.closed, ReportState.rejected, ReportState.merged})
"""States in which nobody owes anything: no owner and no due time."""

_T = TypeVar("_T")

_OFFICE_STATES = frozenset({ReportState.received, ReportState.returned})
"""The office owns the case and no department is handling it: it may be rejected or merged."""

_HANDLING_STATES = frozenset({ReportState.signed, ReportState.info_requested})
"""The department is working on it: it may reply or ask for an extension."""


class OwnerKind(StrEnum):
    admins = "admins"
    department = "department"
    reporter = "reporter"


@dataclass(frozen=True)
class Owner:
    """Who must act next: the office, one department, or the reporter (a rating, an answer)."""

    kind: OwnerKind
    department_id: int | None = None

    def __post_init__(self) -> None:
        if (self.kind is OwnerKind.department) != (self.department_id is not None):
            raise ValueError("a department owner needs a department id, and only it has one")

    @classmethod
    def admins(cls) -> Owner:
        return cls(OwnerKind.admins)

    @classmethod
    def department(cls, department_id: int) -> Owner:
        return cls(OwnerKind.department, department_id)

    @classmethod
    def reporter(cls) -> Owner:
        return cls(OwnerKind.reporter)


class DueKind(StrEnum):
    """What the due time is for, so reminders and displays can say what is expected."""

    triage = "triage"
    sign = "sign"
    reply = "reply"
    rating = "rating"
    reassign = "reassign"
    """The office must route a returned or escalated case again (or close it)."""


class Rating(StrEnum):
    satisfied = "satisfied"
    basically_satisfied = "basically_satisfied"
    unsatisfied = "unsatisfied"


class RefusalReason(StrEnum):
    not_allowed = "not_allowed"
    wrong_state = "wrong_state"
    too_late = "too_late"
    window_closed = "window_closed"
    already_used = "already_used"
    bad_value = "bad_value"
    conflict_of_interest = "conflict_of_interest"
    not_due_yet = "not_due_yet"


class ActorRole(StrEnum):
    """The capacity in which an event's actor acted; admin and liaison match `db.models.Role`."""

    admin = "admin"
    liaison = "liaison"
    reporter = "reporter"
    system = "system"


@dataclass(frozen=True)
class ExtensionRequest:
    days: int
    reason: str
    requested_at: datetime


@dataclass(frozen=True)
class Case:
    """Everything the rules need to know about one report; times are aware UTC."""

    state: ReportState
    owner: Owner | None
    """None exactly when the state is terminal."""
    due_at: datetime | None
    due_kind: DueKind | None
    department_id: int | None = None
    """The department handling it, or the one it was last assigned to (see the module notes)."""
    assigned_at: datetime | None = None
    signed_at: datetime | None = None
    replied_at: datetime | None = None
    extension_used: bool = False
    extension_pending: ExtensionRequest | None = None
    reopen_count: int = 0
    conflict_department_id: int | None = None
    """The department whose own leader the report concerns: it must never handle the report."""
    rating: Rating | None = None
    """The latest rating; None until rated, and after closing as 未评价."""
    merged_into: int | None = None
    """The report id this one was merged into (并单): the reporter follows that one."""


@dataclass(frozen=True)
class Limits:
    """Time limits in working days; `reply_days` is set per category by the caller."""

    triage_days: int = 1
    sign_days: int = 1
    reply_days: int = 15
    return_window_days: int = 2
    max_extension_days: int = 10
    rating_days: int = 7
    reassign_days: int = 1

    def __post_init__(self) -> None:
        # Limits come from configuration and admin-edited categories: fail at load, not at 3 am.
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise ValueError(f"{field.name} must not be negative")


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the caller established it from the database (never from a button).

    `leader_of` grants no command here: leaders receive escalations (督办) and digests but do not
    handle cases, and carrying it keeps one Actor per person for every check a caller makes.
    """

    account_id: int | None = None
    is_admin: bool = False
    liaison_of: frozenset[int] = frozenset()
    leader_of: frozenset[int] = frozenset()
    is_reporter: bool = False
    """Decided by the caller: the reporter's linked account, or whoever opened the receipt."""
    is_system: bool = False

    @classmethod
    def system(cls) -> Actor:
        """The scheduler (closing unrated cases) and automatic routing."""
        return cls(is_system=True)


@dataclass(frozen=True)
class Accept:
    """Triage: accept the report and assign it to a department in one step (受理 + 派单)."""

    department_id: int


@dataclass(frozen=True)
class Reject:
    """不予受理; the reason is shown to the reporter."""

    reason: str


@dataclass(frozen=True)
class Merge:
    """并单: the caller checks that the target exists and is not this report."""

    into_report_id: int


@dataclass(frozen=True)
class Sign:
    """签收."""


@dataclass(frozen=True)
class Return:
    """退单 of a misrouted report, within the return window; the reason stays internal."""

    reason: str


@dataclass(frozen=True)
class Reassign:
    department_id: int


@dataclass(frozen=True)
class RequestInfo:
    question: str


@dataclass(frozen=True)
class AnswerInfo:
    text: str


@dataclass(frozen=True)
class RequestExtension:
    days: int
    reason: str


@dataclass(frozen=True)
class DecideExtension:
    approve: bool


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class Rate:
    rating: Rating
    comment: str | None = None


@dataclass(frozen=True)
class CloseUnrated:
    """No rating within the rating time limit: closed as 未评价."""


@dataclass(frozen=True)
class CloseByAdmin:
    """The office's final word on an escalated case; the note is shown to the reporter."""

    note: str


Command = (
    Accept
    | Reject
    | Merge
    | Sign
    | Return
    | Reassign
    | RequestInfo
    | AnswerInfo
    | RequestExtension
    | DecideExtension
    | Reply
    | Rate
    | CloseUnrated
    | CloseByAdmin
)


@dataclass(frozen=True)
class EventSpec:
    """The timeline entry the caller records; `public` is what the reporter may see."""

    kind: EventKind
    public: bool
    body: str | None
    actor_role: ActorRole


@dataclass(frozen=True)
class Applied:
    case: Case
    event: EventSpec


@dataclass(frozen=True)
class Refused:
    reason: RefusalReason


_PUBLIC_KINDS = frozenset(
    {
        EventKind.accepted,
        EventKind.rejected,
        EventKind.merged,
        EventKind.signed,
        EventKind.reassigned,
        EventKind.info_requested,
        EventKind.info_answered,
        EventKind.extension_approved,
        EventKind.replied,
        EventKind.rated,
        EventKind.reopened,
        EventKind.escalated,
        EventKind.closed,
        EventKind.closed_unrated,
    }
)
"""The reporter always knows where the report stands, including a new due time after an
extension; the department's internal notes (a return reason, an extension request, a denial)
stay with the department and the office."""


@dataclass(frozen=True)
class _Step:
    """One call's context, so every rule computes due times the same way."""

    actor: Actor
    now: datetime
    calendar: WorkCalendar
    limits: Limits
    tz: ZoneInfo

    def due(self, days: int, start: datetime | None = None) -> datetime:
        return add_working_days(self.now if start is None else start, days, self.calendar, self.tz)

    def applied(self, case: Case, kind: EventKind, role: ActorRole, body: str | None) -> Applied:
        return Applied(case, EventSpec(kind, kind in _PUBLIC_KINDS, body, role))


def _clean(text: str | None) -> str | None:
    """Stripped text, or None when nothing is left: blank questions and answers are refused."""
    if text is None:
        return None
    return text.strip() or None


def _need(value: _T | None, what: str) -> _T:
    """A field the state guarantees; its absence means corrupt stored data, not a user error."""
    if value is None:
        raise ValueError(f"inconsistent case: {what} is missing")
    return value


def _is_case_liaison(case: Case, actor: Actor) -> bool:
    return case.department_id is not None and case.department_id in actor.liaison_of


def _finish(case: Case, state: ReportState) -> Case:
    """A terminal state: nobody owes anything any more."""
    return replace(
        case, state=state, owner=None, due_at=None, due_kind=None, extension_pending=None
    )


def _assign(case: Case, department_id: int, step: _Step) -> Case:
    return replace(
        case,
        state=ReportState.assigned,
        owner=Owner.department(department_id),
        due_at=step.due(step.limits.sign_days),
        due_kind=DueKind.sign,
        department_id=department_id,
        assigned_at=step.now,
        signed_at=None,
        replied_at=None,
        extension_pending=None,
    )


def _accept(case: Case, command: Accept, step: _Step) -> Applied | Refused:
    actor = step.actor
    if not (actor.is_admin or actor.is_system):
        return Refused(RefusalReason.not_allowed)
    if case.state is not ReportState.received:
        return Refused(RefusalReason.wrong_state)
    if command.department_id == case.conflict_department_id:
        return Refused(RefusalReason.conflict_of_interest)
    role = ActorRole.admin if actor.is_admin else ActorRole.system
    return step.applied(_assign(case, command.department_id, step), EventKind.accepted, role, None)


def _reject(case: Case, command: Reject, step: _Step) -> Applied | Refused:
    if not step.actor.is_admin:
        return Refused(RefusalReason.not_allowed)
    if case.state not in _OFFICE_STATES:
        return Refused(RefusalReason.wrong_state)
    reason = _clean(command.reason)
    if reason is None:
        return Refused(RefusalReason.bad_value)
    new = _finish(case, ReportState.rejected)
    return step.applied(new, EventKind.rejected, ActorRole.admin, reason)


def _merge(case: Case, command: Merge, step: _Step) -> Applied | Refused:
    if not step.actor.is_admin:
        return Refused(RefusalReason.not_allowed)
    if case.state not in _OFFICE_STATES:
        return Refused(RefusalReason.wrong_state)
    if command.into_report_id < 1:
        return Refused(RefusalReason.bad_value)
    new = _finish(replace(case, merged_into=command.into_report_id), ReportState.merged)
    return step.applied(new, EventKind.merged, ActorRole.admin, None)


def _sign(case: Case, step: _Step) -> Applied | Refused:
    if not _is_case_liaison(case, step.actor):
        return Refused(RefusalReason.not_allowed)
    if case.state is not ReportState.assigned:
        return Refused(RefusalReason.wrong_state)
    new = replace(
        case,
        state=ReportState.signed,
        due_at=step.due(step.limits.reply_days),
        due_kind=DueKind.reply,
        signed_at=step.now,
    )
    return step.applied(new, EventKind.signed, ActorRole.liaison, None)


def _return(case: Case, command: Return, step: _Step) -> Applied | Refused:
    if not _is_case_liaison(case, step.actor):
        return Refused(RefusalReason.not_allowed)
    if case.state not in (ReportState.assigned, ReportState.signed):
        return Refused(RefusalReason.wrong_state)
    assigned_at = _need(case.assigned_at, "assigned_at")
    if step.now > step.due(step.limits.return_window_days, assigned_at):
        return Refused(RefusalReason.window_closed)
    reason = _clean(command.reason)
    if reason is None:
        return Refused(RefusalReason.bad_value)
    new = replace(
        case,
        state=ReportState.returned,
        owner=Owner.admins(),
        due_at=step.due(step.limits.reassign_days),
        due_kind=DueKind.reassign,
        extension_pending=None,
    )
    return step.applied(new, EventKind.returned, ActorRole.liaison, reason)


def _reassign(case: Case, command: Reassign, step: _Step) -> Applied | Refused:
    if not step.actor.is_admin:
        return Refused(RefusalReason.not_allowed)
    if case.state not in (ReportState.returned, ReportState.escalated):
        return Refused(RefusalReason.wrong_state)
    if command.department_id == case.conflict_department_id:
        return Refused(RefusalReason.conflict_of_interest)
    new = _assign(case, command.department_id, step)
    return step.applied(new, EventKind.reassigned, ActorRole.admin, None)


def _request_info(case: Case, command: RequestInfo, step: _Step) -> Applied | Refused:
    if not _is_case_liaison(case, step.actor):
        return Refused(RefusalReason.not_allowed)
    if case.state is not ReportState.signed:
        return Refused(RefusalReason.wrong_state)
    question = _clean(command.question)
    if question is None:
        return Refused(RefusalReason.bad_value)
    new = replace(case, state=ReportState.info_requested, owner=Owner.reporter())
    return step.applied(new, EventKind.info_requested, ActorRole.liaison, question)


def _answer_info(case: Case, command: AnswerInfo, step: _Step) -> Applied | Refused:
    if not step.actor.is_reporter:
        return Refused(RefusalReason.not_allowed)
    if case.state is not ReportState.info_requested:
        return Refused(RefusalReason.wrong_state)
    text = _clean(command.text)
    if text is None:
        return Refused(RefusalReason.bad_value)
    department_id = _need(case.department_id, "department_id")
    new = replace(case, state=ReportState.signed, owner=Owner.department(department_id))
    return step.applied(new, EventKind.info_answered, ActorRole.reporter, text)


def _request_extension(case: Case, command: RequestExtension, step: _Step) -> Applied | Refused:
    if not _is_case_liaison(case, step.actor):
        return Refused(RefusalReason.not_allowed)
    if case.state not in _HANDLING_STATES:
        return Refused(RefusalReason.wrong_state)
    if case.extension_used:
        return Refused(RefusalReason.already_used)
    due_day = local_date(_need(case.due_at, "due_at"), step.tz)
    last_moment = end_of_day(previous_working_day(due_day, step.calendar), step.tz)
    if step.now > last_moment:
        return Refused(RefusalReason.too_late)
    reason = _clean(command.reason)
    if reason is None or not 1 <= command.days <= step.limits.max_extension_days:
        return Refused(RefusalReason.bad_value)
    new = replace(
        case,
        extension_used=True,
        extension_pending=ExtensionRequest(command.days, reason, step.now),
    )
    return step.applied(new, EventKind.extension_requested, ActorRole.liaison, reason)


def _decide_extension(case: Case, command: DecideExtension, step: _Step) -> Applied | Refused:
    if not step.actor.is_admin:
        return Refused(RefusalReason.not_allowed)
    pending = case.extension_pending
    if pending is None or case.state not in _HANDLING_STATES:
        return Refused(RefusalReason.wrong_state)
    if not command.approve:
        new = replace(case, extension_pending=None)
        return step.applied(new, EventKind.extension_denied, ActorRole.admin, None)
    start = max(_need(case.due_at, "due_at"), step.now)
    new = replace(
        case,
        due_at=step.due(pending.days, start),
        due_kind=DueKind.reply,
        extension_pending=None,
    )
    return step.applied(new, EventKind.extension_approved, ActorRole.admin, None)


def _reply(case: Case, command: Reply, step: _Step) -> Applied | Refused:
    if not _is_case_liaison(case, step.actor):
        return Refused(RefusalReason.not_allowed)
    if case.state not in _HANDLING_STATES:
        return Refused(RefusalReason.wrong_state)
    text = _clean(command.text)
    if text is None:
        return Refused(RefusalReason.bad_value)
    new = replace(
        case,
        state=ReportState.replied,
        owner=Owner.reporter(),
        due_at=step.due(step.limits.rating_days),
        due_kind=DueKind.rating,
        replied_at=step.now,
        extension_pending=None,
    )
    return step.applied(new, EventKind.replied, ActorRole.liaison, text)


def _rate(case: Case, command: Rate, step: _Step) -> Applied | Refused:
    if not step.actor.is_reporter:
        return Refused(RefusalReason.not_allowed)
    if case.state is not ReportState.replied:
        return Refused(RefusalReason.wrong_state)
    comment = _clean(command.comment)
    if command.rating is not Rating.unsatisfied:
        new = _finish(replace(case, rating=command.rating), ReportState.closed)
        return step.applied(new, EventKind.rated, ActorRole.reporter, comment)
    if case.reopen_count == 0:
        new = replace(
            case,
            state=ReportState.signed,
            owner=Owner.department(_need(case.department_id, "department_id")),
            due_at=step.due(step.limits.reply_days),
            due_kind=DueKind.reply,
            replied_at=None,
            reopen_count=1,
            rating=Rating.unsatisfied,
        )
        return step.applied(new, EventKind.reopened, ActorRole.reporter, comment)
    new = replace(
        case,
        state=ReportState.escalated,
        owner=Owner.admins(),
        due_at=step.due(step.limits.reassign_days),
        due_kind=DueKind.reassign,
        rating=Rating.unsatisfied,
    )
    return step.applied(new, EventKind.escalated, ActorRole.reporter, comment)


def _close_unrated(case: Case, step: _Step) -> Applied | Refused:
    if not step.actor.is_system:
        return Refused(RefusalReason.not_allowed)
    if case.state is not ReportState.replied:
        return Refused(RefusalReason.wrong_state)
    if step.now <= _need(case.due_at, "due_at"):
        return Refused(RefusalReason.not_due_yet)
    # An earlier 不满意 (before a 重办) is on the timeline; the outcome of the case is 未评价.
    new = _finish(replace(case, rating=None), ReportState.closed)
    return step.applied(new, EventKind.closed_unrated, ActorRole.system, None)


def _close_by_admin(case: Case, command: CloseByAdmin, step: _Step) -> Applied | Refused:
    if not step.actor.is_admin:
        return Refused(RefusalReason.not_allowed)
    if case.state is not ReportState.escalated:
        return Refused(RefusalReason.wrong_state)
    note = _clean(command.note)
    if note is None:
        return Refused(RefusalReason.bad_value)
    new = _finish(case, ReportState.closed)
    return step.applied(new, EventKind.closed, ActorRole.admin, note)


def apply(
    case: Case,
    command: Command,
    actor: Actor,
    now: datetime,
    calendar: WorkCalendar,
    limits: Limits,
    tz: ZoneInfo,
) -> Applied | Refused:
    """Apply one command by one actor at `now` (aware); see the module notes on concurrency."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    step = _Step(actor, now.astimezone(UTC), calendar, limits, tz)
    match command:
        case Accept():
            return _accept(case, command, step)
        case Reject():
            return _reject(case, command, step)
        case Merge():
            return _merge(case, command, step)
        case Sign():
            return _sign(case, step)
        case Return():
            return _return(case, command, step)
        case Reassign():
            return _reassign(case, command, step)
        case RequestInfo():
            return _request_info(case, command, step)
        case AnswerInfo():
            return _answer_info(case, command, step)
        case RequestExtension():
            return _request_extension(case, command, step)
        case DecideExtension():
            return _decide_extension(case, command, step)
        case Reply():
            return _reply(case, command, step)
        case Rate():
            return _rate(case, command, step)
        case CloseUnrated():
            return _close_unrated(case, step)
        case CloseByAdmin():
            return _close_by_admin(case, command, step)
        case _:
            assert_never(command)


def new_case(
    now: datetime,
    calendar: WorkCalendar,
    limits: Limits,
    tz: ZoneInfo,
    conflict_department_id: int | None = None,
) -> Case:
    """A report just filed: in the office's inbox with a triage due time."""
    return Case(
        state=ReportState.received,
        owner=Owner.admins(),
        due_at=add_working_days(now, limits.triage_days, calendar, tz),
        due_kind=DueKind.triage,
        conflict_department_id=conflict_department_id,
    )


def auto_assign(
    case: Case,
    department_id: int,
    now: datetime,
    calendar: WorkCalendar,
    limits: Limits,
    tz: ZoneInfo,
) -> Applied | Refused:
    """`routing.auto_assign`: accept a report for the department its reporter picked, at once.

    Any conflict-of-interest mark keeps the report with the office, even when the picked
    department is not the marked one: the reporter said a leader is involved, so a person decides.
    """
    if case.conflict_department_id is not None:
        return Refused(RefusalReason.conflict_of_interest)
    return apply(case, Accept(department_id), Actor.system(), now, calendar, limits, tz)
