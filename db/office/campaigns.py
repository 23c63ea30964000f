"""Campaigns and their phases, with the templates the seeds describe.

`zhengfeng-2011` is seed 001's plan (哈尔滨市"政风建设年"): 启动和自查自纠 January–February,
集中整治 March–September, 巩固成果 October, 总结验收 November–December. A template gives month
ranges; loading it for a year turns them into dates that admins may then edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.duties.rules import period_of
from db.models import Campaign, CampaignPhase, DuePeriod


@dataclass(frozen=True)
class PhaseTemplate:
    name: str
    first_month: int
    last_month: int


@dataclass(frozen=True)
class CampaignTemplate:
    name: str
    phases: tuple[PhaseTemplate, ...]


TEMPLATES: dict[str, CampaignTemplate] = {
    "zhengfeng-2011": CampaignTemplate(
        name="政风建设年",
        phases=(
            PhaseTemplate("启动和自查自纠", 1, 2),
            PhaseTemplate("集中整治", 3, 9),
            PhaseTemplate("巩固成果", 10, 10),
            PhaseTemplate("总结验收", 11, 12),
        ),
    ),
}


def phase_dates(template: CampaignTemplate, year: int) -> list[tuple[str, date, date]]:
    return [
        (
            p.name,
            date(year, p.first_month, 1),
            period_of(DuePeriod.month, date(year, p.last_month, 1)).end,
        )
        for p in template.phases
    ]


async def init_campaign(
    session: AsyncSession, template_name: str, year: int, name: str | None = None
) -> Campaign | None:
    """Load a template for a year; None for an unknown template. Loading the same template for
    the same year again returns the campaign already there (idempotent, like the unit import)."""
    template = TEMPLATES.get(template_name)
    if template is None:
        return None
    existing = (
        await session.exec(
            select(Campaign).where(Campaign.template == template_name, Campaign.year == year)
        )
    ).first()
    if existing is not None:
        return existing
    campaign = Campaign(name=name or f"{year}年{template.name}", year=year, template=template_name)
    session.add(campaign)
    await session.flush()
    assert campaign.id is not None
    for position, (phase_name, starts_on, ends_on) in enumerate(phase_dates(template, year), 1):
        session.add(
            CampaignPhase(
                campaign_id=campaign.id,
                position=position,
                name=phase_name,
                starts_on=starts_on,
                ends_on=ends_on,
            )
        )
    await session.flush()
    return campaign


@dataclass(frozen=True)
class CurrentPhase:
    campaign: Campaign
    phase: CampaignPhase


async def current_phase(session: AsyncSession, today: date) -> CurrentPhase | None:
    """The phase of an active campaign that contains `today` (the newest campaign wins)."""
    statement = (
        select(Campaign, CampaignPhase)
        .join(CampaignPhase, col(CampaignPhase.campaign_id) == col(Campaign.id))
        .where(
            col(Campaign.active),
            col(CampaignPhase.starts_on) <= today,
            col(CampaignPhase.ends_on) >= today,
        )
        .order_by(col(Campaign.id).desc(), col(CampaignPhase.position))
    )
    row = (await session.exec(statement)).first()
    return CurrentPhase(*row) if row is not None else None


async def phases_of(session: AsyncSession, campaign_id: int) -> list[CampaignPhase]:
    return list(
        (
            await session.exec(
                select(CampaignPhase)
                .where(CampaignPhase.campaign_id == campaign_id)
                .order_by(col(CampaignPhase.position))
            )
        ).all()
    )
