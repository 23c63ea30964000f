"""The aiohttp transport against the Bot API double over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import InvalidToken, NetworkError, TimedOut

from bot.fakeapi import ApiSpec, FakeBotApi, FakeUser
from bot.fakeapi.http import serve
from bot.request import AiohttpRequest


@pytest.fixture
def api() -> FakeBotApi:
    return FakeBotApi(spec=ApiSpec.load())


@pytest.fixture
def user() -> FakeUser:
    return FakeUser(1001, "小明", language_code="zh-hans")


@pytest.fixture
async def server(api: FakeBotApi) -> AsyncIterator[tuple[str, str]]:
    runner: web.AppRunner
    runner, base_url, file_base_url = await serve(api)
    yield base_url, file_base_url
    await runner.cleanup()


def _bot(api: FakeBotApi, server: tuple[str, str]) -> telegram.Bot:
    base_url, file_base_url = server
    return telegram.Bot(
        api.token,
        base_url=f"{base_url}/bot",
        base_file_url=file_base_url,
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )


async def test_calls_uploads_and_downloads(
    api: FakeBotApi, server: tuple[str, str], user: FakeUser
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="yes")]])
    async with _bot(api, server) as bot:
        assert bot.username == api.bot_username
        api.enqueue_update(api.message_update(user, "/start"))
        [update] = await bot.get_updates(timeout=1)
        assert update.message is not None and update.message.text == "/start"

        sent = await bot.send_message(
            user.id, "<b>你好</b>", parse_mode="HTML", reply_markup=markup
        )
        assert sent.text == "你好"
        assert api.buttons(api.last_message(user.id)) == [[("是", "yes")]]

        photo = await bot.send_photo(user.id, b"\x89PNG over multipart", caption="附件")
        document = await bot.send_document(user.id, b"%PDF-1.4", filename="证据.pdf")
        incoming = telegram.Update.de_json(api.photo_update(user, b"from the user"), bot)
        assert incoming.message is not None
        file = await incoming.message.photo[-1].get_file()
        assert await file.download_as_bytearray() == bytearray(b"from the user")

    send = next(call for call in api.calls if call.method == "sendMessage")
    assert send.params["chat_id"] == user.id
    assert send.params["reply_markup"] == markup.to_dict()
    assert photo.photo[-1].file_size == len(b"\x89PNG over multipart")
    assert photo.caption == "附件"
    assert document.document is not None and document.document.file_name == "证据.pdf"
    assert api.violations == []


async def test_wrong_token_is_refused(api: FakeBotApi, server: tuple[str, str]) -> None:
    base_url, _ = server
    async with AiohttpRequest() as request:
        bot = telegram.Bot("654321:WRONG", base_url=f"{base_url}/bot", request=request)
        with pytest.raises(InvalidToken):
            await bot.get_me()


async def test_a_slow_server_times_out() -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_post("/{tail:.*}", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with AiohttpRequest(read_timeout=0.2) as request:
            with pytest.raises(TimedOut):
                await request.post(f"http://127.0.0.1:{port}/botX/getMe")
    finally:
        await runner.cleanup()


async def test_a_timeout_passed_to_a_call_replaces_the_default() -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_post("/{tail:.*}", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        # The request's own default (30 s) would outlast the 2 s guard: only 0.2 s times out.
        async with AiohttpRequest(read_timeout=30.0) as request, asyncio.timeout(2):
            with pytest.raises(TimedOut):
                await request.post(f"http://127.0.0.1:{port}/botX/getMe", read_timeout=0.2)
    finally:
        await runner.cleanup()


async def test_no_server_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpRequest() as request:
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{port}/botX/getMe")


async def test_not_initialized_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/botX/getMe", "POST")


def test_proxies_come_from_the_environment_once_per_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    request = AiohttpRequest()
    assert request._proxy_for("https://api.telegram.org/botX/getMe") == "http://proxy.example:3128"
    assert request._proxy_for("http://127.0.0.1:8081/botX/getMe") is None
    monkeypatch.delenv("HTTPS_PROXY")
    # Looked up once: the process environment does not change under a running bot.
    assert request._proxy_for("https://api.telegram.org/botX/sendMessage") is not None
    assert AiohttpRequest(proxy="http://own:1")._proxy_for("https://x.org/") == "http://own:1"
