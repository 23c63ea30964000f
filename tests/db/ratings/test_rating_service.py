"""Post-service ratings without Telegram: the day rule, single-use links, refusals, races."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

import db.ratings.links
from db.cases.handling import ConfiguredLimits
from db.cases.reports import file_report as file_draft
from db.cases.rules import Limits
from db.engine import session_factory
from db.models import (
    Account,
    Department,
    DepartmentKind,
    IdentityMode,
    RatingLink,
    RatingLinkKind,
    Role,
    RoleGrant,
    ServiceRating,
    ServiceRatingValue,
)
from db.people.roles import hash_token
from db.ratings.links import current_poster_token, poster_token
from db.ratings.service import (
    SINGLE_LINK_DAILY_CAP,
    RatingProblem,
    create_single_link,
    link_report,
    open_link,
    record_rating,
    reportable_rating,
    set_reason,
)
from tests.conftest import NOW
from tests.factories import complete_draft, file_report

TODAY = date(2026, 3, 16)
OK = ServiceRatingValue.satisfied
BAD = ServiceRatingValue.unsatisfied


async def _world(session: AsyncSession) -> tuple[Department, Account, Account]:
    window = Department(code="W002", name="道里区行政服务中心", kind=DepartmentKind.window)
    one, two = Account(telegram_id=801), Account(telegram_id=802)
    session.add_all([window, one, two])
    await session.flush()
    return window, one, two


async def _count(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(ServiceRating))).one())


async def test_a_poster_link_rates_once_per_account_unit_and_day(session: AsyncSession) -> None:
    window, one, two = await _world(session)
    assert window.id and one.id and two.id
    token = await poster_token(session, window.id, NOW)
    opened = await open_link(session, token, one.id, TODAY)
    assert not isinstance(opened, RatingProblem) and opened.department.code == "W002"
    link_id = opened.link.id
    assert link_id is not None

    first = await record_rating(
        session, link_id=link_id, account_id=one.id, value=OK, now=NOW, today=TODAY
    )
    assert isinstance(first, ServiceRating) and first.day_key == "2026-03-16"
    again = await record_rating(
        session, link_id=link_id, account_id=one.id, value=BAD, now=NOW, today=TODAY
    )
    assert again is RatingProblem.rated_today
    assert await open_link(session, token, one.id, TODAY) is RatingProblem.rated_today
    # Someone else the same day, and the same person the next day, may rate.
    other = await record_rating(
        session, link_id=link_id, account_id=two.id, value=BAD, now=NOW, today=TODAY
    )
    assert isinstance(other, ServiceRating)
    tomorrow = await record_rating(
        session,
        link_id=link_id,
        account_id=one.id,
        value=BAD,
        now=NOW + timedelta(days=1),
        today=TODAY + timedelta(days=1),
    )
    assert isinstance(tomorrow, ServiceRating)
    assert await _count(session) == 3
    assert first.value is OK, "the refused second rating changed nothing"


async def test_refusals_change_nothing(session: AsyncSession) -> None:
    window, one, _two = await _world(session)
    assert window.id and one.id
    assert await open_link(session, "forged-token-123456789012", one.id, TODAY) is (
        RatingProblem.unknown
    )
    token = await poster_token(session, window.id, NOW)
    opened = await open_link(session, token, one.id, TODAY)
    assert not isinstance(opened, RatingProblem)
    link_id = opened.link.id
    assert link_id is not None

    window.active = False
    session.add(window)
    await session.flush()
    assert await open_link(session, token, one.id, TODAY) is RatingProblem.inactive_unit
    refused = await record_rating(
        session, link_id=link_id, account_id=one.id, value=OK, now=NOW, today=TODAY
    )
    assert refused is RatingProblem.inactive_unit

    window.active = True
    opened.link.revoked_at = NOW
    session.add_all([window, opened.link])
    await session.flush()
    assert await open_link(session, token, one.id, TODAY) is RatingProblem.revoked
    assert await _count(session) == 0


async def test_a_single_use_link_counts_once_whoever_uses_it(session: AsyncSession) -> None:
    window, one, two = await _world(session)
    assert window.id and one.id and two.id
    link, token = await create_single_link(
        session, department_id=window.id, label="ZF2026-000123", created_by=None, now=NOW
    )
    assert link.public_token is None and token not in link.token_hash
    poster = await poster_token(session, window.id, NOW)
    poster_link = await open_link(session, poster, one.id, TODAY)
    assert not isinstance(poster_link, RatingProblem) and poster_link.link.id
    # A poster rating the same day does not stop a rating of one specific service.
    await record_rating(
        session, link_id=poster_link.link.id, account_id=one.id, value=OK, now=NOW, today=TODAY
    )
    assert link.id is not None
    rating = await record_rating(
        session, link_id=link.id, account_id=one.id, value=BAD, now=NOW, today=TODAY
    )
    assert isinstance(rating, ServiceRating) and rating.day_key == f"link:{link.id}"
    await session.refresh(link)
    assert link.used_at is not None and link.used_by_account_id == one.id
    assert await open_link(session, token, two.id, TODAY) is RatingProblem.used
    assert (
        await record_rating(
            session, link_id=link.id, account_id=two.id, value=OK, now=NOW, today=TODAY
        )
        is RatingProblem.used
    )
    assert await _count(session) == 2


async def test_a_reason_once_then_one_report(session: AsyncSession) -> None:
    window, one, two = await _world(session)
    assert window.id and one.id and two.id
    token = await poster_token(session, window.id, NOW)
    opened = await open_link(session, token, one.id, TODAY)
    assert not isinstance(opened, RatingProblem) and opened.link.id
    rating = await record_rating(
        session, link_id=opened.link.id, account_id=one.id, value=BAD, now=NOW, today=TODAY
    )
    assert isinstance(rating, ServiceRating) and rating.id
    assert await reportable_rating(session, rating.id, one.id) is None, "no reason yet"
    assert await set_reason(session, rating.id, two.id, "态度不好") is None, "not theirs"
    assert await set_reason(session, rating.id, one.id, "态度不好") is not None
    assert await set_reason(session, rating.id, one.id, "办事拖拉") is None, "only once"
    assert await reportable_rating(session, rating.id, two.id) is None
    assert await reportable_rating(session, rating.id, one.id) is rating
    assert rating.reason == "态度不好"


async def test_link_report_keeps_the_first(session: AsyncSession) -> None:
    window, one, _two = await _world(session)
    assert window.id and one.id
    token = await poster_token(session, window.id, NOW)
    opened = await open_link(session, token, one.id, TODAY)
    assert not isinstance(opened, RatingProblem) and opened.link.id
    rating = await record_rating(
        session, link_id=opened.link.id, account_id=one.id, value=BAD, now=NOW, today=TODAY
    )
    assert isinstance(rating, ServiceRating) and rating.id
    report = await file_report(session, one.id, NOW, department_id=window.id)
    assert report.id is not None
    assert await link_report(session, rating.id, one.id, report.id)
    assert not await link_report(session, rating.id, one.id, report.id)
    await session.refresh(rating)
    assert rating.report_id == report.id


async def _reasoned_unsatisfied(session: AsyncSession, window: Department, one: Account) -> int:
    assert window.id and one.id
    token = await poster_token(session, window.id, NOW)
    opened = await open_link(session, token, one.id, TODAY)
    assert not isinstance(opened, RatingProblem) and opened.link.id
    rating = await record_rating(
        session, link_id=opened.link.id, account_id=one.id, value=BAD, now=NOW, today=TODAY
    )
    assert isinstance(rating, ServiceRating) and rating.id
    assert await set_reason(session, rating.id, one.id, "态度不好") is not None
    return rating.id


async def test_filing_the_report_a_rating_became_records_it_on_the_rating(
    session: AsyncSession,
) -> None:
    window, one, _two = await _world(session)
    assert window.id and one.id
    rating_id = await _reasoned_unsatisfied(session, window, one)
    draft = await complete_draft(session, IdentityMode.anonymous, department_id=window.id)
    draft.rating_id = rating_id
    filed = await file_draft(
        session,
        account_id=one.id,
        draft=draft,
        language="zh_CN",
        now=NOW,
        configured=ConfiguredLimits(Limits()),
        tz=ZoneInfo("Asia/Shanghai"),
        auto_assign=False,
    )
    rating = await session.get(ServiceRating, rating_id)
    assert rating is not None
    await session.refresh(rating)
    assert rating.report_id == filed.report.id is not None
    assert await reportable_rating(session, rating_id, one.id) is None, "turned into one report"


async def test_a_fully_anonymous_report_from_a_rating_leaves_no_trace_on_it(
    session: AsyncSession,
) -> None:
    window, one, _two = await _world(session)
    assert window.id and one.id
    rating_id = await _reasoned_unsatisfied(session, window, one)
    draft = await complete_draft(session, IdentityMode.fully_anonymous, department_id=window.id)
    draft.rating_id = rating_id
    filed = await file_draft(
        session,
        account_id=one.id,
        draft=draft,
        language="zh_CN",
        now=NOW,
        configured=ConfiguredLimits(Limits()),
        tz=ZoneInfo("Asia/Shanghai"),
        auto_assign=False,
    )
    await session.flush()
    assert filed.report.id is not None and filed.report.reporter_account_id is None
    rating = await session.get(ServiceRating, rating_id)
    assert rating is not None
    await session.refresh(rating)
    assert rating.report_id is None, "the rating names the account: no link to the report"
    linked = await session.exec(
        select(ServiceRating).where(ServiceRating.report_id == filed.report.id)
    )
    assert linked.first() is None


async def test_two_presses_at_once_make_one_rating(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        window, one, two = await _world(session)
        assert window.id and one.id and two.id
        token = await poster_token(session, window.id, NOW)
        single, _single_token = await create_single_link(
            session, department_id=window.id, label=None, created_by=None, now=NOW
        )
        await session.commit()
        poster = await open_link(session, token, one.id, TODAY)
        assert not isinstance(poster, RatingProblem)
        ids = (one.id, two.id, poster.link.id, single.id)

    async def press(link_id: int, account_id: int) -> ServiceRating | RatingProblem:
        async with sessions() as session:
            outcome = await record_rating(
                session, link_id=link_id, account_id=account_id, value=OK, now=NOW, today=TODAY
            )
            await session.commit()
            return outcome

    first, second, poster_id, single_id = ids
    assert poster_id is not None and single_id is not None
    same_person = await asyncio.gather(*(press(poster_id, first) for _ in range(6)))
    assert sum(isinstance(o, ServiceRating) for o in same_person) == 1
    assert set(o for o in same_person if not isinstance(o, ServiceRating)) == {
        RatingProblem.rated_today
    }
    two_people = await asyncio.gather(press(single_id, first), press(single_id, second))
    assert sum(isinstance(o, ServiceRating) for o in two_people) == 1
    assert RatingProblem.used in two_people
    async with sessions() as session:
        assert await _count(session) == 2
        link = await session.get(RatingLink, single_id)
        assert link is not None and link.used_at is not None


async def test_a_units_own_people_cannot_rate_it(session: AsyncSession) -> None:
    window, one, two = await _world(session)
    other = Department(code="W003", name="南岗区行政服务中心", kind=DepartmentKind.window)
    session.add(other)
    await session.flush()
    assert window.id and other.id and one.id and two.id
    liaison = RoleGrant(account_id=one.id, role=Role.liaison, department_id=window.id)
    leader = RoleGrant(account_id=two.id, role=Role.leader, department_id=window.id)
    session.add_all([liaison, leader])
    await session.flush()
    poster = await poster_token(session, window.id, NOW)
    poster_id = await open_link(session, poster, 999, TODAY)
    assert not isinstance(poster_id, RatingProblem) and poster_id.link.id
    single, single_token = await create_single_link(
        session, department_id=window.id, label=None, created_by=None, now=NOW
    )
    assert single.id
    for account in (one.id, two.id):
        assert await open_link(session, poster, account, TODAY) is RatingProblem.own_unit
        assert await open_link(session, single_token, account, TODAY) is RatingProblem.own_unit
        for link_id in (poster_id.link.id, single.id):
            refused = await record_rating(
                session, link_id=link_id, account_id=account, value=OK, now=NOW, today=TODAY
            )
            assert refused is RatingProblem.own_unit
    await session.refresh(single)
    assert single.used_at is None, "the refused press did not use up the link"
    assert await _count(session) == 0
    # Another unit's liaison may rate this one; an ended grant no longer counts.
    other_poster = await poster_token(session, other.id, NOW)
    assert not isinstance(await open_link(session, other_poster, one.id, TODAY), RatingProblem)
    leader.revoked_at = NOW
    session.add(leader)
    await session.flush()
    rated = await record_rating(
        session, link_id=poster_id.link.id, account_id=two.id, value=OK, now=NOW, today=TODAY
    )
    assert isinstance(rated, ServiceRating)


async def test_a_single_use_link_is_not_for_its_maker(session: AsyncSession) -> None:
    window, one, two = await _world(session)
    assert window.id and one.id and two.id
    link, token = await create_single_link(
        session, department_id=window.id, label=None, created_by=one.id, now=NOW
    )
    assert link.id
    assert await open_link(session, token, one.id, TODAY) is RatingProblem.own_link
    refused = await record_rating(
        session, link_id=link.id, account_id=one.id, value=OK, now=NOW, today=TODAY
    )
    assert refused is RatingProblem.own_link and await _count(session) == 0
    await session.refresh(link)
    assert link.used_at is None
    rated = await record_rating(
        session, link_id=link.id, account_id=two.id, value=OK, now=NOW, today=TODAY
    )
    assert isinstance(rated, ServiceRating)


async def test_presses_of_many_single_use_links_at_once_keep_the_days_cap(
    any_engine: AsyncEngine,
) -> None:
    """Each press counted the day's single-use ratings before any of them was written, so six
    links pressed at once made six ratings."""
    sessions = session_factory(any_engine)
    async with sessions() as session:
        window, one, _two = await _world(session)
        assert window.id and one.id
        links = [
            await create_single_link(
                session, department_id=window.id, label=None, created_by=None, now=NOW
            )
            for _ in range(SINGLE_LINK_DAILY_CAP + 3)
        ]
        await session.commit()
    account_id = one.id

    async def press(link_id: int | None) -> ServiceRating | RatingProblem:
        assert link_id is not None
        async with sessions() as session:
            outcome = await record_rating(
                session, link_id=link_id, account_id=account_id, value=OK, now=NOW, today=TODAY
            )
            await session.commit()
            return outcome

    outcomes = await asyncio.gather(*(press(link.id) for link, _token in links))
    assert sum(isinstance(o, ServiceRating) for o in outcomes) == SINGLE_LINK_DAILY_CAP
    assert [o for o in outcomes if not isinstance(o, ServiceRating)] == [
        RatingProblem.single_cap
    ] * 3
    async with sessions() as session:
        assert await _count(session) == SINGLE_LINK_DAILY_CAP
        unused = await session.exec(select(RatingLink).where(col(RatingLink.used_at).is_(None)))
        assert len(unused.all()) == 3, "the refused links are still there for someone else"


async def test_single_use_links_count_three_times_a_day_per_account_and_unit(
    session: AsyncSession,
) -> None:
    window, one, two = await _world(session)
    assert window.id and one.id and two.id
    links = [
        await create_single_link(
            session, department_id=window.id, label=None, created_by=None, now=NOW
        )
        for _ in range(SINGLE_LINK_DAILY_CAP + 2)
    ]
    ids = [link.id for link, _token in links]
    assert SINGLE_LINK_DAILY_CAP == 3 and all(ids)
    for link_id in ids[:SINGLE_LINK_DAILY_CAP]:
        assert link_id is not None
        rated = await record_rating(
            session, link_id=link_id, account_id=one.id, value=OK, now=NOW, today=TODAY
        )
        assert isinstance(rated, ServiceRating)
    # A poster rating the same day is not a single-use one and does not count towards the cap.
    poster = await poster_token(session, window.id, NOW)
    opened = await open_link(session, poster, one.id, TODAY)
    assert not isinstance(opened, RatingProblem)
    fourth_id = ids[SINGLE_LINK_DAILY_CAP]
    assert fourth_id is not None
    fourth_token = links[SINGLE_LINK_DAILY_CAP][1]
    assert await open_link(session, fourth_token, one.id, TODAY) is RatingProblem.single_cap
    refused = await record_rating(
        session, link_id=fourth_id, account_id=one.id, value=OK, now=NOW, today=TODAY
    )
    assert refused is RatingProblem.single_cap
    assert await _count(session) == SINGLE_LINK_DAILY_CAP
    fourth = await session.get(RatingLink, fourth_id)
    assert fourth is not None
    await session.refresh(fourth)
    assert fourth.used_at is None, "the refused link is still there for someone else"
    # Someone else today, and the same person tomorrow, may use the links.
    other = await record_rating(
        session, link_id=fourth_id, account_id=two.id, value=OK, now=NOW, today=TODAY
    )
    assert isinstance(other, ServiceRating)
    last_id = ids[-1]
    assert last_id is not None
    tomorrow = await record_rating(
        session,
        link_id=last_id,
        account_id=one.id,
        value=OK,
        now=NOW + timedelta(days=1),
        today=TODAY + timedelta(days=1),
    )
    assert isinstance(tomorrow, ServiceRating)


def _poster_link(department_id: int, token: str) -> RatingLink:
    return RatingLink(
        token_hash=hash_token(token),
        public_token=token,
        kind=RatingLinkKind.poster,
        department_id=department_id,
        created_at=NOW,
    )


async def test_two_first_posters_at_once_settle_on_the_oldest_link(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, _one, _two = await _world(session)
    assert window.id
    first = await poster_token(session, window.id, NOW)
    # A second first /poster that read before this one's insert made a link of its own.
    session.add(_poster_link(window.id, "a-later-poster-token-0000"))
    await session.flush()
    assert await poster_token(session, window.id, NOW) == first
    assert await current_poster_token(session, window.id) == first

    # The other way round: this call read no link, then another call's link was stored first.
    other = Department(code="W003", name="南岗区行政服务中心", kind=DepartmentKind.window)
    session.add(other)
    await session.flush()
    assert other.id
    other_id = other.id
    real = current_poster_token
    calls = 0

    async def read_before_the_other(session: AsyncSession, department_id: int) -> str | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            session.add(_poster_link(other_id, "the-other-first-token-000"))
            await session.flush()
            return None
        return await real(session, department_id)

    monkeypatch.setattr(db.ratings.links, "current_poster_token", read_before_the_other)
    assert await poster_token(session, other_id, NOW) == "the-other-first-token-000"
    count = await session.exec(
        select(func.count()).select_from(RatingLink).where(RatingLink.department_id == other_id)
    )
    assert count.one() == 2, "both were made; both callers name the oldest"
