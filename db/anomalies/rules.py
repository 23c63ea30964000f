"""The anomaly rules: patterns of ballots and service ratings a person should look at.

Each rule is a plain function over small records (`load` fills them from the database) and
returns flags with their evidence: which ballots or ratings, which accounts, how many, when. A
flag is a question for the office, never a verdict: nothing here changes anything, and only an
admin's `/exclude` leaves a ballot or a rating out of the figures (`db.anomalies.exclusions`).

The rules (thresholds in `Thresholds`, from the `[anomalies]` settings):

* **identical ballots** (`identical_ballots`): in one round, at least `identical_evaluators`
  evaluators whose ballots are the same, unit for unit: the same marks for the same units and
  the same units skipped. Ballots that mark fewer than `identical_min_units` units say too little
  to be alike by design (two people who both rated one unit 5 5 5 5 5 agree, nothing more).
* **bursts** (`bursts`): accounts that came in the same hour (the account made, the evaluator
  role granted, the invite used) and then, at least `burst_accounts` of them, cast at least
  `burst_actions` ballots or ratings within one hour: the mark of accounts made to be used.
* **extreme marks** (`extreme_markers`): an account whose marks, over at least `extreme_items`
  ballots (or ratings), are all the scale's bottom or all its top.
* **far from the reports** (`far_from_reports`): a unit whose appraisal score (or service rating
  satisfaction) and report satisfaction over the same span differ by `far_gap` or more, each
  from at least `far_min_count` ratings.
* **single-unit raters** (`single_unit_raters`): at least `single_unit_ratings` service ratings of
  one unit from accounts that never rated any other unit nor cast any ballot.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from db.models import ServiceRatingValue

HOUR = timedelta(hours=1)


class ItemKind(StrEnum):
    ballot = "ballot"
    rating = "rating"


@dataclass(frozen=True)
class Thresholds:
    identical_evaluators: int = 3
    identical_min_units: int = 2
    burst_actions: int = 5
    burst_accounts: int = 2
    extreme_items: int = 5
    far_gap: float = 0.3
    far_min_count: int = 5
    single_unit_ratings: int = 5


@dataclass(frozen=True)
class BallotRecord:
    id: int
    department_id: int
    account_id: int
    marks: tuple[int, ...] | None
    """One mark per dimension; None: 没有接触过 (the unit skipped)."""
    at: datetime
    """When the ballot was last cast or changed."""


@dataclass(frozen=True)
class RatingRecord:
    id: int
    department_id: int
    account_id: int
    value: ServiceRatingValue
    at: datetime


@dataclass(frozen=True)
class AccountRecord:
    id: int
    telegram_id: int
    joined: tuple[datetime, ...]
    """When the account came in: made, its evaluator role granted, its invite used."""


@dataclass(frozen=True)
class Action:
    """A ballot cast or a rating given, for the burst rule."""

    kind: ItemKind
    id: int
    account_id: int
    at: datetime


@dataclass(frozen=True)
class Marked:
    """One item an account marked, for the extreme marks rule."""

    kind: ItemKind
    id: int
    account_id: int
    marks: tuple[int, ...]


@dataclass(frozen=True)
class UnitFigures:
    """A unit's rating from outside (appraisal score or rating satisfaction, 0–1) beside its
    report satisfaction (0–1) over the same span, with the number of marks behind each."""

    department_id: int
    rated: float | None
    rated_count: int
    reports: float | None
    report_count: int


@dataclass(frozen=True)
class IdenticalBallots:
    accounts: tuple[int, ...]
    ballots: tuple[int, ...]
    pattern: tuple[tuple[int, tuple[int, ...] | None], ...]
    """(unit, marks or None for skipped), by unit id: what every one of them cast."""
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class Burst:
    hour: datetime
    """The hour the accounts came in (UTC, on the hour)."""
    cohort: int
    """How many accounts came in that hour."""
    accounts: tuple[int, ...]
    """Those of them that acted in the burst."""
    ballots: tuple[int, ...]
    ratings: tuple[int, ...]
    first_at: datetime
    last_at: datetime

    @property
    def count(self) -> int:
        return len(self.ballots) + len(self.ratings)


@dataclass(frozen=True)
class ExtremeMarks:
    account: int
    kind: ItemKind
    items: tuple[int, ...]
    mark: int
    """The one mark every item got: the scale's bottom or its top."""
    top: bool


@dataclass(frozen=True)
class FarFromReports:
    department_id: int
    kind: ItemKind
    """ballot: the round's appraisal score; rating: the service ratings' satisfaction."""
    rated: float
    rated_count: int
    reports: float
    report_count: int


@dataclass(frozen=True)
class SingleUnitRaters:
    department_id: int
    accounts: tuple[int, ...]
    ratings: tuple[int, ...]
    first_at: datetime
    last_at: datetime


Flag = IdenticalBallots | Burst | ExtremeMarks | FarFromReports | SingleUnitRaters


def identical_ballots(
    ballots: Sequence[BallotRecord], min_evaluators: int = 3, min_units: int = 2
) -> list[IdenticalBallots]:
    """Groups of at least `min_evaluators` evaluators whose ballots of one round are the same
    unit for unit, marking at least `min_units` units. `ballots` are one round's."""
    by_account: dict[int, list[BallotRecord]] = defaultdict(list)
    for ballot in ballots:
        by_account[ballot.account_id].append(ballot)
    alike: dict[tuple[tuple[int, tuple[int, ...] | None], ...], list[int]] = defaultdict(list)
    for account, cast in by_account.items():
        pattern = tuple(sorted(((b.department_id, b.marks) for b in cast), key=lambda p: p[0]))
        if sum(1 for _unit, marks in pattern if marks is not None) >= min_units:
            alike[pattern].append(account)
    flags: list[IdenticalBallots] = []
    for pattern, accounts in alike.items():
        if len(accounts) < min_evaluators:
            continue
        cast = [b for a in accounts for b in by_account[a]]
        flags.append(
            IdenticalBallots(
                accounts=tuple(sorted(accounts)),
                ballots=tuple(sorted(b.id for b in cast)),
                pattern=pattern,
                first_at=min(b.at for b in cast),
                last_at=max(b.at for b in cast),
            )
        )
    return sorted(flags, key=lambda f: (-len(f.accounts), f.accounts))


def _on_the_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _densest_hour(actions: list[Action], min_accounts: int) -> list[Action]:
    """The most actions within one hour (from at least `min_accounts` accounts), earliest first
    among equals; `actions` sorted by time."""
    best: tuple[int, int] = (0, 0)
    accounts: Counter[int] = Counter()
    left = 0
    for right, action in enumerate(actions):
        accounts[action.account_id] += 1
        while action.at - actions[left].at >= HOUR:
            gone = actions[left].account_id
            accounts[gone] -= 1
            if not accounts[gone]:
                del accounts[gone]
            left += 1
        if len(accounts) >= min_accounts and right + 1 - left > best[1] - best[0]:
            best = (left, right + 1)
    return actions[best[0] : best[1]]


def bursts(
    actions: Sequence[Action],
    accounts: Mapping[int, AccountRecord],
    min_actions: int = 5,
    min_accounts: int = 2,
) -> list[Burst]:
    """For each hour in which at least `min_accounts` accounts came in, the densest hour of
    their ballots and ratings, when it holds at least `min_actions` of them from at least
    `min_accounts` of those accounts."""
    cohorts: dict[datetime, set[int]] = defaultdict(set)
    for account in accounts.values():
        for moment in account.joined:
            cohorts[_on_the_hour(moment)].add(account.id)
    by_account: dict[int, list[Action]] = defaultdict(list)
    for action in actions:
        by_account[action.account_id].append(action)
    flags: list[Burst] = []
    seen: set[tuple[Action, ...]] = set()
    for hour, members in sorted(cohorts.items()):
        if len(members) < min_accounts:
            continue
        theirs = sorted(
            (a for m in members for a in by_account.get(m, [])), key=lambda a: (a.at, a.id)
        )
        burst = _densest_hour(theirs, min_accounts)
        if len(burst) < min_actions or tuple(burst) in seen:
            continue
        seen.add(tuple(burst))
        flags.append(
            Burst(
                hour=hour,
                cohort=len(members),
                accounts=tuple(sorted({a.account_id for a in burst})),
                ballots=tuple(sorted(a.id for a in burst if a.kind is ItemKind.ballot)),
                ratings=tuple(sorted(a.id for a in burst if a.kind is ItemKind.rating)),
                first_at=burst[0].at,
                last_at=burst[-1].at,
            )
        )
    return flags


def extreme_markers(
    items: Sequence[Marked], bottom: int, top: int, min_items: int = 5
) -> list[ExtremeMarks]:
    """Accounts that marked at least `min_items` items and gave every mark of them the scale's
    `bottom`, or every one its `top`."""
    by_account: dict[tuple[int, ItemKind], list[Marked]] = defaultdict(list)
    for item in items:
        if item.marks:
            by_account[(item.account_id, item.kind)].append(item)
    flags: list[ExtremeMarks] = []
    for (account, kind), marked in sorted(by_account.items()):
        if len(marked) < min_items:
            continue
        marks = {mark for item in marked for mark in item.marks}
        if marks in ({bottom}, {top}):
            mark = marks.pop()
            flags.append(
                ExtremeMarks(
                    account=account,
                    kind=kind,
                    items=tuple(sorted(i.id for i in marked)),
                    mark=mark,
                    top=mark == top,
                )
            )
    return flags


def far_from_reports(
    units: Sequence[UnitFigures], kind: ItemKind, min_gap: float = 0.3, min_count: int = 5
) -> list[FarFromReports]:
    """Units whose rating from outside and report satisfaction differ by at least `min_gap`,
    both from at least `min_count` marks; the widest gap first."""
    flags = [
        FarFromReports(
            department_id=u.department_id,
            kind=kind,
            rated=u.rated,
            rated_count=u.rated_count,
            reports=u.reports,
            report_count=u.report_count,
        )
        for u in units
        if u.rated is not None
        and u.reports is not None
        and u.rated_count >= min_count
        and u.report_count >= min_count
        # Rounded, so that a gap of exactly the threshold counts (0.7 - 0.4 is 0.2999…).
        and round(abs(u.rated - u.reports), 9) >= min_gap
    ]
    return sorted(flags, key=lambda f: (-abs(f.rated - f.reports), f.department_id))


def single_unit_raters(
    ratings: Sequence[RatingRecord],
    units_rated: Mapping[int, Collection[int]],
    balloting: Collection[int],
    min_ratings: int = 5,
) -> list[SingleUnitRaters]:
    """Units with at least `min_ratings` ratings (of `ratings`, the span's) from accounts whose
    only ratings ever are of that unit (`units_rated`: every unit each account rated) and that
    cast no ballot (`balloting`)."""
    by_unit: dict[int, list[RatingRecord]] = defaultdict(list)
    for rating in ratings:
        only = units_rated.get(rating.account_id, {rating.department_id})
        if set(only) == {rating.department_id} and rating.account_id not in balloting:
            by_unit[rating.department_id].append(rating)
    flags = [
        SingleUnitRaters(
            department_id=unit,
            accounts=tuple(sorted({r.account_id for r in found})),
            ratings=tuple(sorted(r.id for r in found)),
            first_at=min(r.at for r in found),
            last_at=max(r.at for r in found),
        )
        for unit, found in sorted(by_unit.items())
        if len(found) >= min_ratings
    ]
    return sorted(flags, key=lambda f: (-len(f.ratings), f.department_id))


RATING_MARKS = {
    ServiceRatingValue.unsatisfied: 1,
    ServiceRatingValue.basic: 2,
    ServiceRatingValue.satisfied: 3,
}
"""A service rating as a mark on a 1–3 scale, for the extreme marks rule."""


def ballot_round_flags(
    ballots: Sequence[BallotRecord],
    accounts: Mapping[int, AccountRecord],
    units: Sequence[UnitFigures],
    scale_max: int,
    thresholds: Thresholds,
) -> list[Flag]:
    """Every rule that applies to one round's (counted) ballots."""
    t = thresholds
    flags: list[Flag] = []
    flags += identical_ballots(ballots, t.identical_evaluators, t.identical_min_units)
    actions = [Action(ItemKind.ballot, b.id, b.account_id, b.at) for b in ballots]
    flags += bursts(actions, accounts, t.burst_actions, t.burst_accounts)
    marked = [
        Marked(ItemKind.ballot, b.id, b.account_id, b.marks) for b in ballots if b.marks is not None
    ]
    if scale_max > 2:  # on a two-point scale every mark is extreme
        flags += extreme_markers(marked, 1, scale_max, t.extreme_items)
    flags += far_from_reports(units, ItemKind.ballot, t.far_gap, t.far_min_count)
    return flags


def rating_month_flags(
    ratings: Sequence[RatingRecord],
    accounts: Mapping[int, AccountRecord],
    units: Sequence[UnitFigures],
    units_rated: Mapping[int, Collection[int]],
    balloting: Collection[int],
    thresholds: Thresholds,
) -> list[Flag]:
    """Every rule that applies to a span's (counted) service ratings."""
    t = thresholds
    flags: list[Flag] = []
    actions = [Action(ItemKind.rating, r.id, r.account_id, r.at) for r in ratings]
    flags += bursts(actions, accounts, t.burst_actions, t.burst_accounts)
    marked = [
        Marked(ItemKind.rating, r.id, r.account_id, (RATING_MARKS[r.value],)) for r in ratings
    ]
    flags += extreme_markers(marked, 1, 3, t.extreme_items)
    flags += far_from_reports(units, ItemKind.rating, t.far_gap, t.far_min_count)
    flags += single_unit_raters(ratings, units_rated, balloting, t.single_unit_ratings)
    return flags
