"""The audit trail: every admin action, recorded in the transaction that makes it.

Recording in the same transaction means an action and its audit row commit or roll back together:
the trail can neither miss an action nor show one that did not happen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import AuditEvent


def _json(values: Mapping[str, object] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)


async def record(
    session: AsyncSession,
    *,
    actor_account_id: int | None,
    action: str,
    subject: str,
    now: datetime,
    before: Mapping[str, object] | None = None,
    after: Mapping[str, object] | None = None,
) -> AuditEvent:
    """Add one audit event (flushes, never commits). Values that are secrets (a robot URL's
    key) must be masked by the caller before they get here."""
    event = AuditEvent(
        actor_account_id=actor_account_id,
        action=action,
        subject=subject,
        before=_json(before),
        after=_json(after),
        created_at=now,
    )
    session.add(event)
    await session.flush()
    return event


async def trail(
    session: AsyncSession,
    *,
    subject: str | None = None,
    actor_account_id: int | None = None,
    limit: int = 30,
) -> list[AuditEvent]:
    """The newest events first, for one subject or one actor (or all)."""
    statement = select(AuditEvent).order_by(
        col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc()
    )
    if subject is not None:
        statement = statement.where(col(AuditEvent.subject) == subject)
    if actor_account_id is not None:
        statement = statement.where(col(AuditEvent.actor_account_id) == actor_account_id)
    return list((await session.exec(statement.limit(limit))).all())
