"""Rows of `duty_draft`: one draft per account and subject (`submission:<id>`, `item:<id>`,
`inspection`), stored as JSON that each flow reads into its own dataclass.

The filing and ledger flows keep different drafts but the same rows; writing the rows in one
place keeps their saving, in the caller's transaction at every step, the same for both.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import DutyDraft


async def load_draft(session: AsyncSession, account_id: int, subject: str) -> DutyDraft | None:
    return await session.get(DutyDraft, (account_id, subject))


async def store_draft(
    session: AsyncSession, account_id: int, subject: str, data: str, now: datetime
) -> None:
    """Write the draft in the caller's transaction (its commit makes it durable)."""
    row = await load_draft(session, account_id, subject)
    if row is None:
        session.add(DutyDraft(account_id=account_id, subject=subject, data=data, updated_at=now))
    else:
        row.data = data
        row.updated_at = now
        session.add(row)
    await session.flush()


async def delete_draft(session: AsyncSession, account_id: int, subject: str) -> str | None:
    """Delete the draft; returns what it held, None when there was none."""
    row = await load_draft(session, account_id, subject)
    if row is None:
        return None
    data = row.data
    await session.delete(row)
    await session.flush()
    return data
