"""What the public page (公示页面) reads: published quarters only, and of them only figures —
counts and rates per unit, never a report, a reporter or an account.

A unit's monthly figures (received, answered on time, satisfaction) are those frozen with each
published quarter (`db.cases.metrics` over each of its months, as the digest counts them), so a
page costs a few reads however many reports there are, and shows what was published. Its
poster's QR code is read, never made, here: the public site writes nothing, and a unit whose
poster was never printed has no code to show yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from db.bulletin.bulletin import Bulletin, frozen_of, published_bulletins
from db.bulletin.quarters import parse_quarter
from db.models import Department, DepartmentKind
from db.people.departments import department_by_code
from db.ratings.links import current_poster_token
from db.ratings.service import POSTER_KINDS


@dataclass(frozen=True)
class MonthFigures:
    month: date
    received: int
    answered: int
    answered_on_time_rate: float | None
    satisfaction_rate: float | None


@dataclass(frozen=True)
class PublicUnit:
    code: str
    name: str
    kind: DepartmentKind
    duties: str | None
    """Its published duties (公开岗位职责) when the unit has any."""
    poster_token: str | None
    """The token of its current poster, for a window or key position that has one."""
    ranks: tuple[tuple[str, int | None, float | None, bool], ...]
    """(quarter, rank, score, 末位) in each published quarter that lists it, latest first."""
    months: tuple[MonthFigures, ...]
    """Each month of the published quarters, oldest first."""


async def published(session: AsyncSession) -> list[Bulletin]:
    """The published bulletins, the latest first."""
    return [frozen_of(row) for row in await published_bulletins(session)]


async def public_unit(session: AsyncSession, code: str) -> PublicUnit | None:
    """A unit listed in some published quarter, or None (unknown, or in none published)."""
    bulletins = await published(session)
    unit: Department | None = await department_by_code(session, code)
    if unit is None or unit.id is None:
        return None
    ranks = []
    for bulletin in bulletins:
        line = next((u for u in bulletin.units if u.department_id == unit.id), None)
        if line is not None:
            ranks.append((bulletin.quarter, line.rank, line.score, line.bottom))
    if not ranks:
        return None
    months: list[MonthFigures] = []
    for bulletin in sorted(bulletins, key=lambda b: b.quarter):
        line = next((u for u in bulletin.units if u.department_id == unit.id), None)
        for month in parse_quarter(bulletin.quarter).months:
            counts = line.months.get(f"{month:%Y-%m}", {}) if line is not None else {}
            answered, ratings = counts.get("answered", 0), counts.get("ratings", 0)
            months.append(
                MonthFigures(
                    month=month,
                    received=counts.get("received", 0),
                    answered=answered,
                    answered_on_time_rate=(
                        counts.get("answered_on_time", 0) / answered if answered else None
                    ),
                    satisfaction_rate=counts.get("satisfied", 0) / ratings if ratings else None,
                )
            )
    # A switched-off unit takes no ratings: its page shows no QR code that would only refuse.
    rated = unit.active and unit.kind in POSTER_KINDS
    token = await current_poster_token(session, unit.id) if rated else None
    duties = unit.duties
    return PublicUnit(
        code=unit.code,
        name=unit.name,
        kind=unit.kind,
        duties=duties if duties and duties.strip() else None,
        poster_token=token,
        ranks=tuple(ranks),
        months=tuple(months),
    )
