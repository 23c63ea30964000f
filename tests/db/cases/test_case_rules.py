"""Case-handling rules: examples on real 2025/2026 calendar dates, then random command sequences."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.calendar.workdays import (
    WorkCalendar,
    end_of_day,
    local_date,
    previous_working_day,
    working_days_between,
)
from db.cases.rules import (
    TERMINAL_STATES,
    Accept,
    Actor,
    ActorRole,
    AnswerInfo,
    Applied,
    Case,
    CloseByAdmin,
    CloseUnrated,
    Command,
    DecideExtension,
    DueKind,
    Limits,
    Merge,
    Owner,
    OwnerKind,
    Rate,
    Rating,
    Reassign,
    RefusalReason,
    Refused,
    Reject,
    Reply,
    RequestExtension,
    RequestInfo,
    Return,
    Sign,
    apply,
    auto_assign,
    new_case,
)
from db.models import EventKind, ReportState

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()
CONSULTATION = Limits(reply_days=5)
END_OF_DAY = time(23, 59, 59, 999_999)

A, B, C = 1, 2, 3
ADMIN = Actor(account_id=1, is_admin=True)
SYSTEM = Actor.system()
LIAISON_A = Actor(account_id=10, liaison_of=frozenset({A}))
LIAISON_A2 = Actor(account_id=12, liaison_of=frozenset({A}))
REVOKED_LIAISON_A = Actor(account_id=10)
LEADER_A = Actor(account_id=11, leader_of=frozenset({A}))
LIAISON_B = Actor(account_id=20, liaison_of=frozenset({B}))
REPORTER = Actor(account_id=30, is_reporter=True)
RECEIPT_HOLDER = Actor(is_reporter=True)
"""A fully anonymous reporter: no account link, only an opened receipt."""
STRANGER = Actor(account_id=99)


def next_due(case: Case) -> tuple[datetime, DueKind] | None:
    """The next due time and what it is for; None once the case is finished."""
    if case.due_at is None or case.due_kind is None:
        return None
    return case.due_at, case.due_kind


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A moment given in Shanghai local time, as the office would say it."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def eod(y: int, m: int, d: int) -> datetime:
    return end_of_day(date(y, m, d), TZ)


def ok(
    case: Case, command: Command, actor: Actor, now: datetime, limits: Limits = CONSULTATION
) -> Applied:
    result = apply(case, command, actor, now, CALENDAR, limits, TZ)
    assert isinstance(result, Applied), result
    return result


def refused(
    case: Case, command: Command, actor: Actor, now: datetime, limits: Limits = CONSULTATION
) -> RefusalReason:
    result = apply(case, command, actor, now, CALENDAR, limits, TZ)
    assert isinstance(result, Refused), result
    return result.reason


MONDAY = at(2025, 9, 22)
"""Monday 22 September 2025, a week before the National Day holiday (1–8 October)."""


def received(now: datetime = MONDAY, conflict: int | None = None) -> Case:
    return new_case(now, CALENDAR, CONSULTATION, TZ, conflict_department_id=conflict)


def assigned(now: datetime = MONDAY) -> Case:
    return ok(received(now), Accept(A), ADMIN, now).case


def signed() -> Case:
    """Signed on Wednesday 24 September 2025: five working days end on Tuesday the 30th."""
    case = ok(assigned(), Sign(), LIAISON_A, at(2025, 9, 24)).case
    assert case.due_at == eod(2025, 9, 30)
    return case


def replied() -> Case:
    """Answered on Friday 26 September 2025: the rating is due by 13 October."""
    return ok(signed(), Reply("已核实并整改"), LIAISON_A, at(2025, 9, 26)).case


# --- the whole loop ---------------------------------------------------------------------------


def test_happy_path_with_a_question_and_one_reopening() -> None:
    """Across the 2025 National Day holiday (1–8 October) and its make-up days (28 Sep, 11 Oct)."""
    events = []
    case = received(at(2025, 9, 22, 10))
    assert (case.state, case.owner, case.due_kind) == (
        ReportState.received,
        Owner.admins(),
        DueKind.triage,
    )
    assert case.due_at == eod(2025, 9, 23)

    step = ok(case, Accept(A), ADMIN, at(2025, 9, 22, 11))
    case, events = step.case, [*events, step.event]
    assert (case.state, case.owner, case.department_id) == (
        ReportState.assigned,
        Owner.department(A),
        A,
    )
    assert next_due(case) == (eod(2025, 9, 23), DueKind.sign)

    step = ok(case, Sign(), LIAISON_A, at(2025, 9, 23, 9))
    case, events = step.case, [*events, step.event]
    # 24, 25, 26, 28 (a Sunday worked in exchange), 29 September.
    assert next_due(case) == (eod(2025, 9, 29), DueKind.reply)
    assert case.signed_at == at(2025, 9, 23, 9)

    step = ok(case, RequestInfo("  具体是哪一天？ "), LIAISON_A, at(2025, 9, 24))
    case, events = step.case, [*events, step.event]
    assert (case.state, case.owner) == (ReportState.info_requested, Owner.reporter())
    assert next_due(case) == (eod(2025, 9, 29), DueKind.reply)
    assert step.event.body == "具体是哪一天？"

    step = ok(case, AnswerInfo("9月19日上午"), RECEIPT_HOLDER, at(2025, 9, 25))
    case, events = step.case, [*events, step.event]
    assert (case.state, case.owner) == (ReportState.signed, Owner.department(A))
    assert case.due_at == eod(2025, 9, 29)

    step = ok(case, Reply("已约谈窗口负责人"), LIAISON_A, at(2025, 9, 26))
    case, events = step.case, [*events, step.event]
    # 28, 29, 30 September, then 9, 10, 11 (a Saturday worked), 13 October.
    assert (case.state, case.owner) == (ReportState.replied, Owner.reporter())
    assert next_due(case) == (eod(2025, 10, 13), DueKind.rating)

    step = ok(case, Rate(Rating.unsatisfied, "没有解决"), REPORTER, at(2025, 9, 27))
    case, events = step.case, [*events, step.event]
    assert (case.state, case.owner, case.reopen_count) == (
        ReportState.signed,
        Owner.department(A),
        1,
    )
    assert next_due(case) == (eod(2025, 10, 10), DueKind.reply)
    assert case.replied_at is None

    step = ok(case, Reply("已退还多收费用"), LIAISON_A, at(2025, 10, 9))
    case, events = step.case, [*events, step.event]
    assert case.state is ReportState.replied

    step = ok(case, Rate(Rating.satisfied), REPORTER, at(2025, 10, 10))
    case, events = step.case, [*events, step.event]
    assert (case.state, case.owner, case.rating, next_due(case)) == (
        ReportState.closed,
        None,
        Rating.satisfied,
        None,
    )
    assert [(e.kind, e.actor_role, e.public) for e in events] == [
        (EventKind.accepted, ActorRole.admin, True),
        (EventKind.signed, ActorRole.liaison, True),
        (EventKind.info_requested, ActorRole.liaison, True),
        (EventKind.info_answered, ActorRole.reporter, True),
        (EventKind.replied, ActorRole.liaison, True),
        (EventKind.reopened, ActorRole.reporter, True),
        (EventKind.replied, ActorRole.liaison, True),
        (EventKind.rated, ActorRole.reporter, True),
    ]


def test_second_unsatisfied_escalates_and_the_office_closes_it() -> None:
    case = ok(replied(), Rate(Rating.unsatisfied), REPORTER, at(2025, 9, 26, 12)).case
    case = ok(case, Reply("再次答复"), LIAISON_A, at(2025, 9, 29)).case
    step = ok(case, Rate(Rating.unsatisfied, "还是不行"), REPORTER, at(2025, 9, 29, 12))
    case = step.case
    assert (case.state, case.owner, case.reopen_count) == (
        ReportState.escalated,
        Owner.admins(),
        1,
    )
    assert next_due(case) == (eod(2025, 9, 30), DueKind.reassign)
    assert (step.event.kind, step.event.body) == (EventKind.escalated, "还是不行")
    assert refused(case, Reply("x"), LIAISON_A, at(2025, 9, 30)) is RefusalReason.wrong_state
    assert refused(case, CloseByAdmin(" "), ADMIN, at(2025, 9, 30)) is RefusalReason.bad_value
    step = ok(case, CloseByAdmin("经督办已解决"), ADMIN, at(2025, 9, 30))
    assert (step.case.state, step.case.owner, step.case.due_at) == (ReportState.closed, None, None)
    assert (step.event.kind, step.event.public) == (EventKind.closed, True)


def test_an_escalated_case_reassigned_is_not_reopened_again() -> None:
    case = ok(replied(), Rate(Rating.unsatisfied), REPORTER, at(2025, 9, 26, 12)).case
    case = ok(case, Reply("再次答复"), LIAISON_A, at(2025, 9, 29)).case
    case = ok(case, Rate(Rating.unsatisfied), REPORTER, at(2025, 9, 29, 12)).case
    step = ok(case, Reassign(B), ADMIN, at(2025, 9, 30))
    assert (step.case.department_id, step.event.kind) == (B, EventKind.reassigned)
    case = ok(step.case, Sign(), LIAISON_B, at(2025, 9, 30, 11)).case
    case = ok(case, Reply("第三次答复"), LIAISON_B, at(2025, 10, 9)).case
    step = ok(case, Rate(Rating.unsatisfied), REPORTER, at(2025, 10, 9, 12))
    assert (step.case.state, step.case.reopen_count) == (ReportState.escalated, 1)


def test_basically_satisfied_closes() -> None:
    step = ok(replied(), Rate(Rating.basically_satisfied, ""), REPORTER, at(2025, 9, 27))
    assert (step.case.state, step.case.rating) == (ReportState.closed, Rating.basically_satisfied)
    assert step.event.body is None


# --- triage -----------------------------------------------------------------------------------


def test_reject_needs_a_reason_and_ends_the_case() -> None:
    case = received()
    assert refused(case, Reject("  "), ADMIN, at(2025, 9, 22, 11)) is RefusalReason.bad_value
    assert refused(case, Reject("重复"), LIAISON_A, at(2025, 9, 22, 11)) is (
        RefusalReason.not_allowed
    )
    step = ok(case, Reject(" 不属于受理范围 "), ADMIN, at(2025, 9, 22, 11))
    assert (step.case.state, step.case.owner, step.case.due_at, step.case.due_kind) == (
        ReportState.rejected,
        None,
        None,
        None,
    )
    assert (step.event.kind, step.event.public, step.event.body) == (
        EventKind.rejected,
        True,
        "不属于受理范围",
    )
    assert refused(step.case, Accept(A), ADMIN, at(2025, 9, 22, 12)) is RefusalReason.wrong_state


def test_merge_points_at_the_earlier_report() -> None:
    case = received()
    assert refused(case, Merge(0), ADMIN, at(2025, 9, 22, 11)) is RefusalReason.bad_value
    step = ok(case, Merge(41), ADMIN, at(2025, 9, 22, 11))
    assert (step.case.state, step.case.merged_into, step.case.owner) == (
        ReportState.merged,
        41,
        None,
    )
    assert (step.event.kind, step.event.public) == (EventKind.merged, True)
    assert refused(assigned(), Merge(41), ADMIN, at(2025, 9, 22, 11)) is (RefusalReason.wrong_state)


def test_auto_assign_uses_the_system_actor() -> None:
    step = auto_assign(received(), B, at(2025, 9, 22), CALENDAR, CONSULTATION, TZ)
    assert isinstance(step, Applied)
    assert (step.case.state, step.case.department_id) == (ReportState.assigned, B)
    assert (step.event.kind, step.event.actor_role) == (EventKind.accepted, ActorRole.system)


def test_conflict_of_interest_keeps_the_report_away_from_that_department() -> None:
    case = received(conflict=A)
    now = at(2025, 9, 22, 11)
    assert refused(case, Accept(A), ADMIN, now) is RefusalReason.conflict_of_interest
    result = auto_assign(case, B, now, CALENDAR, CONSULTATION, TZ)
    assert result == Refused(RefusalReason.conflict_of_interest)
    case = ok(case, Accept(B), ADMIN, now).case
    case = ok(case, Return("不归我单位管"), LIAISON_B, at(2025, 9, 23)).case
    assert refused(case, Reassign(A), ADMIN, at(2025, 9, 23, 11)) is (
        RefusalReason.conflict_of_interest
    )
    assert ok(case, Reassign(C), ADMIN, at(2025, 9, 23, 11)).case.department_id == C


# --- return -----------------------------------------------------------------------------------


def test_return_within_the_window_goes_back_to_the_office() -> None:
    case = assigned(at(2025, 9, 22))  # the window ends with Wednesday 24 September
    step = ok(case, Return(" 非本单位职责 "), LIAISON_A, at(2025, 9, 24, 23, 59))
    assert (step.case.state, step.case.owner) == (ReportState.returned, Owner.admins())
    assert next_due(step.case) == (eod(2025, 9, 25), DueKind.reassign)
    assert (step.event.kind, step.event.public, step.event.body) == (
        EventKind.returned,
        False,
        "非本单位职责",
    )
    # The stale 签收 button of the department that returned it.
    assert refused(step.case, Sign(), LIAISON_A, at(2025, 9, 25)) is RefusalReason.wrong_state
    case = ok(step.case, Reassign(B), ADMIN, at(2025, 9, 25)).case
    assert refused(case, Sign(), LIAISON_A, at(2025, 9, 25, 11)) is RefusalReason.not_allowed
    assert ok(case, Sign(), LIAISON_B, at(2025, 9, 25, 11)).case.state is ReportState.signed


def test_return_after_the_window_is_refused() -> None:
    case = assigned(at(2025, 9, 22))
    now = at(2025, 9, 25, 0, 0)
    assert refused(case, Return("非本单位职责"), LIAISON_A, now) is RefusalReason.window_closed


def test_return_window_counts_working_days_over_the_holiday() -> None:
    case = ok(assigned(at(2025, 9, 30)), Sign(), LIAISON_A, at(2025, 9, 30, 11)).case
    # The window is 9 and 10 October: a holiday in between does not use it up.
    assert ok(case, Return("误派"), LIAISON_A, at(2025, 10, 10, 18)).case.state is (
        ReportState.returned
    )
    assert refused(case, Return("误派"), LIAISON_A, at(2025, 10, 11, 9)) is (
        RefusalReason.window_closed
    )


def test_reject_or_merge_after_a_return() -> None:
    case = ok(assigned(), Return("误派"), LIAISON_A, at(2025, 9, 23)).case
    assert ok(case, Reject("不属于受理范围"), ADMIN, at(2025, 9, 23, 11)).case.state is (
        ReportState.rejected
    )
    assert ok(case, Merge(7), ADMIN, at(2025, 9, 23, 11)).case.state is ReportState.merged


# --- extension --------------------------------------------------------------------------------


def test_extension_approved_moves_the_due_time_over_the_holiday() -> None:
    case = signed()  # reply due Tuesday 30 September 2025
    step = ok(case, RequestExtension(3, "需要现场核查"), LIAISON_A, at(2025, 9, 29, 23, 30))
    assert step.case.extension_pending is not None
    assert step.case.extension_pending.days == 3
    assert step.case.extension_used
    assert (step.event.kind, step.event.public) == (EventKind.extension_requested, False)
    assert step.case.due_at == eod(2025, 9, 30)

    step = ok(step.case, DecideExtension(approve=True), ADMIN, at(2025, 9, 29, 23, 45))
    # 1–8 October are the holiday; 9, 10 and Saturday 11 October (worked in exchange).
    assert next_due(step.case) == (eod(2025, 10, 11), DueKind.reply)
    assert step.case.extension_pending is None
    assert (step.event.kind, step.event.public) == (EventKind.extension_approved, True)

    again = RequestExtension(2, "还需要时间")
    assert refused(step.case, again, LIAISON_A, at(2025, 10, 9)) is RefusalReason.already_used


def test_extension_on_the_due_day_is_too_late() -> None:
    case = signed()
    command = RequestExtension(3, "需要现场核查")
    assert refused(case, command, LIAISON_A, at(2025, 9, 30, 0, 0)) is RefusalReason.too_late
    assert refused(case, command, LIAISON_A, at(2025, 10, 3)) is RefusalReason.too_late


def test_extension_deadline_is_the_working_day_before_the_due_day() -> None:
    """Due Thursday 9 October 2025: the last day to ask is 30 September, not the holiday."""
    case = ok(
        assigned(at(2025, 9, 30)), Sign(), LIAISON_A, at(2025, 9, 30, 11), Limits(reply_days=1)
    ).case
    assert case.due_at == eod(2025, 10, 9)
    command = RequestExtension(1, "节后核查")
    assert refused(case, command, LIAISON_A, at(2025, 10, 1, 9)) is RefusalReason.too_late
    assert ok(case, command, LIAISON_A, at(2025, 9, 30, 23)).case.extension_used


def test_extension_denied_keeps_the_due_time_and_uses_up_the_request() -> None:
    case = ok(signed(), RequestExtension(5, "材料较多"), LIAISON_A, at(2025, 9, 25)).case
    assert refused(case, DecideExtension(approve=True), LIAISON_A, at(2025, 9, 25, 11)) is (
        RefusalReason.not_allowed
    )
    step = ok(case, DecideExtension(approve=False), ADMIN, at(2025, 9, 25, 11))
    assert (step.case.due_at, step.case.extension_pending) == (eod(2025, 9, 30), None)
    assert (step.event.kind, step.event.public) == (EventKind.extension_denied, False)
    assert refused(step.case, DecideExtension(approve=True), ADMIN, at(2025, 9, 25, 12)) is (
        RefusalReason.wrong_state
    )
    assert refused(step.case, RequestExtension(1, "再申请"), LIAISON_A, at(2025, 9, 26)) is (
        RefusalReason.already_used
    )


def test_extension_days_and_reason_are_checked() -> None:
    case = signed()
    now = at(2025, 9, 25)
    for command in (RequestExtension(0, "x"), RequestExtension(11, "x"), RequestExtension(3, "")):
        assert refused(case, command, LIAISON_A, now) is RefusalReason.bad_value
    assert ok(case, RequestExtension(10, "x"), LIAISON_A, now).case.extension_used


def test_extension_decided_after_the_due_time_counts_from_the_decision() -> None:
    """A slow decision must not leave a due time in the past."""
    case = ok(signed(), RequestExtension(3, "需要现场核查"), LIAISON_A, at(2025, 9, 29)).case
    step = ok(case, DecideExtension(approve=True), ADMIN, at(2025, 10, 9))
    assert step.case.due_at == eod(2025, 10, 13)  # 10, 11 (worked Saturday), 13 October


def test_extension_while_waiting_for_the_reporter_and_reply_drops_a_pending_request() -> None:
    case = ok(signed(), RequestInfo("请提供票据"), LIAISON_A, at(2025, 9, 25)).case
    case = ok(case, RequestExtension(2, "等待补充材料"), LIAISON_A, at(2025, 9, 25, 11)).case
    step = ok(case, Reply("已处理"), LIAISON_A, at(2025, 9, 26))
    assert (step.case.state, step.case.extension_pending) == (ReportState.replied, None)
    assert refused(step.case, DecideExtension(approve=True), ADMIN, at(2025, 9, 26, 11)) is (
        RefusalReason.wrong_state
    )


def test_a_return_drops_a_pending_extension() -> None:
    case = assigned(at(2025, 9, 29))
    case = ok(case, Sign(), LIAISON_A, at(2025, 9, 29, 11)).case
    case = ok(case, RequestExtension(2, "需要现场核查"), LIAISON_A, at(2025, 9, 29, 12)).case
    step = ok(case, Return("误派"), LIAISON_A, at(2025, 9, 30))
    assert (step.case.state, step.case.extension_pending) == (ReportState.returned, None)
    assert refused(step.case, DecideExtension(approve=True), ADMIN, at(2025, 9, 30, 11)) is (
        RefusalReason.wrong_state
    )


@settings(deadline=None, max_examples=300)
@given(
    signed_at=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 6, 30)),
    ask_after=st.timedeltas(timedelta(0), timedelta(days=20)),
    decide_after=st.timedeltas(timedelta(0), timedelta(days=40)),
    days=st.integers(1, 10),
    reply_days=st.sampled_from((5, 15)),
)
def test_an_approved_extension_adds_working_days_and_never_lands_in_the_past(
    signed_at: datetime,
    ask_after: timedelta,
    decide_after: timedelta,
    days: int,
    reply_days: int,
) -> None:
    """Asking is open until the working day before the due day; approval adds exactly `days`."""
    limits = Limits(reply_days=reply_days)
    start = signed_at.replace(tzinfo=UTC)
    case = ok(new_case(start, CALENDAR, limits, TZ), Accept(A), ADMIN, start, limits).case
    case = ok(case, Sign(), LIAISON_A, start, limits).case
    asked_at = start + ask_after
    asked = apply(case, RequestExtension(days, "x"), LIAISON_A, asked_at, CALENDAR, limits, TZ)
    assert case.due_at is not None
    last_day_to_ask = previous_working_day(local_date(case.due_at, TZ), CALENDAR)
    if isinstance(asked, Refused):
        assert asked.reason is RefusalReason.too_late
        assert local_date(asked_at, TZ) > last_day_to_ask
        return
    assert local_date(asked_at, TZ) <= last_day_to_ask
    decided_at = asked_at + decide_after
    step = ok(asked.case, DecideExtension(approve=True), ADMIN, decided_at, limits)
    assert step.case.due_at is not None
    assert step.case.due_at >= decided_at
    assert (
        working_days_between(max(case.due_at, decided_at), step.case.due_at, CALENDAR, TZ) == days
    )


# --- who may act ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    [LIAISON_B, REVOKED_LIAISON_A, LEADER_A, ADMIN, REPORTER, STRANGER, SYSTEM],
    ids=["other-liaison", "revoked-liaison", "leader", "admin", "reporter", "stranger", "system"],
)
def test_only_a_liaison_of_the_department_signs(actor: Actor) -> None:
    assert refused(assigned(), Sign(), actor, at(2025, 9, 23)) is RefusalReason.not_allowed


def test_two_liaisons_signing_exactly_one_wins() -> None:
    case = assigned()
    first = ok(case, Sign(), LIAISON_A, at(2025, 9, 23, 9))
    assert refused(first.case, Sign(), LIAISON_A2, at(2025, 9, 23, 9)) is (
        RefusalReason.wrong_state
    )


@pytest.mark.parametrize("actor", [LIAISON_A, ADMIN, STRANGER, SYSTEM])
def test_only_the_reporter_rates(actor: Actor) -> None:
    assert refused(replied(), Rate(Rating.satisfied), actor, at(2025, 9, 27)) is (
        RefusalReason.not_allowed
    )


def test_a_reporter_cannot_rate_twice() -> None:
    case = ok(replied(), Rate(Rating.satisfied), REPORTER, at(2025, 9, 27)).case
    assert refused(case, Rate(Rating.unsatisfied), REPORTER, at(2025, 9, 27, 11)) is (
        RefusalReason.wrong_state
    )


def test_other_liaisons_cannot_handle_the_case() -> None:
    case = signed()
    now = at(2025, 9, 25)
    for command in (Reply("x"), RequestInfo("x"), Return("x"), RequestExtension(1, "x")):
        assert refused(case, command, LIAISON_B, now) is RefusalReason.not_allowed
        assert refused(case, command, REVOKED_LIAISON_A, now) is RefusalReason.not_allowed


def test_only_the_reporter_answers_a_question() -> None:
    case = ok(signed(), RequestInfo("请提供票据"), LIAISON_A, at(2025, 9, 25)).case
    for actor in (LIAISON_A, ADMIN, STRANGER):
        assert refused(case, AnswerInfo("x"), actor, at(2025, 9, 26)) is RefusalReason.not_allowed
    assert refused(case, AnswerInfo(" "), REPORTER, at(2025, 9, 26)) is RefusalReason.bad_value


# --- closing unrated --------------------------------------------------------------------------


def test_close_unrated_only_after_the_rating_due_time() -> None:
    case = replied()  # rating due 13 October 2025
    due = eod(2025, 10, 13)
    assert case.due_at == due
    assert refused(case, CloseUnrated(), SYSTEM, due) is RefusalReason.not_due_yet
    assert refused(case, CloseUnrated(), ADMIN, due + timedelta(days=1)) is (
        RefusalReason.not_allowed
    )
    step = ok(case, CloseUnrated(), SYSTEM, due + timedelta(microseconds=1))
    assert (step.case.state, step.case.rating, step.case.owner, step.case.due_at) == (
        ReportState.closed,
        None,
        None,
        None,
    )
    assert (step.event.kind, step.event.actor_role, step.event.public) == (
        EventKind.closed_unrated,
        ActorRole.system,
        True,
    )


def test_close_unrated_after_a_reopening_forgets_the_earlier_rating() -> None:
    """The first 不满意 stays on the timeline; the outcome of the case is 未评价."""
    case = ok(replied(), Rate(Rating.unsatisfied), REPORTER, at(2025, 9, 26, 12)).case
    case = ok(case, Reply("再次答复"), LIAISON_A, at(2025, 9, 29)).case
    assert case.rating is Rating.unsatisfied
    assert case.due_at is not None
    step = ok(case, CloseUnrated(), SYSTEM, case.due_at + timedelta(hours=1))
    assert (step.case.state, step.case.rating) == (ReportState.closed, None)


# --- values that are programming errors -------------------------------------------------------


def test_bad_construction_fails_loudly() -> None:
    with pytest.raises(ValueError):
        Limits(reply_days=-1)
    with pytest.raises(ValueError):
        Owner(OwnerKind.department)
    with pytest.raises(ValueError):
        Owner(OwnerKind.admins, A)
    with pytest.raises(ValueError, match="aware"):
        apply(received(), Accept(A), ADMIN, datetime(2025, 9, 22), CALENDAR, CONSULTATION, TZ)


# --- random sequences -------------------------------------------------------------------------

DEPARTMENTS = (A, B, C)
TEXTS = st.sampled_from(["", "  ", "情况属实", " 已处理 ", "说明", "请补充票据", "材料较多"])
ALL_COMMANDS: dict[str, st.SearchStrategy[Command]] = {
    "accept": st.builds(Accept, st.sampled_from(DEPARTMENTS)),
    "reject": st.builds(Reject, TEXTS),
    "merge": st.builds(Merge, st.integers(-1, 3)),
    "sign": st.just(Sign()),
    "return": st.builds(Return, TEXTS),
    "reassign": st.builds(Reassign, st.sampled_from(DEPARTMENTS)),
    "request_info": st.builds(RequestInfo, TEXTS),
    "answer_info": st.builds(AnswerInfo, TEXTS),
    "request_extension": st.builds(RequestExtension, st.integers(-1, 12), TEXTS),
    "decide_extension": st.builds(DecideExtension, st.booleans()),
    "reply": st.builds(Reply, TEXTS),
    # Mostly 不满意, so that sequences reach 重办 and escalation often enough to matter.
    "rate": st.builds(Rate, st.sampled_from([*Rating, Rating.unsatisfied]), st.none() | TEXTS),
    "close_unrated": st.just(CloseUnrated()),
    "close_by_admin": st.builds(CloseByAdmin, TEXTS),
}
LIKELY: dict[ReportState, tuple[str, ...]] = {
    ReportState.received: ("accept", "accept", "accept", "reject", "merge"),
    ReportState.assigned: ("sign", "sign", "sign", "return"),
    ReportState.signed: ("reply", "reply", "request_info", "request_extension", "return"),
    ReportState.info_requested: ("answer_info", "reply", "request_extension"),
    ReportState.replied: ("rate", "rate", "close_unrated"),
    ReportState.returned: ("reassign", "reassign", "reassign", "reject", "merge"),
    ReportState.escalated: ("reassign", "close_by_admin"),
}
"""Commands that make sense in a state (repeated ones weigh more), so random sequences get deep
into the loop instead of ending at triage."""
ACTORS = (
    ADMIN,
    SYSTEM,
    LIAISON_A,
    LIAISON_B,
    REVOKED_LIAISON_A,
    LEADER_A,
    REPORTER,
    RECEIPT_HOLDER,
    STRANGER,
    Actor(account_id=2, is_admin=True, liaison_of=frozenset({A, B})),
    Actor(account_id=13, liaison_of=frozenset({C})),
)
NOBODY = (STRANGER, Actor(account_id=98, leader_of=frozenset(DEPARTMENTS)))
"""People with no part in any case: every command of theirs must be refused."""
OWNER_OF_STATE = {
    ReportState.received: OwnerKind.admins,
    ReportState.returned: OwnerKind.admins,
    ReportState.escalated: OwnerKind.admins,
    ReportState.assigned: OwnerKind.department,
    ReportState.signed: OwnerKind.department,
    ReportState.info_requested: OwnerKind.reporter,
    ReportState.replied: OwnerKind.reporter,
}
DUE_KINDS_OF_STATE = {
    ReportState.received: {DueKind.triage},
    ReportState.returned: {DueKind.reassign},
    ReportState.escalated: {DueKind.reassign},
    ReportState.assigned: {DueKind.sign},
    ReportState.signed: {DueKind.reply},
    ReportState.info_requested: {DueKind.reply},
    ReportState.replied: {DueKind.rating},
}

SETS_A_DUE_TIME = {
    EventKind.accepted,
    EventKind.signed,
    EventKind.returned,
    EventKind.reassigned,
    EventKind.extension_approved,
    EventKind.replied,
    EventKind.reopened,
    EventKind.escalated,
}
"""The steps that start a new clock; the others keep the due time they found."""


def fitting_actor(name: str, case: Case) -> Actor:
    """The person who would be allowed to send this command, were the state right."""
    if name in ("answer_info", "rate"):
        return REPORTER
    if name == "close_unrated":
        return SYSTEM
    if name in ("sign", "return", "request_info", "request_extension", "reply"):
        return Actor(account_id=50, liaison_of=frozenset({case.department_id or A}))
    return ADMIN


def check_case(case: Case) -> None:
    """What must hold after every step, whatever happened before."""
    if case.state in TERMINAL_STATES:
        assert (case.owner, case.due_at, case.due_kind) == (None, None, None)
        assert case.extension_pending is None
        return
    assert case.owner is not None
    assert case.due_at is not None
    assert case.owner.kind is OWNER_OF_STATE[case.state]
    assert case.due_kind in DUE_KINDS_OF_STATE[case.state]
    assert case.due_at.tzinfo == UTC
    local = case.due_at.astimezone(TZ)
    assert local.time() == END_OF_DAY
    assert CALENDAR.is_working_day(local.date())
    if case.owner.kind is OwnerKind.department:
        assert case.owner.department_id == case.department_id
    if case.state is not ReportState.received:
        assert case.department_id is not None
    if case.extension_pending is not None:
        assert case.extension_used
        assert case.state in (ReportState.signed, ReportState.info_requested)
    assert case.reopen_count <= 1 or case.state is ReportState.escalated


@settings(deadline=None, max_examples=300)
@given(
    data=st.data(),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2025, 9, 30)),
    conflict=st.sampled_from((None, A, C)),
    limits=st.builds(
        Limits,
        triage_days=st.integers(0, 2),
        sign_days=st.integers(0, 2),
        reply_days=st.sampled_from((5, 15)),
        return_window_days=st.integers(0, 3),
        max_extension_days=st.integers(1, 10),
        rating_days=st.integers(1, 7),
        reassign_days=st.integers(0, 2),
    ),
    steps=st.integers(1, 40),
)
def test_random_sequences_keep_every_case_owned_and_on_the_clock(
    data: st.DataObject,
    start: datetime,
    conflict: int | None,
    limits: Limits,
    steps: int,
) -> None:
    """Random commands by random (or fitting) people at increasing times, from a fresh case."""
    now = start.replace(tzinfo=UTC)
    case = new_case(now, CALENDAR, limits, TZ, conflict_department_id=conflict)
    check_case(case)
    assert case.due_at is not None and case.due_at >= now
    kinds: Counter[EventKind] = Counter()
    for _ in range(steps):
        now += timedelta(
            minutes=data.draw(
                st.integers(0, 120) | st.integers(0, 24 * 60) | st.integers(0, 10 * 24 * 60),
                label="wait",
            )
        )
        guided = data.draw(st.integers(0, 5), label="guided") > 0
        names = LIKELY.get(case.state, tuple(ALL_COMMANDS)) if guided else tuple(ALL_COMMANDS)
        if guided and case.extension_pending is not None:
            names = (*names, "decide_extension", "decide_extension", "decide_extension")
        name = data.draw(st.sampled_from(names), label="command name")
        command = data.draw(ALL_COMMANDS[name], label="command")
        actor = fitting_actor(name, case) if guided else data.draw(st.sampled_from(ACTORS))

        for nobody in NOBODY:
            assert apply(case, command, nobody, now, CALENDAR, limits, TZ) == Refused(
                RefusalReason.not_allowed
            )
        before = copy.deepcopy(case)
        result = apply(case, command, actor, now, CALENDAR, limits, TZ)
        if isinstance(result, Refused):
            assert isinstance(result.reason, RefusalReason)
            assert case == before
        else:
            assert isinstance(result, Applied)
            assert isinstance(result.event.kind, EventKind)
            assert isinstance(result.event.actor_role, ActorRole)
            kinds[result.event.kind] += 1
            case = result.case
            if result.event.kind in SETS_A_DUE_TIME:
                assert case.due_at is not None and case.due_at >= now
        check_case(case)
        if case.department_id is not None:
            assert case.department_id != case.conflict_department_id
    assert kinds[EventKind.extension_requested] <= 1
    assert kinds[EventKind.extension_approved] <= 1
    assert kinds[EventKind.reopened] <= 1
