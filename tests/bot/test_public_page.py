"""The public page (公示页面): published quarters only, a unit's figures and QR code, nothing of a
reporter; 404 pages for what is not published, a plain 500 page for a failure."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from bot.fakeapi import FakeBotApi
from bot.runtime.settings import TelegramSettings, WebhookSettings, WebSettings
from bot.web import PublicServer, public_app, public_exception_handlers, public_routes, web_app
from db.engine import create_engine, session_factory
from db.models import RatingLink, RatingLinkKind
from db.people.departments import department_by_code
from db.people.roles import hash_token
from tests.handlers.cases.test_case_loop import NUMBER, SECRETS, signed_report
from tests.handlers.cases.test_casework import ADMIN
from tests.handlers.cases.test_report_flow import DESCRIPTION
from tests.harness import Harness, make_settings, prepare_database, texts
from tests.scheduler.delivery.test_outbox import office

__all__ = ["office"]

APRIL_SECOND = datetime(2026, 4, 2, 2, tzinfo=UTC)
POSTER_TOKEN = "poster-token-for-the-page"


async def _client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` with its lifespan run (the standalone app disposes its engine then)."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://public",
        ) as client,
    ):
        yield client


async def published_quarter(bot: Harness) -> None:
    """A signed report of 市公安局 in March, 2026-Q1 published, and a poster for window W002."""
    await signed_report(bot)
    bot.clock.now = APRIL_SECOND
    assert "is published" in texts(await bot.say(ADMIN, "/publish 2026-Q1"))
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        window = await department_by_code(session, "W002")
        assert window is not None and window.id is not None
        window.duties = "受理户籍业务<当场办结>"
        session.add(
            RatingLink(
                token_hash=hash_token(POSTER_TOKEN),
                public_token=POSTER_TOKEN,
                kind=RatingLinkKind.poster,
                department_id=window.id,
                created_at=APRIL_SECOND,
            )
        )
        await session.commit()
    await engine.dispose()


async def test_a_published_quarter_is_on_the_page(office: Harness) -> None:
    bot = office
    await published_quarter(bot)
    settings = bot.settings.model_copy(
        update={"telegram": TelegramSettings(bot_username="zhengfeng_test_bot")}
    )
    async for client in _client(public_app(settings)):
        index = await client.get("/")
        assert index.status_code == 200 and 'lang="zh-CN"' in index.text
        assert '<a href="/q/2026-Q1">2026年第1季度作风建设季度通报</a>' in index.text

        ranking = await client.get("/q/2026-Q1")
        assert ranking.status_code == 200
        assert '<a href="/unit/D011">市公安局</a>' in ranking.text
        assert '<th scope="col">' in ranking.text and '<th scope="row">' in ranking.text

        unit = await client.get("/unit/D011")
        assert unit.status_code == 200
        assert "<h1>市公安局</h1>" in unit.text
        march = '<th scope="row">2026-03</th><td class="num">1</td>'
        assert march in unit.text, "one report received in March"
        assert 'class="chart"' in unit.text and 'alt="' in unit.text
        assert "<script" not in unit.text
        assert 'class="qr"' not in unit.text, "a department has no poster"

        window = await client.get("/unit/W002")
        assert window.status_code == 200 and 'class="qr"' in window.text
        assert "扫码" in window.text
        assert "受理户籍业务&lt;当场办结&gt;" in window.text, "its published duties, escaped"

        pages = index.text + ranking.text + unit.text + window.text
        for secret in (*SECRETS, DESCRIPTION[:10], NUMBER):
            assert secret not in pages, secret

        for path in ("/q/2026-Q2", "/q/2026-Q9", "/q/junk", "/unit/NOPE", "/nothing"):
            missing = await client.get(path)
            assert missing.status_code == 404, path
            assert "页面不存在" in missing.text and "Traceback" not in missing.text

    no_name = bot.settings.model_copy(update={"telegram": TelegramSettings(bot_username="")})
    async for client in _client(public_app(no_name)):
        assert 'class="qr"' not in (await client.get("/unit/W002")).text, "no username: no QR"


async def test_a_switched_off_unit_shows_no_qr_code(office: Harness) -> None:
    bot = office
    await published_quarter(bot)
    settings = bot.settings.model_copy(
        update={"telegram": TelegramSettings(bot_username="zhengfeng_test_bot")}
    )
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        window = await department_by_code(session, "W002")
        assert window is not None
        window.active = False
        session.add(window)
        await session.commit()
    await engine.dispose()
    async for client in _client(public_app(settings)):
        page = await client.get("/unit/W002")
        assert page.status_code == 200 and "受理户籍业务" in page.text, "still listed"
        assert 'class="qr"' not in page.text and POSTER_TOKEN not in page.text


async def test_a_units_qr_code_is_drawn_once(
    office: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poster's link does not change: its QR code is drawn on the first visit only."""
    import segno

    bot = office
    await published_quarter(bot)
    drawn: list[str] = []
    make = segno.make

    def counting_make(content: str, **options: object) -> object:
        drawn.append(content)
        return make(content, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(segno, "make", counting_make)
    settings = bot.settings.model_copy(
        update={"telegram": TelegramSettings(bot_username="zhengfeng_test_bot")}
    )
    async for client in _client(public_app(settings)):
        pages = [(await client.get("/unit/W002")).text for _ in range(3)]
    assert all('class="qr"' in page for page in pages) and len(set(pages)) == 1
    assert len(drawn) == 1 and POSTER_TOKEN in drawn[0]


async def test_an_unpublished_quarter_is_not_shown(office: Harness) -> None:
    bot = office
    await published_quarter(bot)
    await bot.say(ADMIN, "/unpublish 2026-Q1")
    async for client in _client(public_app(bot.settings)):
        assert "2026-Q1" not in (await client.get("/")).text
        assert (await client.get("/q/2026-Q1")).status_code == 404
        assert (await client.get("/unit/D011")).status_code == 404


async def test_a_failure_is_a_plain_500_page(office: Harness) -> None:
    def broken() -> object:
        raise RuntimeError("database on fire")

    settings = office.settings
    app = Starlette(
        routes=public_routes(broken, settings),  # type: ignore[arg-type]
        exception_handlers=public_exception_handlers(settings),
    )
    async for client in _client(app):
        answer = await client.get("/")
        assert answer.status_code == 500
        assert "出错" in answer.text and "on fire" not in answer.text
        assert "Traceback" not in answer.text


@pytest.mark.parametrize("path", ["/q/%3Cscript%3E", "/unit/%3Cb%3E"])
async def test_odd_paths_are_404_pages(office: Harness, path: str) -> None:
    async for client in _client(public_app(office.settings)):
        answer = await client.get(path)
        assert answer.status_code == 404 and "<script>" not in answer.text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_polling_bot_serves_the_page_itself(office: Harness) -> None:
    """`[web] public = true`: the page from the bot's own process, stopped with the bot."""
    bot = office
    await published_quarter(bot)
    assert bot.app is not None
    port = free_port()
    services = bot.app.bot_data["services"]
    services.settings = services.settings.model_copy(
        update={"web": WebSettings(public=True, host="127.0.0.1", port=port)}
    )
    server = PublicServer(bot.app)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    answer = await client.get("/q/2026-Q1")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert answer.status_code == 200 and "市公安局" in answer.text
    finally:
        await server.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get("/")


async def test_a_taken_port_leaves_the_polling_bot_running(
    office: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program on the page's port: uvicorn gives up (with sys.exit), the error is
    logged, and the bot goes on answering."""
    bot = office
    assert bot.app is not None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        services = bot.app.bot_data["services"]
        services.settings = services.settings.model_copy(
            update={"web": WebSettings(public=True, host="127.0.0.1", port=port)}
        )
        server = PublicServer(bot.app)
        await server.start()
        assert server.task is not None
        await asyncio.wait_for(asyncio.shield(server.task), 10)
        assert server.task.exception() is None
        await server.stop()
    assert any(r.levelname == "ERROR" and str(port) in r.getMessage() for r in caplog.records), (
        "the failure is logged with the port"
    )
    assert texts(await bot.say(ADMIN, "/publish")), "the bot still answers"


async def test_the_webhook_server_carries_the_public_page(tmp_path: Path) -> None:
    """One web application: with webhooks, the page is on the webhook's own server."""
    hook = WebhookSettings(url="https://bot.example.gov.cn", secret_token=SecretStr("s3cret"))
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id], webhook=hook)
    bot = Harness(api=FakeBotApi(), settings=settings)
    await prepare_database(bot.settings.database.url)
    await bot.start()
    assert bot.app is not None
    try:
        await published_quarter(bot)
        async for client in _client_without_lifespan(web_app(bot.app, set_webhook=False)):
            ranking = await client.get("/q/2026-Q1")
            assert ranking.status_code == 200 and "市公安局" in ranking.text
            assert (await client.get("/q/2030-Q1")).status_code == 404
            assert (await client.get("/healthz")).json()["database"] == "ok"
    finally:
        await bot.stop()


async def _client_without_lifespan(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The webhook's app starts the bot in its lifespan: the test's harness already did."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://public"
    ) as client:
        yield client
