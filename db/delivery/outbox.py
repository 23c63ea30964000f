"""The outbox: what the bot has decided to send, and how far delivery got.

Producers (a handler's notices, the deadline scans, the monthly digest) insert rows in their own
transaction, so a message exists exactly when the decision behind it was committed. Delivery
(`scheduler.delivery.sender`) goes row by row:

1. `claim`: a compare-and-set that records the attempt (`claimed_at`, `attempts + 1`); the caller
   commits before talking to Telegram.
2. the send;
3. `mark_sent`, or `release` (retry later), or `mark_failed` (give up).

A row may also be skipped, never sent on purpose: a reminder whose deadline passed before it
could go out (`expires_at`, `skip_expired`), or a rung passed over after downtime (queued skipped
by the scan). It keeps its key, so nothing queues it again.

A crash between 1 and 3 leaves a claimed, unsent row. Telegram offers no idempotency key, so the
bot cannot know whether the message arrived: `db.office.processes.recover_orphans` puts such rows
back in the queue and counts them (`in_doubt`). The policy is therefore at-least-once with at
most one duplicate per message per crash or lost answer, and every possible duplicate is counted.
A live sender's claim is never taken over: a claim names its process, and only the claims of a
process known to be gone are recovered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from db.models import Channel, OutboxMessage
from db.queries import insert_or_skip, select_rows

ERROR_MAX = 300


class SkipReason(StrEnum):
    expired = "expired"
    """Its deadline passed before it could be delivered."""
    passed_over = "passed_over"
    """A higher rung of the same deadline was due at the same scan (after downtime)."""


ACK_PREFIX = "ack:"
"""Keys of the acknowledgements of filed reports: the number and, for an anonymous report, its
receipt. They are the outbox's only secrets and, for a fully anonymous report, the only link
between a chat and the report, so their text and chat are erased once they were delivered or
given up (`_erase_secrets`)."""


@dataclass(frozen=True)
class Attachment:
    """A file to send with a message: a Telegram file id, or a file under the data dir."""

    kind: str
    """`photo` or `document`."""
    file_id: str | None = None
    path: str | None = None
    name: str | None = None


def _files_json(files: Sequence[Attachment]) -> str | None:
    if not files:
        return None
    return json.dumps(
        [{k: v for k, v in f.__dict__.items() if v is not None} for f in files],
        ensure_ascii=False,
    )


def files_of(message: OutboxMessage) -> list[Attachment]:
    return [Attachment(**item) for item in json.loads(message.files)] if message.files else []


def keyboard_of(message: OutboxMessage) -> list[list[tuple[str, str]]] | None:
    if not message.keyboard:
        return None
    return [[(label, data) for label, data in row] for row in json.loads(message.keyboard)]


def ack_key() -> str:
    """A fresh acknowledgement key; random, so the key itself names no report."""
    return f"{ACK_PREFIX}{uuid.uuid4().hex}"


async def pending_acks(session: AsyncSession, chat_id: int) -> list[str]:
    """Keys of the chat's acknowledgements Telegram has not confirmed yet."""
    statement = select(OutboxMessage.dedupe_key).where(
        col(OutboxMessage.chat_id) == chat_id,
        col(OutboxMessage.dedupe_key).startswith(ACK_PREFIX),
        col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.failed_at).is_(None),
    )
    return list((await session.exec(statement)).all())


async def chats_with_pending_acks(session: AsyncSession) -> set[int]:
    statement = select(OutboxMessage.chat_id).where(
        col(OutboxMessage.dedupe_key).startswith(ACK_PREFIX),
        col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.failed_at).is_(None),
        col(OutboxMessage.chat_id).is_not(None),
    )
    return {chat for chat in (await session.exec(statement)).all() if chat is not None}


async def _erase_secrets(session: AsyncSession, *conditions: ColumnElement[bool]) -> None:
    """Acknowledgements that are done (sent or given up) keep their record, not their text or
    chat: a receipt must not outlive its one delivery."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.dedupe_key).startswith(ACK_PREFIX), *conditions)
        .values(text="", chat_id=None, keyboard=None)
    )


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    text: str,
    now: datetime,
    chat_id: int | None = None,
    department_id: int | None = None,
    keyboard: list[list[tuple[str, str]]] | None = None,
    files: Sequence[Attachment] = (),
    urgent: bool = False,
    not_before: datetime | None = None,
    office_robot: bool = False,
    expires_at: datetime | None = None,
    skipped: SkipReason | None = None,
) -> bool:
    """Insert unless a row with this key exists; True when inserted. Flushes, never commits.

    One row is one message to one recipient: a Telegram chat (`chat_id`), a department's WeCom
    robot (`department_id`) or the office's own robot (`office_robot`, from the config).
    `skipped` records a message decided against (its key is then taken: it never goes out).
    """
    if sum((chat_id is not None, department_id is not None, office_robot)) != 1:
        raise ValueError("give exactly one of chat_id, department_id and office_robot")
    values = {
        "dedupe_key": key,
        "channel": Channel.telegram if chat_id is not None else Channel.wecom,
        "chat_id": chat_id,
        "department_id": department_id,
        "text": text,
        "keyboard": json.dumps(keyboard, ensure_ascii=False) if keyboard else None,
        "files": _files_json(files),
        "urgent": urgent,
        "next_attempt_at": not_before or now,
        "attempts": 0,
        "in_doubt": 0,
        "created_at": now,
        "expires_at": expires_at,
        "skipped_at": now if skipped is not None else None,
        "skip_reason": skipped.value if skipped is not None else None,
    }
    dialect = session.get_bind().dialect.name
    statement = insert_or_skip(dialect, OutboxMessage, ["dedupe_key"]).values(**values)
    result = await session.exec(statement)
    return bool(result.rowcount)


def _open() -> list[ColumnElement[bool]]:
    """Neither sent, nor given up, nor skipped: still meant to go out."""
    return [
        col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.failed_at).is_(None),
        col(OutboxMessage.skipped_at).is_(None),
    ]


def _pending() -> list[ColumnElement[bool]]:
    return [*_open(), col(OutboxMessage.claimed_at).is_(None)]


def _unexpired(now: datetime) -> ColumnElement[bool]:
    return or_(col(OutboxMessage.expires_at).is_(None), col(OutboxMessage.expires_at) > now)


async def skip_expired(session: AsyncSession, now: datetime) -> list[str]:
    """Skip the unsent rows whose deadline has passed (a reminder held by quiet hours, by a
    pause or by retries); returns their keys, for the log."""
    expired = [*_pending(), col(OutboxMessage.expires_at) <= now]
    keys = list((await session.exec(select(OutboxMessage.dedupe_key).where(*expired))).all())
    if keys:
        await session.exec(
            update(OutboxMessage)
            .where(*expired)
            .values(skipped_at=now, skip_reason=SkipReason.expired.value)
        )
    return keys


async def due_messages(
    session: AsyncSession, now: datetime, *, quiet: bool, limit: int = 200
) -> list[OutboxMessage]:
    """Unclaimed rows whose time has come, urgent first, oldest first. During quiet hours
    (`quiet`) only urgent rows."""
    conditions = [*_pending(), col(OutboxMessage.next_attempt_at) <= now, _unexpired(now)]
    if quiet:
        conditions.append(col(OutboxMessage.urgent).is_(True))
    statement = (
        select(OutboxMessage)
        .where(*conditions)
        .order_by(
            col(OutboxMessage.urgent).desc(),
            col(OutboxMessage.next_attempt_at),
            col(OutboxMessage.id),
        )
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


async def pending_by_keys(session: AsyncSession, keys: Sequence[str]) -> list[OutboxMessage]:
    """The unclaimed, unsent rows among `keys` (a handler's own notices, sent at once)."""
    if not keys:
        return []
    statement = (
        select(OutboxMessage)
        .where(*_pending(), col(OutboxMessage.dedupe_key).in_(keys))
        .order_by(col(OutboxMessage.id))
    )
    return list((await session.exec(statement)).all())


async def existing_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Those of `keys` already in the outbox, sent or not: a keyed message goes out once."""
    if not keys:
        return set()
    statement = select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).in_(keys))
    return set((await session.exec(statement)).all())


async def claim(
    session: AsyncSession, message_id: int, now: datetime, by: str | None = None
) -> bool:
    """Record the attempt by process `by` (a claim naming no process, such as one made before
    processes were named, counts as a gone process's); False when another sender (of this process or
    another) claimed it, it is done already, or another transaction holds the row right now
    (the row then waits for the next drain). One conditional UPDATE, so two processes never
    both win a row. On PostgreSQL the row is locked `FOR UPDATE SKIP LOCKED` first: a process
    that finds another one in the middle of claiming it gives up at once instead of waiting for
    that transaction to end only to find the row taken (SQLite has no row locks: its writers
    take turns, and the clause is left out)."""
    unclaimed = (
        select(col(OutboxMessage.id))
        .where(col(OutboxMessage.id) == message_id, *_pending(), _unexpired(now))
        .with_for_update(skip_locked=True)
    )
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(unclaimed.scalar_subquery()), *_pending())
        .values(claimed_at=now, claimed_by=by, attempts=col(OutboxMessage.attempts) + 1)
        # No objects of this session to bring up to date: without this, the subquery makes the
        # ORM fetch the changed ids back (RETURNING) for nothing.
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def mark_sent(session: AsyncSession, message_id: int, now: datetime) -> None:
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(sent_at=now, last_error=None)
    )
    await _erase_secrets(session, col(OutboxMessage.id) == message_id)


async def release(
    session: AsyncSession,
    message_id: int,
    retry_at: datetime,
    error: str,
    *,
    in_doubt: bool = False,
) -> None:
    """Back in the queue for another attempt at `retry_at` (a 429, a 5xx, a network error).

    `in_doubt`: the failed attempt may have reached the recipient (its answer was lost, or part
    of it went out), so the next one may be a second copy: counted like a crash's."""
    values: dict[str, object] = {
        "claimed_at": None,
        "claimed_by": None,
        "next_attempt_at": retry_at,
        "last_error": error[:ERROR_MAX],
    }
    if in_doubt:
        values["in_doubt"] = col(OutboxMessage.in_doubt) + 1
    await session.exec(
        update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(values)
    )


async def mark_failed(session: AsyncSession, message_id: int, now: datetime, error: str) -> None:
    """Give up: the recipient blocked the bot, or Telegram refuses this message for good."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(failed_at=now, last_error=error[:ERROR_MAX])
    )
    await _erase_secrets(session, col(OutboxMessage.id) == message_id)


async def release_claims_except(session: AsyncSession, live: SelectOfScalar[str]) -> int:
    """Claimed, still open rows of any sender not among `live` (ids of live processes) go back
    in the queue, counted in doubt: their attempt may have arrived. Returns how many."""
    result = await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.claimed_at).is_not(None),
            *_open(),
            or_(
                col(OutboxMessage.claimed_by).is_(None),
                col(OutboxMessage.claimed_by).not_in(live),
            ),
        )
        .values(claimed_at=None, claimed_by=None, in_doubt=col(OutboxMessage.in_doubt) + 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def fail_pending_for_chat(
    session: AsyncSession, chat_id: int, now: datetime, error: str
) -> int:
    """A blocked recipient: drop what still waits for them (it cannot arrive)."""
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.chat_id) == chat_id, *_pending())
        .values(failed_at=now, last_error=error[:ERROR_MAX])
    )
    await _erase_secrets(
        session, col(OutboxMessage.chat_id) == chat_id, col(OutboxMessage.failed_at).is_not(None)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    sent: int
    failed: int
    in_doubt: int
    skipped: int = 0


async def counts(session: AsyncSession) -> OutboxCounts:
    row = (
        await session.exec(
            select_rows(
                func.count().filter(*_open()),
                func.count().filter(col(OutboxMessage.sent_at).is_not(None)),
                func.count().filter(col(OutboxMessage.failed_at).is_not(None)),
                func.coalesce(func.sum(OutboxMessage.in_doubt), 0),
                func.count().filter(col(OutboxMessage.skipped_at).is_not(None)),
            )
        )
    ).one()
    return OutboxCounts(*(int(v) for v in row))


async def backlog(session: AsyncSession) -> int:
    """Messages still meant to go out (`/healthz`): read through the pending index, not a count
    of every message ever sent."""
    statement = select(func.count()).select_from(OutboxMessage).where(*_open())
    return int((await session.exec(statement)).one())
