"""Fixtures for the Bot API double's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram

from bot.fakeapi import ApiSpec, FakeBotApi, FakeRequest, FakeUser


@pytest.fixture(autouse=True)
def _timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to python-telegram-bot's timedelta periods.

    Without it, merely constructing ``RetryAfter`` emits a PTBDeprecationWarning,
    which ``filterwarnings = error`` turns into a failure of any 429 scenario.
    """
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(scope="session")
def spec() -> ApiSpec:
    return ApiSpec.load()


@pytest.fixture
def api(spec: ApiSpec) -> FakeBotApi:
    return FakeBotApi(spec=spec)


@pytest.fixture
def user() -> FakeUser:
    return FakeUser(1001, "小明", last_name="王", username="xiaoming", language_code="zh-hans")


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(
        api.token, request=FakeRequest(api), get_updates_request=FakeRequest(api)
    ) as bot:
        yield bot
