"""Complete drafts and filed reports for tests that need a report to act on."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.categories import active_categories
from db.cases.drafts import Draft
from db.cases.reports import submit_draft
from db.models import IdentityMode, Report

TZ = ZoneInfo("Asia/Shanghai")


async def complete_draft(
    session: AsyncSession,
    mode: IdentityMode = IdentityMode.real_name,
    department_id: int | None = None,
) -> Draft:
    """A draft the report flow would accept, in the first category, about a unit or "not sure"."""
    category = (await active_categories(session))[0]
    real_name = mode is IdentityMode.real_name
    return Draft(
        category_id=category.id,
        department_id=department_id,
        department_unsure=department_id is None,
        department_text=None if department_id is not None else "某窗口",
        description="窗口工作人员推诿，要求反复提交同一份材料。",
        time_place_skipped=True,
        evidence_done=True,
        identity_mode=mode,
        reporter_name="张三" if real_name else None,
        reporter_phone="+8613800138000" if real_name else None,
    )


async def file_report(
    session: AsyncSession,
    account_id: int,
    at: datetime,
    department_id: int | None = None,
    mode: IdentityMode = IdentityMode.real_name,
) -> Report:
    """A report filed the way the bot files one, through `submit_draft`."""
    draft = await complete_draft(session, mode, department_id)
    submitted = await submit_draft(
        session, account_id=account_id, draft=draft, language="zh_CN", now=at, tz=TZ
    )
    return submitted.report
