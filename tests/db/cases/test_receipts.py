from __future__ import annotations

import math
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.receipts import (
    ALPHABET,
    RECEIPT_CHARS,
    failure_delay,
    hash_receipt,
    new_receipt,
    normalize_receipt,
    record_failure,
    record_success,
    throttle_wait,
)
from db.people.accounts import get_or_create_account
from tests.conftest import NOW


def test_receipts_carry_at_least_80_bits() -> None:
    assert RECEIPT_CHARS * math.log2(len(ALPHABET)) >= 80
    codes = {new_receipt() for _ in range(200)}
    assert len(codes) == 200


def test_normalize_forgives_case_spacing_and_lookalikes() -> None:
    code = new_receipt()
    raw = normalize_receipt(code)
    assert raw is not None and len(raw) == RECEIPT_CHARS
    assert normalize_receipt(code.lower().replace("-", " ")) == raw
    assert normalize_receipt("OIL" + raw[3:]) == "011" + raw[3:]
    assert normalize_receipt("too short") is None
    assert normalize_receipt(raw + "0") is None


@given(st.text(max_size=40))
def test_normalize_never_crashes_and_yields_only_alphabet(text: str) -> None:
    raw = normalize_receipt(text)
    assert raw is None or (len(raw) == RECEIPT_CHARS and set(raw) <= set(ALPHABET))


def test_hash_is_deterministic_and_hides_the_code() -> None:
    raw = normalize_receipt(new_receipt())
    assert raw is not None
    assert hash_receipt(raw) == hash_receipt(raw)
    assert raw not in hash_receipt(raw)


def test_delay_grows_after_free_attempts_and_is_capped() -> None:
    delays = [failure_delay(n, 3, 30, 3600).total_seconds() for n in range(1, 12)]
    assert delays[:2] == [0, 0]
    assert delays[2:6] == [30, 60, 120, 240]
    assert max(delays) == 3600


async def test_throttle_slows_down_one_account_only(session: AsyncSession) -> None:
    guesser, _ = await get_or_create_account(session, 7007, "zh_CN")
    bystander, _ = await get_or_create_account(session, 8008, "zh_CN")
    assert guesser.id and bystander.id
    for _ in range(3):
        await record_failure(
            session, guesser.id, NOW, free_attempts=3, base_delay=30, max_delay=3600
        )
    wait = await throttle_wait(session, guesser.id, NOW + timedelta(seconds=10))
    assert wait == timedelta(seconds=20)
    assert await throttle_wait(session, guesser.id, NOW + timedelta(seconds=31)) is None
    assert await throttle_wait(session, bystander.id, NOW) is None
    await record_success(session, guesser.id)
    await session.flush()
    assert await throttle_wait(session, guesser.id, NOW) is None
