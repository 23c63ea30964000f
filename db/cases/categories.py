"""Report categories (the prominent problems); data that admins edit, never constants in code."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Category

# Built once: every report starts with this menu, and building the query cost as much as
# running it.
_ACTIVE = select(Category).where(col(Category.active).is_(True)).order_by(col(Category.sort_order))


async def active_categories(session: AsyncSession) -> list[Category]:
    result = await session.exec(_ACTIVE)
    return list(result.all())


async def active_category(session: AsyncSession, category_id: int) -> Category | None:
    category = await session.get(Category, category_id)
    return category if category is not None and category.active else None


def category_name(category: Category, language: str) -> str:
    return category.name_en if language == "en" else category.name_zh


NAME_MAX = 100
LIMIT_DAYS_MAX = 60
"""Longer than any time limit in the seeds; a typo like 150 is refused rather than obeyed."""


async def all_categories(session: AsyncSession) -> list[Category]:
    """Retired ones too, in menu order: the admin's list."""
    result = await session.exec(select(Category).order_by(col(Category.sort_order)))
    return list(result.all())


async def category_by_code(session: AsyncSession, code: str) -> Category | None:
    """Case-insensitive, like department codes."""
    statement = select(Category).where(func.upper(col(Category.code)) == code.strip().upper())
    return (await session.exec(statement)).first()


async def add_category(
    session: AsyncSession, code: str, name_zh: str, name_en: str
) -> Category | None:
    """A new category at the end of the menu; None when the code is taken."""
    if await category_by_code(session, code) is not None:
        return None
    last = await session.scalar(select(func.max(col(Category.sort_order))))
    category = Category(code=code, name_zh=name_zh, name_en=name_en, sort_order=(last or 0) + 10)
    session.add(category)
    await session.flush()
    return category


async def rename_category(
    session: AsyncSession, category: Category, language: str, name: str
) -> str:
    """Set its Chinese (`zh`) or English (`en`) name; returns the name it had."""
    if language == "zh":
        before, category.name_zh = category.name_zh, name
    else:
        before, category.name_en = category.name_en, name
    session.add(category)
    await session.flush()
    return before


async def retire_category(session: AsyncSession, category: Category) -> None:
    """Offered to no new reporter; reports filed under it keep it, and its limits."""
    category.active = False
    session.add(category)
    await session.flush()


async def set_category_limits(
    session: AsyncSession, category: Category, sign_days: int | None, reply_days: int | None
) -> None:
    """The category's own sign and reply days (None: the configured default). They apply to
    clocks started from now on: a due time once told to a unit does not move under it."""
    category.sign_days, category.reply_days = sign_days, reply_days
    session.add(category)
    await session.flush()
