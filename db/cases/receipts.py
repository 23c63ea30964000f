"""Receipts: the secret way back to a fully anonymous report.

A receipt carries 100 random bits, so per-record salts would add nothing against guessing; one
fixed salt lets the slow hash double as an index for lookup. The raw code is never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import ReceiptThrottle

# Crockford's base32: no I, L, O, U, so a code read aloud or copied by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_CHARS = 20  # 20 × 5 bits = 100 bits of randomness
GROUP = 4
_SALT = b"zhengfeng-receipt-v1"
_TRANSLATE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_receipt() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(RECEIPT_CHARS))
    return format_receipt(raw)


def format_receipt(raw: str) -> str:
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def normalize_receipt(text: str) -> str | None:
    """Forgive case, spaces, dashes and look-alike letters; None when it cannot be a receipt."""
    raw = "".join(ch for ch in text.upper() if ch not in " -\u3000").translate(_TRANSLATE)
    if len(raw) != RECEIPT_CHARS or any(ch not in ALPHABET for ch in raw):
        return None
    return raw


def hash_receipt(raw: str) -> str:
    """scrypt costs ~16 MiB and tens of milliseconds, which is what makes a stolen table useless."""
    digest = hashlib.scrypt(raw.encode(), salt=_SALT, n=2**14, r=8, p=1, dklen=32)
    return digest.hex()


async def throttle_wait(session: AsyncSession, account_id: int, now: datetime) -> timedelta | None:
    """How long this account must still wait before its next guess, if at all."""
    row = await session.get(ReceiptThrottle, account_id)
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return row.locked_until - now


def failure_delay(failures: int, free_attempts: int, base: int, cap: int) -> timedelta:
    """Free tries first, then a wait that doubles with every wrong guess, up to the cap."""
    if failures < free_attempts:
        return timedelta(0)
    return timedelta(seconds=min(cap, base * 2 ** (failures - free_attempts)))


async def record_failure(
    session: AsyncSession,
    account_id: int,
    now: datetime,
    *,
    free_attempts: int,
    base_delay: int,
    max_delay: int,
) -> timedelta:
    row = await session.get(ReceiptThrottle, account_id)
    if row is None:
        row = ReceiptThrottle(account_id=account_id, failures=0)
    row.failures += 1
    delay = failure_delay(row.failures, free_attempts, base_delay, max_delay)
    row.locked_until = now + delay if delay else None
    session.add(row)
    return delay


async def record_success(session: AsyncSession, account_id: int) -> None:
    row = await session.get(ReceiptThrottle, account_id)
    if row is not None:
        await session.delete(row)
