"""Receipts: the secret way back to a fully anonymous report.

A receipt carries 100 random bits. Nobody can search that space: at a billion guesses a second it
takes about 20 million years to find one receipt, whether each guess costs a SHA-256 or a slow
hash, so a slow hash (scrypt, as receipts were first stored) adds cost to every lookup and
protects nothing; guessing through the bot is stopped by the throttle below, not by the hash.
A receipt is stored as `sha256:` and the SHA-256 of a fixed prefix and the code (the prefix keeps
the digest from matching any other use of SHA-256). No per-record salt: the digest is also the
index a receipt is looked up by, and the 100 bits are salt enough. The raw code is never stored.

Receipts stored the old way (no `sha256:` prefix) are verified the old way once, when their
owner first uses one, and rewritten the new way (`db.cases.reports.report_by_receipt`).
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
_DOMAIN = b"zhengfeng-receipt-v2:"
_PREFIX = "sha256:"
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
    """How a receipt is stored and looked up: fast, because 100 random bits need no slowness."""
    return _PREFIX + hashlib.sha256(_DOMAIN + raw.encode()).hexdigest()


def legacy_hash_receipt(raw: str) -> str:
    """The first way receipts were stored (scrypt, ~16 MiB and tens of milliseconds): only to
    find a receipt stored before the change, once, and rewrite it."""
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
