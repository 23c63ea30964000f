"""The bot started on a migrated database with the sample units, talking to the Bot API double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.fakeapi import FakeBotApi
from tests.harness import Harness, make_settings, prepare_database


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path)
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"
