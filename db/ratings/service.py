"""Rating a unit's service (公述民评): opening a link, the rating itself, its reason, the report it
became, and the single-use links a liaison hands out.

At most one rating per account, unit and local day through a poster's link, and one per
single-use link whoever opens it. Both limits hold under concurrent presses: the day's rating is
an INSERT that does nothing on the unique (account, unit, day_key), and a single-use link is
claimed by a conditional UPDATE, so only one of two presses at once can win either; presses of
one account through several single-use links take turns, so their daily cap holds too.

A unit is never rated by its own people: an account holding an active liaison or leader grant of
the unit is refused through any link, and a single-use link is refused to the account that made
it. Single-use links count at most `SINGLE_LINK_DAILY_CAP` times a day per account and unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Account,
    Department,
    DepartmentKind,
    RatingLink,
    RatingLinkKind,
    Role,
    ServiceRating,
    ServiceRatingValue,
)
from db.people.departments import department_by_code
from db.people.roles import DEPARTMENT_ROLES, hash_token, holds_unit_role
from db.queries import insert_or_skip, table_of
from db.ratings.links import link_for_token, new_rating_token

REASON_MAX = 200
LABEL_MAX = 60
POSTER_KINDS = frozenset({DepartmentKind.window, DepartmentKind.key_position})
"""The units a poster is for (seed 004: 窗口 and 关键部位 make their duties public)."""
SINGLE_LINK_DAILY_CAP = 3
"""Ratings through single-use links one account may give one unit on one local day. A link is
for one service and a person may be served several times a day, but many links handed to one
account (a liaison making /ratelink links for a friend) must not outweigh the poster's one
rating a day."""


class RatingProblem(StrEnum):
    unknown = "unknown"
    """No link has this token (mistyped, cut, forged)."""
    revoked = "revoked"
    inactive_unit = "inactive_unit"
    used = "used"
    """A single-use link somebody already rated with."""
    rated_today = "rated_today"
    """This account rated this unit through a poster today."""
    own_unit = "own_unit"
    """The account is a liaison or leader of the unit (active grant): nobody rates their own."""
    own_link = "own_link"
    """The single-use link was made by this account."""
    single_cap = "single_cap"
    """This account rated this unit through `SINGLE_LINK_DAILY_CAP` single-use links today."""


@dataclass(frozen=True)
class OpenLink:
    link: RatingLink
    department: Department


def day_key(link: RatingLink, today: date) -> str:
    """The third column of the one-rating rule: the local day, or the single-use link."""
    if link.kind is RatingLinkKind.single:
        return f"link:{link.id}"
    return today.isoformat()


async def _rated(session: AsyncSession, account_id: int, department_id: int, key: str) -> bool:
    found = await session.exec(
        select(ServiceRating.id).where(
            ServiceRating.account_id == account_id,
            ServiceRating.department_id == department_id,
            ServiceRating.day_key == key,
        )
    )
    return found.first() is not None


async def _single_ratings_on(
    session: AsyncSession, account_id: int, department_id: int, today: date
) -> int:
    """This account's ratings of the unit through single-use links on the local day."""
    found = await session.exec(
        select(func.count())
        .select_from(ServiceRating)
        .join(RatingLink, col(RatingLink.id) == col(ServiceRating.link_id))
        .where(
            ServiceRating.account_id == account_id,
            ServiceRating.department_id == department_id,
            ServiceRating.rated_on == today,
            RatingLink.kind == RatingLinkKind.single,
        )
    )
    return int(found.one())


async def _one_press_at_a_time(session: AsyncSession, account_id: int) -> None:
    """Hold the account until this transaction ends: the day's cap on single-use links is
    counted and then written, so presses of several links at once (each its own row, which no
    unique key ties together) must take turns, or each counts before any is written. An UPDATE
    that changes nothing takes the account's row lock on PostgreSQL and the one write lock on
    SQLite."""
    await session.exec(
        update(Account)
        .where(col(Account.id) == account_id)
        .values(language=Account.language)
        .execution_options(synchronize_session=False)
    )


async def _usable(
    session: AsyncSession, link: RatingLink, account_id: int, today: date
) -> OpenLink | RatingProblem:
    if link.revoked_at is not None:
        return RatingProblem.revoked
    department = await session.get(Department, link.department_id)
    if department is None or not department.active:
        return RatingProblem.inactive_unit
    if link.kind is RatingLinkKind.single and link.used_at is not None:
        return RatingProblem.used
    if await holds_unit_role(session, account_id, link.department_id, DEPARTMENT_ROLES):
        return RatingProblem.own_unit
    if link.kind is RatingLinkKind.single and link.created_by == account_id:
        return RatingProblem.own_link
    if await _rated(session, account_id, link.department_id, day_key(link, today)):
        return RatingProblem.rated_today
    if (
        link.kind is RatingLinkKind.single
        and await _single_ratings_on(session, account_id, link.department_id, today)
        >= SINGLE_LINK_DAILY_CAP
    ):
        return RatingProblem.single_cap
    return OpenLink(link, department)


async def open_link(
    session: AsyncSession, token: str, account_id: int, today: date
) -> OpenLink | RatingProblem:
    """The link a scanned token names and its unit, when this account may rate with it now."""
    link = await link_for_token(session, token)
    if link is None:
        return RatingProblem.unknown
    return await _usable(session, link, account_id, today)


async def record_rating(
    session: AsyncSession,
    *,
    link_id: int,
    account_id: int,
    value: ServiceRatingValue,
    now: datetime,
    today: date,
) -> ServiceRating | RatingProblem:
    """Store one rating through the link, or say why not (nothing is changed then).

    The link is checked again here: it may have been revoked, its unit switched off, or used,
    between the scan and the press. Callers commit.
    """
    link = await session.get(RatingLink, link_id)
    if link is None:
        return RatingProblem.unknown
    if link.kind is RatingLinkKind.single:
        await _one_press_at_a_time(session, account_id)
    usable = await _usable(session, link, account_id, today)
    if isinstance(usable, RatingProblem):
        return usable
    if link.kind is RatingLinkKind.single:
        claimed = await session.exec(
            update(RatingLink)
            .where(
                col(RatingLink.id) == link_id,
                col(RatingLink.used_at).is_(None),
                col(RatingLink.revoked_at).is_(None),
            )
            .values(used_at=now, used_by_account_id=account_id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return RatingProblem.used
    key = day_key(link, today)
    table = table_of(ServiceRating)
    statement = (
        insert_or_skip(
            session.get_bind().dialect.name, table, ["account_id", "department_id", "day_key"]
        )
        .values(
            department_id=link.department_id,
            account_id=account_id,
            link_id=link_id,
            value=value,
            rated_on=today,
            day_key=key,
            created_at=now,
        )
        .returning(table.c.id)
    )
    inserted = (await session.exec(statement)).first()
    if inserted is None:
        # Another press of the same person won the race (single-use links are claimed above).
        return RatingProblem.rated_today
    rating = await session.get(ServiceRating, int(inserted[0]))
    assert rating is not None
    return rating


def next_rating_day(today: date) -> date:
    """When a person who rated a unit today through its poster may rate it again."""
    return today + timedelta(days=1)


async def own_rating(
    session: AsyncSession, rating_id: int | None, account_id: int
) -> ServiceRating | None:
    """The rating when it is this account's own (a button's id is never trusted)."""
    rating = await session.get(ServiceRating, rating_id) if rating_id else None
    if rating is None or rating.account_id != account_id or rating.excluded_at is not None:
        return None
    return rating


async def set_reason(
    session: AsyncSession, rating_id: int, account_id: int, reason: str
) -> ServiceRating | None:
    """Give a 不满意 its reason, once; None when the rating is not this account's 不满意 or
    already has one."""
    rating = await own_rating(session, rating_id, account_id)
    if rating is None or rating.value is not ServiceRatingValue.unsatisfied or rating.reason:
        return None
    rating.reason = reason[:REASON_MAX]
    session.add(rating)
    await session.flush()
    return rating


async def reportable_rating(
    session: AsyncSession, rating_id: int | None, account_id: int
) -> ServiceRating | None:
    """A 不满意 with a reason, of this account, not yet turned into a report, of an active unit."""
    rating = await own_rating(session, rating_id, account_id)
    if (
        rating is None
        or rating.value is not ServiceRatingValue.unsatisfied
        or not rating.reason
        or rating.report_id is not None
    ):
        return None
    department = await session.get(Department, rating.department_id)
    return rating if department is not None and department.active else None


async def link_report(
    session: AsyncSession, rating_id: int, account_id: int, report_id: int
) -> bool:
    """Record the report a 不满意 was turned into (the first one only)."""
    claimed = await session.exec(
        update(ServiceRating)
        .where(
            col(ServiceRating.id) == rating_id,
            col(ServiceRating.account_id) == account_id,
            col(ServiceRating.report_id).is_(None),
        )
        .values(report_id=report_id)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)


async def create_single_link(
    session: AsyncSession,
    *,
    department_id: int,
    label: str | None,
    created_by: int | None,
    now: datetime,
) -> tuple[RatingLink, str]:
    """A link for one service: only its hash is kept, so the token is shown this once."""
    token = new_rating_token()
    link = RatingLink(
        token_hash=hash_token(token),
        public_token=None,
        kind=RatingLinkKind.single,
        department_id=department_id,
        label=label[:LABEL_MAX] if label else None,
        created_by=created_by,
        created_at=now,
    )
    session.add(link)
    await session.flush()
    return link, token


DUTIES_MAX = 400
"""What the poster's duties band holds (eight lines of 34 characters, with some air)."""


class PosterProblem(StrEnum):
    unknown = "unknown"
    inactive = "inactive"
    wrong_kind = "wrong_kind"
    """Posters are for windows and key positions."""


async def poster_unit(session: AsyncSession, code: str) -> Department | PosterProblem:
    """The unit a poster can be printed for: an active window or key position."""
    unit = await department_by_code(session, code)
    if unit is None:
        return PosterProblem.unknown
    if not unit.active:
        return PosterProblem.inactive
    if unit.kind not in POSTER_KINDS:
        return PosterProblem.wrong_kind
    return unit


async def is_unit_liaison(session: AsyncSession, account_id: int, department_id: int) -> bool:
    """An active liaison grant for the unit (who may print its poster and make its links)."""
    return await holds_unit_role(session, account_id, department_id, (Role.liaison,))


async def set_duties(session: AsyncSession, unit: Department, text: str | None) -> None:
    """The unit's published duties (公开岗位职责); None prints the standard commitments."""
    unit.duties = text
    session.add(unit)
    await session.flush()
