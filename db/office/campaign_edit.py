"""The office's changes to a campaign after a template loaded it: one phase's dates and name.

Templates give whole months (seed 001); a city that starts its 集中整治 on 15 March moves the
dates here. Callers record the audit event in the same transaction.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Campaign, CampaignPhase

PHASE_NAME_MAX = 100


class PhaseProblem(StrEnum):
    no_campaign = "no_campaign"
    unknown_phase = "unknown_phase"
    ends_before_start = "ends_before_start"
    bad_name = "bad_name"


async def active_campaign(session: AsyncSession) -> Campaign | None:
    """The newest active campaign: the one officials are working in."""
    statement = select(Campaign).where(col(Campaign.active)).order_by(col(Campaign.id).desc())
    return (await session.exec(statement.limit(1))).first()


async def edit_phase(
    session: AsyncSession,
    campaign_id: int,
    position: int,
    starts_on: date,
    ends_on: date,
    name: str | None = None,
) -> CampaignPhase | PhaseProblem:
    """Set phase `position` (1-based, as listed) to new inclusive dates, and a new name if
    given. Flushes, never commits."""
    if ends_on < starts_on:
        return PhaseProblem.ends_before_start
    cleaned = " ".join((name or "").split())
    if name is not None and not 1 <= len(cleaned) <= PHASE_NAME_MAX:
        return PhaseProblem.bad_name
    phase = (
        await session.exec(
            select(CampaignPhase).where(
                CampaignPhase.campaign_id == campaign_id, CampaignPhase.position == position
            )
        )
    ).first()
    if phase is None:
        return PhaseProblem.unknown_phase
    phase.starts_on = starts_on
    phase.ends_on = ends_on
    if name is not None:
        phase.name = cleaned
    session.add(phase)
    await session.flush()
    return phase
