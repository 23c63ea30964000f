"""Report categories (the prominent problems); data that admins edit, never constants in code."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Category


async def active_categories(session: AsyncSession) -> list[Category]:
    result = await session.exec(
        select(Category).where(col(Category.active).is_(True)).order_by(col(Category.sort_order))
    )
    return list(result.all())


async def active_category(session: AsyncSession, category_id: int) -> Category | None:
    category = await session.get(Category, category_id)
    return category if category is not None and category.active else None


def category_name(category: Category, language: str) -> str:
    return category.name_en if language == "en" else category.name_zh
