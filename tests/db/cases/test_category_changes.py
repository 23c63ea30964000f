"""The office's changes to a category: names, retirement and its own time limits."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.categories import (
    active_categories,
    add_category,
    rename_category,
    retire_category,
    set_category_limits,
)


async def test_rename_retire_and_limits(session: AsyncSession) -> None:
    category = await add_category(session, "test_cat", "测试类别", "Test category")
    assert category is not None
    assert await rename_category(session, category, "zh", "新名称") == "测试类别"
    assert await rename_category(session, category, "en", "New name") == "Test category"
    assert (category.name_zh, category.name_en) == ("新名称", "New name")
    await set_category_limits(session, category, 2, None)
    assert (category.sign_days, category.reply_days) == (2, None)
    assert category in await active_categories(session)
    await retire_category(session, category)
    await session.commit()
    assert category not in await active_categories(session)
