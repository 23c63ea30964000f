"""Each anomaly rule on a constructed case that trips it and on one that does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.anomalies.rules import (
    AccountRecord,
    Action,
    BallotRecord,
    Burst,
    ItemKind,
    Marked,
    RatingRecord,
    Thresholds,
    UnitFigures,
    ballot_round_flags,
    bursts,
    extreme_markers,
    far_from_reports,
    identical_ballots,
    rating_month_flags,
    single_unit_raters,
)
from db.models import ServiceRatingValue

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def cast(
    first_id: int, account: int, marks: dict[int, tuple[int, ...] | None], minutes: int = 0
) -> list[BallotRecord]:
    return [
        BallotRecord(first_id + i, unit, account, unit_marks, T0 + timedelta(minutes=minutes + i))
        for i, (unit, unit_marks) in enumerate(marks.items())
    ]


SAME = {1: (5, 5, 4, 5, 5), 2: (3, 3, 3, 3, 3), 3: None}


def test_identical_ballots_from_three_evaluators_are_flagged() -> None:
    ballots = cast(10, 101, SAME) + cast(20, 102, SAME) + cast(30, 103, SAME, minutes=50)
    ballots += cast(40, 104, {1: (5, 5, 4, 5, 5), 2: (3, 3, 3, 3, 4), 3: None})
    [flag] = identical_ballots(ballots)
    assert flag.accounts == (101, 102, 103), "104 differs in one mark"
    assert flag.ballots == (10, 11, 12, 20, 21, 22, 30, 31, 32)
    assert flag.pattern == ((1, (5, 5, 4, 5, 5)), (2, (3, 3, 3, 3, 3)), (3, None))
    assert flag.first_at == T0 and flag.last_at == T0 + timedelta(minutes=52)


def test_two_alike_or_a_different_skip_or_a_trivial_ballot_is_not_flagged() -> None:
    two = cast(10, 101, SAME) + cast(20, 102, SAME)
    assert identical_ballots(two) == []
    other_skip = {1: (5, 5, 4, 5, 5), 2: (3, 3, 3, 3, 3)}  # unit 3 not skipped but unanswered
    assert identical_ballots([*two, *cast(30, 103, other_skip)]) == []
    one_unit = {1: (5, 5, 5, 5, 5), 2: None, 3: None}
    trivial = [b for n in range(5) for b in cast(10 * n, 200 + n, one_unit)]
    assert identical_ballots(trivial) == [], "one unit marked says too little"
    assert len(identical_ballots(trivial, min_units=1)) == 1
    assert len(identical_ballots(two, min_evaluators=2)) == 1, "K is configurable"


def joined_at(account: int, moment: datetime) -> AccountRecord:
    return AccountRecord(account, 9000 + account, (moment,))


def test_a_burst_from_accounts_made_in_the_same_hour_is_flagged() -> None:
    hour = T0.replace(minute=5)
    accounts = {a: joined_at(a, hour + timedelta(minutes=a)) for a in (1, 2, 3)}
    accounts[4] = joined_at(4, hour - timedelta(days=30))  # an old account acting alongside
    actions = [
        Action(ItemKind.rating, 100 + n, 1 + n % 3, T0 + timedelta(hours=2, minutes=9 * n))
        for n in range(6)
    ]
    actions += [Action(ItemKind.rating, 200 + n, 4, T0 + timedelta(hours=2)) for n in range(5)]
    actions.append(Action(ItemKind.ballot, 300, 1, T0 + timedelta(hours=5)))
    [flag] = bursts(actions, accounts)
    assert isinstance(flag, Burst)
    assert flag.hour == T0 and flag.cohort == 3
    assert flag.accounts == (1, 2, 3)
    # 6 ratings 9 minutes apart span 45 minutes: all in one hour; the ballot 3 hours later not.
    assert flag.ratings == (100, 101, 102, 103, 104, 105) and flag.ballots == ()
    assert flag.count == 6


def test_spread_out_or_one_account_or_different_hours_is_no_burst() -> None:
    hour = T0.replace(minute=5)
    accounts = {a: joined_at(a, hour) for a in (1, 2, 3)}
    spread = [
        Action(ItemKind.rating, n, 1 + n % 3, T0 + timedelta(minutes=15 * n)) for n in range(8)
    ]
    assert bursts(spread, accounts) == [], "never more than 4 within an hour"
    one = [Action(ItemKind.ballot, n, 1, T0 + timedelta(minutes=n)) for n in range(9)]
    assert bursts(one, accounts) == [], "one evaluator rating units one by one"
    apart = {a: joined_at(a, hour + timedelta(hours=a)) for a in (1, 2, 3)}
    close = [Action(ItemKind.rating, n, 1 + n % 3, T0 + timedelta(minutes=n)) for n in range(9)]
    assert bursts(close, apart) == [], "the accounts came in different hours"
    assert len(bursts(close, accounts)) == 1


def test_only_the_bottom_or_only_the_top_over_enough_items_is_extreme() -> None:
    items = [Marked(ItemKind.ballot, n, 7, (1, 1, 1, 1, 1)) for n in range(5)]
    items += [Marked(ItemKind.ballot, 10 + n, 8, (5, 5, 5, 5, 5)) for n in range(5)]
    flags = extreme_markers(items, 1, 5)
    assert [(f.account, f.mark, f.top, f.items) for f in flags] == [
        (7, 1, False, (0, 1, 2, 3, 4)),
        (8, 5, True, (10, 11, 12, 13, 14)),
    ]


def test_mixed_or_few_extreme_marks_are_not_flagged() -> None:
    mixed = [Marked(ItemKind.ballot, n, 7, (5, 5, 5, 5, 4 if n == 3 else 5)) for n in range(6)]
    both_ends = [Marked(ItemKind.ballot, n, 8, (1,) if n % 2 else (5,)) for n in range(6)]
    few = [Marked(ItemKind.ballot, n, 9, (1, 1, 1, 1, 1)) for n in range(4)]
    assert extreme_markers([*mixed, *both_ends, *few], 1, 5) == []


def test_a_unit_rated_far_from_its_report_satisfaction_is_flagged() -> None:
    units = [
        UnitFigures(1, rated=0.96, rated_count=12, reports=0.40, report_count=10),
        UnitFigures(2, rated=0.70, rated_count=5, reports=0.40, report_count=5),  # 0.3 exactly
        UnitFigures(3, rated=0.90, rated_count=20, reports=0.75, report_count=20),
        UnitFigures(4, rated=0.95, rated_count=20, reports=0.10, report_count=4),  # too few
        UnitFigures(5, rated=None, rated_count=0, reports=0.10, report_count=40),
    ]
    flags = far_from_reports(units, ItemKind.ballot)
    assert [(f.department_id, f.rated, f.reports) for f in flags] == [
        (1, 0.96, 0.40),
        (2, 0.70, 0.40),
    ]
    assert far_from_reports(units, ItemKind.ballot, min_gap=0.6) == []


def rating(id_: int, unit: int, account: int, minutes: int = 0) -> RatingRecord:
    return RatingRecord(
        id_, unit, account, ServiceRatingValue.satisfied, T0 + timedelta(days=minutes)
    )


def test_many_ratings_of_one_unit_from_accounts_that_rate_nothing_else() -> None:
    ratings = [rating(n, 11, 500 + n, n) for n in range(5)]
    ratings += [rating(10, 12, 600), rating(11, 11, 600)]  # 600 rated two units
    units = {500 + n: {11} for n in range(5)} | {600: {11, 12}}
    [flag] = single_unit_raters(ratings, units, balloting=set())
    assert flag.department_id == 11
    assert flag.accounts == (500, 501, 502, 503, 504) and flag.ratings == (0, 1, 2, 3, 4)
    assert flag.last_at - flag.first_at == timedelta(days=4)


def test_raters_with_other_units_or_ballots_do_not_count() -> None:
    ratings = [rating(n, 11, 500 + n) for n in range(5)]
    units = {500 + n: {11} for n in range(5)}
    assert single_unit_raters(ratings, units, balloting={502}) == [], "an evaluator too"
    units[503] = {11, 14}  # rated another unit some other month
    assert single_unit_raters(ratings, units, balloting=set()) == []
    assert single_unit_raters(ratings[:4], units, balloting=set(), min_ratings=4) == []


def test_a_round_and_a_month_run_their_rules_with_the_thresholds() -> None:
    ballots = cast(10, 101, SAME) + cast(20, 102, SAME) + cast(30, 103, SAME)
    accounts = {a: joined_at(a, T0 - timedelta(days=a)) for a in (101, 102, 103)}
    units = [UnitFigures(1, 0.95, 3, 0.5, 10)]
    assert ballot_round_flags(ballots, accounts, units, 5, Thresholds()) != []
    strict = Thresholds(identical_evaluators=4, far_min_count=5)
    assert ballot_round_flags(ballots, accounts, units, 5, strict) == []
    assert rating_month_flags([], {}, [], {}, set(), Thresholds()) == []
