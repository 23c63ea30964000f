"""`zhengfeng run --webhook`: updates posted by Telegram with the secret token are handled like
polled ones, anything else is refused, and /healthz tells the database, the role and the backlog."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.app import build_application
from bot.fakeapi import FakeBotApi, FakeRequest, FakeUser
from bot.runtime.services import services_of
from bot.runtime.settings import WebhookSettings
from bot.web import SECRET_HEADER, WebhookMisconfigured, web_app
from tests.harness import Harness, make_settings, prepare_database

SECRET = "s3cret-token_for-tests"
PERSON = FakeUser(7001, "张三")


def _settings(tmp_path: Path, secret: str | None = SECRET) -> Harness:
    settings = make_settings(
        tmp_path,
        webhook=WebhookSettings(
            url="https://bot.example.gov.cn",
            secret_token=SecretStr(secret) if secret is not None else None,
        ),
    )
    return Harness(api=FakeBotApi(), settings=settings)


async def _answers(api: FakeBotApi, chat: int, at_least: int = 1) -> list[dict[str, object]]:
    for _ in range(200):
        sent = api.sent_messages(chat)
        if len(sent) >= at_least:
            return sent
        await asyncio.sleep(0.01)
    return api.sent_messages(chat)


async def test_an_update_with_the_secret_is_answered_and_one_without_it_is_refused(
    tmp_path: Path,
) -> None:
    bot = _settings(tmp_path)
    await prepare_database(bot.settings.database.url)
    await bot.start()
    assert bot.app is not None
    web = web_app(bot.app, set_webhook=False)
    update = bot.api.message_update(PERSON, "/start")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web), base_url="http://bot"
        ) as client:
            forged = await client.post("/telegram", json=update)
            wrong = await client.post("/telegram", json=update, headers={SECRET_HEADER: "x"})
            assert forged.status_code == wrong.status_code == 403
            await asyncio.sleep(0.2)
            assert bot.api.sent_messages(PERSON.id) == [], "a refused update is not handled"

            accepted = await client.post("/telegram", json=update, headers={SECRET_HEADER: SECRET})
            assert accepted.status_code == 200
            assert await _answers(bot.api, PERSON.id), "the bot answered the posted /start"

            junk = await client.post(
                "/telegram", content=b"not json", headers={SECRET_HEADER: SECRET}
            )
            assert junk.status_code == 400
            for body in (b"null", b"[]", b"5", b"{}"):
                other = await client.post(
                    "/telegram", content=body, headers={SECRET_HEADER: SECRET}
                )
                assert other.status_code == 400, body

            health = await client.get("/healthz")
            assert health.status_code == 200
            body = health.json()
            assert body["database"] == "ok" and body["role"] == "leader"
            assert isinstance(body["outbox_backlog"], int)
    finally:
        await bot.stop()
    assert bot.api.violations == []


async def test_the_lifespan_sets_the_webhook_with_its_secret_and_hands_over_on_the_way_out(
    tmp_path: Path,
) -> None:
    bot = _settings(tmp_path)
    await prepare_database(bot.settings.database.url)
    application = build_application(
        bot.settings, request=FakeRequest(bot.api), get_updates_request=FakeRequest(bot.api)
    )
    web = web_app(application)
    async with web.router.lifespan_context(web):
        hooks = [c for c in bot.api.calls if c.method == "setWebhook"]
        assert hooks and hooks[-1].params["url"] == "https://bot.example.gov.cn/telegram"
        assert hooks[-1].params["secret_token"] == SECRET
        services = services_of(application)
        assert services.leading
    assert not services.leading, "the lease was handed over on the way out"
    assert not [c for c in bot.api.calls if c.method == "deleteWebhook"], "others still serve it"
    assert bot.api.violations == []


def test_no_secret_token_no_webhook(tmp_path: Path) -> None:
    bot = _settings(tmp_path, secret=None)
    with pytest.raises(WebhookMisconfigured, match="SECRET_TOKEN"):
        web_app(build_application(bot.settings))
