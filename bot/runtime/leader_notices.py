"""A unit's leaders hear of their unit's reports: when one is assigned to it and when one is
closed, not only when a 催办 comes.

A leader answers for the unit's work style; learning of a complaint against the unit from the
escalation a week later is too late. The notice is short and carries no more than a leader needs
to follow up (number, category, unit, deadline or outcome): never the reporter, and not the
description, which the liaisons handle. A leader who is also the unit's liaison gets only the
liaison's notice (`db.people.roles.leaders_to_tell`). Both notices can be switched off in the
configuration (`[notices]`).
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.render import esc, local_time
from bot.runtime.settings import Settings
from bot.runtime.turn import Outgoing
from db.cases.categories import category_name
from db.models import Category, Department, EventKind, Report
from db.people.roles import leaders_to_tell


class LeaderNews(StrEnum):
    assigned = "assigned"
    closed = "closed"


HOW_CLOSED: dict[EventKind, str] = {
    EventKind.rated: N_("the reporter rated the answer"),
    EventKind.closed_unrated: N_("the reporter did not rate the answer in time"),
    EventKind.closed: N_("closed by the campaign office"),
}


def _wanted(settings: Settings, news: LeaderNews) -> bool:
    if news is LeaderNews.assigned:
        return settings.notices.leaders_on_assign
    return settings.notices.leaders_on_close


async def leader_notices(
    session: AsyncSession,
    settings: Settings,
    report: Report,
    news: LeaderNews,
    closed_by: EventKind | None = None,
) -> list[Outgoing]:
    """The notices to the leaders of the report's handling unit, keyed so that deciding the same
    event twice (a retried update) queues them once."""
    department_id = report.handling_department_id
    if department_id is None or not _wanted(settings, news):
        return []
    leaders = await leaders_to_tell(session, department_id)
    if not leaders:
        return []
    unit = await session.get(Department, department_id)
    category = await session.get(Category, report.category_id)
    moment = report.assigned_at.isoformat() if report.assigned_at else ""
    event = f"{news.value}:{report.number}:{department_id}:{moment}"

    def text(_: Translator, language: str) -> str:
        values = {
            "number": report.number,
            "unit": esc(unit.name) if unit else "—",
            "category": esc(category_name(category, language)) if category else "—",
        }
        if news is LeaderNews.assigned:
            due = local_time(report.due_at, settings.tz) if report.due_at else "—"
            return _(
                "For your information: report <b>{number}</b> ({category}) was assigned to "
                "{unit}; its liaisons must sign for it by {due}."
            ).format(due=due, **values)
        how = _(HOW_CLOSED[closed_by]) if closed_by in HOW_CLOSED else "—"
        return _(
            "For your information: report <b>{number}</b> ({category}) of {unit} was closed: {how}."
        ).format(how=how, **values)

    return [
        Outgoing(
            leader.telegram_id,
            text(gettext_for(leader.language), leader.language),
            key=f"leader:{event}:{leader.telegram_id}",
        )
        for leader in leaders
    ]
