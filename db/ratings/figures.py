"""Each unit's post-service rating figures over a span of local days (the digest's separate
source of satisfaction, the bulletin's rating rate).

满意率 here counts 满意 and 基本满意 as satisfied, as the paper cards of seed 004 did; excluded
ratings do not count. One grouped statement, whatever the number of ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import ServiceRating, ServiceRatingValue


@dataclass(frozen=True)
class RatingFigures:
    department_id: int
    ratings: int
    satisfied: int
    basic: int
    unsatisfied: int

    @property
    def satisfaction_rate(self) -> float | None:
        """(满意 + 基本满意) / all; None without ratings."""
        if self.ratings == 0:
            return None
        return (self.satisfied + self.basic) / self.ratings


def _count(value: ServiceRatingValue) -> object:
    return func.sum(case((col(ServiceRating.value) == value.value, 1), else_=0))


async def rating_figures(
    session: AsyncSession, first_day: date, last_day: date
) -> dict[int, RatingFigures]:
    """Figures per unit for ratings made from `first_day` to `last_day` inclusive."""
    rows = (
        await session.exec(
            select(  # type: ignore[call-overload]
                ServiceRating.department_id,
                func.count(),
                _count(ServiceRatingValue.satisfied),
                _count(ServiceRatingValue.basic),
                _count(ServiceRatingValue.unsatisfied),
            )
            .where(
                col(ServiceRating.rated_on) >= first_day,
                col(ServiceRating.rated_on) <= last_day,
                col(ServiceRating.excluded_at).is_(None),
            )
            .group_by(col(ServiceRating.department_id))
        )
    ).all()
    return {
        int(dept): RatingFigures(int(dept), int(n), int(s or 0), int(b or 0), int(u or 0))
        for dept, n, s, b, u in rows
    }
