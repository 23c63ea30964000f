"""Rating links: a unit's poster link (one at a time, printed and published) and single-use
links for one service. Tokens are 144 random bits in Telegram's `/start` alphabet; the deep link
is `https://t.me/<bot>?start=rate-<token>` (5 + 24 characters, within the 64 allowed)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import RatingLink, RatingLinkKind
from db.people.roles import hash_token

START_PREFIX = "rate-"


def new_rating_token() -> str:
    return secrets.token_urlsafe(18)


def rating_deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={START_PREFIX}{token}"


async def current_poster_token(session: AsyncSession, department_id: int) -> str | None:
    """The unit's poster token, when it has one: its oldest active poster link's, so every
    reader (the poster, the public page) names the same one even after two first uses at
    once made two."""
    return (
        await session.exec(
            select(RatingLink.public_token)
            .where(
                RatingLink.department_id == department_id,
                RatingLink.kind == RatingLinkKind.poster,
                col(RatingLink.revoked_at).is_(None),
                col(RatingLink.public_token).is_not(None),
            )
            .order_by(col(RatingLink.id).asc())
        )
    ).first()


async def poster_token(
    session: AsyncSession, department_id: int, now: datetime, created_by: int | None = None
) -> str:
    """The unit's current poster token, made on first use: every print of the poster and the
    public page show the same code, so posters already on the wall keep working. Two first
    uses at once may both make one; the oldest active poster link is the unit's, read back
    after the insert too, so every reader settles on the same code. Callers commit."""
    found = await current_poster_token(session, department_id)
    if found is not None:
        return found
    token = new_rating_token()
    session.add(
        RatingLink(
            token_hash=hash_token(token),
            public_token=token,
            kind=RatingLinkKind.poster,
            department_id=department_id,
            created_by=created_by,
            created_at=now,
        )
    )
    await session.flush()
    return await current_poster_token(session, department_id) or token


async def link_for_token(session: AsyncSession, token: str) -> RatingLink | None:
    """The link a token names, whatever its state (the caller says why it cannot be used)."""
    return (
        await session.exec(select(RatingLink).where(RatingLink.token_hash == hash_token(token)))
    ).first()
