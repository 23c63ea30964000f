"""The fake served over loopback HTTP to python-telegram-bot's default HTTPXRequest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import InvalidToken
from telegram.request import HTTPXRequest

from bot.fakeapi import ApiSpec, FakeBotApi, FakeUser
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


async def test_local_mode_posts_console_updates_to_a_plain_http_webhook(
    spec: ApiSpec, user: FakeUser
) -> None:
    """As telegram-bot-api --local: an HTTP webhook on any port is accepted, and an update
    typed in the console is posted to it with the secret token, again until it answers 200."""
    from bot.fakeapi.http import _console_update, _post_to_webhook

    received: list[tuple[str | None, dict[str, object]]] = []
    refusals = [1]

    async def hook(request: web.Request) -> web.Response:
        if refusals and refusals.pop():
            return web.Response(status=503)  # the bot is starting: Telegram tries again
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        strict, local = FakeBotApi(spec=spec), FakeBotApi(spec=spec, local=True)
        url = f"http://127.0.0.1:{port}/telegram"
        params = {"url": url, "secret_token": "s3cret"}
        assert (await strict.handle("setWebhook", params))[0] == 400
        assert (await local.handle("setWebhook", params))[0] == 200

        local.add_user(user)
        sent = await local.handle("sendMessage", {"chat_id": user.id, "text": "选", **_yes_no()})
        assert sent[0] == 200, sent
        pressed = _console_update(local, f"{user.id}: [是]")
        assert pressed is not None and pressed["callback_query"]["data"] == "yes"
        assert _console_update(local, f"{user.id}: [没有这个]") is None
        typed = _console_update(local, f"{user.id}: /start")
        assert typed is not None and typed["message"]["text"] == "/start"

        await _post_to_webhook(local, typed, pause=0.01)
        assert received == [("s3cret", typed)], "posted once, after the 503, with the token"
    finally:
        await runner.cleanup()


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _yes_no() -> dict[str, object]:
    return {"reply_markup": {"inline_keyboard": [[{"text": "是", "callback_data": "yes"}]]}}


def test_a_typed_backslash_n_is_a_line_break_in_the_console(user: FakeUser) -> None:
    """A one-message form (/round, /duty) is several lines; the console takes it on one."""
    from bot.fakeapi.http import _console_update

    api = FakeBotApi()
    api.add_user(user)
    update = _console_update(api, f"{user.id}: /round\\n标题：评政风\\n截止：2026-12-25")
    assert update is not None
    assert update["message"]["text"] == "/round\n标题：评政风\n截止：2026-12-25"
