"""The fake served over loopback HTTP to python-telegram-bot's default HTTPXRequest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import InvalidToken
from telegram.request import HTTPXRequest

from bot.fakeapi import FakeBotApi, FakeUser
from bot.fakeapi.http import serve


@pytest.fixture
async def server(api: FakeBotApi) -> AsyncIterator[tuple[str, str]]:
    runner: web.AppRunner
    runner, base_url, file_base_url = await serve(api)
    yield base_url, file_base_url
    await runner.cleanup()


async def test_bot_over_http(api: FakeBotApi, server: tuple[str, str], user: FakeUser) -> None:
    base_url, file_base_url = server
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="yes")]])
    async with telegram.Bot(
        api.token, base_url=f"{base_url}/bot", base_file_url=file_base_url
    ) as bot:
        assert bot.username == api.bot_username
        api.enqueue_update(api.message_update(user, "/start"))
        [update] = await bot.get_updates(timeout=1)
        assert update.message is not None and update.message.text == "/start"

        sent = await bot.send_message(
            user.id,
            "<b>你好</b>",
            parse_mode="HTML",
            reply_markup=markup,
            disable_notification=True,
        )
        assert sent.text == "你好"
        assert api.buttons(api.last_message(user.id)) == [[("是", "yes")]]

        photo = await bot.send_photo(user.id, b"\x89PNG over multipart", caption="附件")
        incoming = telegram.Update.de_json(api.photo_update(user, b"from the user"), bot)
        assert incoming.message is not None
        file = await incoming.message.photo[-1].get_file()
        assert file.file_path is not None and file.file_path.startswith(file_base_url)
        assert await file.download_as_bytearray() == bytearray(b"from the user")

    # Form fields arrived as strings and were decoded to the declared types.
    send = next(call for call in api.calls if call.method == "sendMessage")
    assert send.params["chat_id"] == user.id
    assert send.params["disable_notification"] is True
    assert send.params["reply_markup"] == markup.to_dict()
    assert photo.photo[-1].file_size == len(b"\x89PNG over multipart")
    assert api.violations == []


async def test_wrong_token_is_refused(server: tuple[str, str]) -> None:
    base_url, _ = server
    request = HTTPXRequest()
    await request.initialize()
    try:
        bot = telegram.Bot("654321:WRONG", base_url=f"{base_url}/bot", request=request)
        with pytest.raises(InvalidToken):
            await bot.get_me()
    finally:
        await request.shutdown()
