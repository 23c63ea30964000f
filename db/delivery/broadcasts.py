"""Broadcasts (通知): the office's notice to the liaisons of an audience, through the outbox.

An audience is every liaison, the liaisons of one class of departments (`dept_class`, seed 003)
or those of one department. Sending inserts one outbox row per reachable liaison, keyed
`broadcast:<id>:<telegram id>`, in the transaction that stores the broadcast: the sender
delivers them within the rate limits, and the outbox rows are the whole memory of how far
delivery got. Callers commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.delivery.outbox import enqueue
from db.models import Account, Broadcast, Department, OutboxMessage, Role, RoleGrant

TEXT_MAX = 3000
"""Leaves room for the heading within Telegram's 4096 characters."""


class AudienceKind(StrEnum):
    all = "all"
    dept_class = "class"
    department = "dept"


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    value: str | None = None
    """The class name or the department code; None for everyone."""

    def encode(self) -> str:
        return self.kind.value if self.value is None else f"{self.kind.value}:{self.value}"

    @classmethod
    def decode(cls, text: str) -> Audience | None:
        kind, _, value = text.partition(":")
        try:
            audience_kind = AudienceKind(kind)
        except ValueError:
            return None
        if (audience_kind is AudienceKind.all) != (value == ""):
            return None
        return cls(audience_kind, value or None)


async def department_classes(session: AsyncSession) -> list[str]:
    """The classes that active departments belong to, sorted."""
    statement = (
        select(Department.dept_class)
        .where(col(Department.active).is_(True), col(Department.dept_class).is_not(None))
        .distinct()
    )
    return sorted(c for c in (await session.exec(statement)).all() if c)


async def active_department(session: AsyncSession, code: str) -> Department | None:
    """An active department by code, ignoring case."""
    statement = select(Department).where(
        func.upper(col(Department.code)) == code.strip().upper(), col(Department.active).is_(True)
    )
    return (await session.exec(statement)).first()


async def resolve_audience(session: AsyncSession, audience: Audience) -> Audience | None:
    """The audience if it still names something that exists (a button or a draft may be old);
    a department code comes back in its stored spelling."""
    if audience.kind is AudienceKind.all:
        return audience
    if audience.kind is AudienceKind.dept_class:
        known = await department_classes(session)
        return audience if audience.value in known else None
    department = await active_department(session, audience.value or "")
    return Audience(AudienceKind.department, department.code) if department else None


async def audience_liaisons(session: AsyncSession, audience: Audience) -> list[Account]:
    """Every account with an active liaison grant in an active department of the audience,
    once each (a liaison of two departments gets one message), oldest grant first."""
    statement = (
        select(Account)
        .join(RoleGrant, col(RoleGrant.account_id) == col(Account.id))
        .join(Department, col(Department.id) == col(RoleGrant.department_id))
        .where(
            col(RoleGrant.role) == Role.liaison,
            col(RoleGrant.revoked_at).is_(None),
            col(Department.active).is_(True),
        )
        .order_by(col(RoleGrant.id))
    )
    if audience.kind is AudienceKind.dept_class:
        statement = statement.where(col(Department.dept_class) == audience.value)
    elif audience.kind is AudienceKind.department:
        statement = statement.where(col(Department.code) == audience.value)
    found: dict[int, Account] = {}
    for account in (await session.exec(statement)).all():
        found.setdefault(account.telegram_id, account)
    return list(found.values())


def message_key(broadcast_id: int, telegram_id: int) -> str:
    return f"broadcast:{broadcast_id}:{telegram_id}"


async def send_broadcast(
    session: AsyncSession,
    *,
    author_account_id: int | None,
    audience: Audience,
    text: str,
    now: datetime,
    render: Callable[[str, str], str],
) -> Broadcast:
    """Store the broadcast and queue one non-urgent message per reachable liaison.

    `render(language, text)` gives the message as a liaison reads it (heading in their
    language); db knows no translations. Liaisons known to have blocked the bot are counted,
    not queued: nothing more is sent to them.
    """
    if not text.strip() or len(text) > TEXT_MAX:
        raise ValueError("a broadcast needs between 1 and TEXT_MAX characters")
    liaisons = await audience_liaisons(session, audience)
    reachable = [a for a in liaisons if not a.unreachable]
    broadcast = Broadcast(
        author_account_id=author_account_id,
        audience=audience.encode(),
        text=text,
        recipients=len(reachable),
        unreachable=len(liaisons) - len(reachable),
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    assert broadcast.id is not None
    for account in reachable:
        await enqueue(
            session,
            key=message_key(broadcast.id, account.telegram_id),
            chat_id=account.telegram_id,
            text=render(account.language, text),
            now=now,
        )
    return broadcast


@dataclass(frozen=True)
class Progress:
    delivered: int
    failed: int
    """Given up: the liaison blocked the bot meanwhile, or Telegram refused the message."""
    pending: int

    @property
    def done(self) -> bool:
        return self.pending == 0


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    """How far delivery got, counted from the broadcast's outbox rows."""
    assert broadcast.id is not None
    row = (
        await session.exec(
            select(
                func.count().filter(col(OutboxMessage.sent_at).is_not(None)),
                func.count().filter(col(OutboxMessage.failed_at).is_not(None)),
                func.count().filter(
                    col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.failed_at).is_(None)
                ),
            ).where(col(OutboxMessage.dedupe_key).startswith(f"broadcast:{broadcast.id}:"))
        )
    ).one()
    delivered, failed, pending = (int(v) for v in row)
    return Progress(delivered=delivered, failed=failed, pending=pending)


async def due_reports(
    session: AsyncSession, now: datetime, give_up_after: timedelta
) -> list[tuple[Broadcast, Progress]]:
    """Unreported broadcasts whose delivery is done, or older than `give_up_after` (then the
    report says how many are still pending, e.g. held back over a long holiday)."""
    statement = (
        select(Broadcast).where(col(Broadcast.reported_at).is_(None)).order_by(col(Broadcast.id))
    )
    due = []
    for broadcast in (await session.exec(statement)).all():
        state = await progress(session, broadcast)
        if state.done or broadcast.created_at + give_up_after <= now:
            due.append((broadcast, state))
    return due


async def mark_reported(session: AsyncSession, broadcast: Broadcast, now: datetime) -> None:
    """Its author has been sent the delivery report (or cannot be): never again."""
    broadcast.reported_at = now
    session.add(broadcast)
    await session.flush()
