"""The project's one web application (Starlette): the public results page (公示页面) always, and
with `zhengfeng run --webhook` the bot behind Telegram's webhooks and `/healthz` too.

The public page (`/`, `/q/2026-Q4`, `/unit/D011`) shows only published quarters, read from the
database on each request and rendered by `bot.documents.public_pages`. An unknown or unpublished
quarter or unit is a 404 page, any other failure a plain 500 page, never a traceback.
`zhengfeng web` serves the public page alone; `[web] public = true` serves it from the polling
bot's own process as well (`start_public_server`).

Telegram posts each update to `[webhook] url` + `path` with the secret token it was given in
`setWebhook`; a request without that token is refused (403) and logged without its body, since
the body is whatever a stranger sent. An accepted update goes into python-telegram-bot's update
queue and is answered 200 at once: Telegram waits for nothing but the receipt, and the bot then
handles the update exactly as with long polling.

`/healthz` answers whether the database answers, whether this process leads the jobs or follows,
and how many outbox messages wait: for a load balancer and for the person on call.

Several processes may serve one webhook behind a load balancer on one PostgreSQL database:
each sets the same webhook at start-up (Telegram keeps one), and on SIGTERM (uvicorn's signal
handling) each finishes the updates in hand, stops its sender and hands the lease over; none
deletes the webhook, which the others still serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.documents.public_pages import (
    error_page,
    index_page,
    not_found_page,
    qr_svg,
    quarter_page,
    unit_page,
)
from bot.runtime.i18n import gettext_for
from bot.runtime.services import services_of
from bot.runtime.settings import Settings
from db.bulletin.bulletin import published_bulletin
from db.bulletin.public import public_unit, published
from db.delivery.outbox import backlog
from db.engine import SessionFactory, create_engine, session_factory
from db.ratings.links import rating_deep_link

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


QR_CACHED = 256
"""QR codes kept per public page server, by link: a poster's link never changes, and drawing its
SVG again on every visit of a unit's page is segno's work for nothing."""


class WebhookMisconfigured(ValueError):
    """The webhook cannot be served as configured (no public URL or no secret token)."""


def _html_language(language: str) -> str:
    return "zh-CN" if language == "zh_CN" else language


def public_routes(
    sessions: SessionFactory,
    settings: Settings,
    *,
    bot_username: Callable[[], str] = lambda: "",
) -> list[Route]:
    """The public page's routes, reading through `sessions`. `bot_username` is asked when
    `[telegram] bot_username` is empty (the bot process knows its own name from getMe)."""
    _ = gettext_for(settings.default_language)
    language = _html_language(settings.default_language)
    qr_of = functools.lru_cache(maxsize=QR_CACHED)(qr_svg)

    async def index(_request: Request) -> Response:
        async with sessions() as session:
            bulletins = await published(session)
        return HTMLResponse(index_page(bulletins, _, language))

    async def quarter(request: Request) -> Response:
        async with sessions() as session:
            bulletin = await published_bulletin(session, request.path_params["quarter"])
        if bulletin is None:
            raise HTTPException(status_code=404)
        return HTMLResponse(quarter_page(bulletin, _, language))

    async def unit(request: Request) -> Response:
        async with sessions() as session:
            found = await public_unit(session, request.path_params["code"])
        if found is None:
            raise HTTPException(status_code=404)
        username = settings.telegram.bot_username or bot_username()
        qr = None
        if found.poster_token is not None and username:
            qr = qr_of(rating_deep_link(username, found.poster_token))
        return HTMLResponse(unit_page(found, qr, _, language))

    return [
        Route("/", index, methods=["GET"]),
        Route("/q/{quarter}", quarter, methods=["GET"]),
        Route("/unit/{code}", unit, methods=["GET"]),
    ]


def public_exception_handlers(settings: Settings) -> dict[Any, Callable[..., Any]]:
    """A 404 page for what is not (or not yet) published, a plain 500 page for any failure."""
    _ = gettext_for(settings.default_language)
    language = _html_language(settings.default_language)

    async def not_found(_request: Request, _error: Exception) -> Response:
        return HTMLResponse(not_found_page(_, language), status_code=404)

    async def server_error(request: Request, error: Exception) -> Response:
        log.error("public page %s failed", request.url.path, exc_info=error)
        return HTMLResponse(error_page(_, language), status_code=500)

    return {404: not_found, 500: server_error, Exception: server_error}


def public_app(settings: Settings) -> Starlette:
    """The public page alone (`zhengfeng web`), on an engine of its own."""
    engine = create_engine(settings.database.url)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    return Starlette(
        routes=public_routes(session_factory(engine), settings),
        exception_handlers=public_exception_handlers(settings),
        lifespan=lifespan,
    )


def web_app(application: Any, *, set_webhook: bool = True) -> Starlette:
    """The ASGI application: the webhook's route, `/healthz` and the public page, with the bot
    started and stopped by the web server's lifespan."""
    services = services_of(application)
    settings = services.settings
    hook = settings.webhook
    if hook.secret_token is None or not hook.secret_token.get_secret_value():
        raise WebhookMisconfigured("set ZHENGFENG_WEBHOOK__SECRET_TOKEN")
    if set_webhook and not hook.url:
        raise WebhookMisconfigured("set [webhook] url (the public address Telegram posts to)")
    secret = hook.secret_token.get_secret_value().encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret):
            client = request.client.host if request.client else "?"
            log.warning("webhook request without the secret token from %s refused", client)
            return Response(status_code=403)
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict):  # `null`, a list, a number: python-telegram-bot
                raise TypeError("not an object")  # would fail on them with AttributeError
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            log.warning("webhook request with a body that is not an update refused")
            return Response(status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    async def healthz(_request: Request) -> Response:
        services = services_of(application)
        body: dict[str, object] = {"role": "leader" if services.runs_jobs() else "follower"}
        try:
            async with services.sessions() as session:
                body["outbox_backlog"] = await backlog(session)
            body["database"] = "ok"
        except Exception as error:  # any failure: the load balancer must take us out
            body["database"] = f"unreachable: {type(error).__name__}"
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        if set_webhook:
            await application.bot.set_webhook(
                url=hook.url.rstrip("/") + hook.path,
                secret_token=secret.decode(),
                allowed_updates=Update.ALL_TYPES,
            )
        try:
            yield
        finally:
            # The updates already in the queue are handled before the application stops.
            await application.stop()
            await application.shutdown()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)

    def own_username() -> str:
        try:
            return str(application.bot.username)
        except RuntimeError:  # before getMe (not initialized): no QR code this time
            return ""

    public = public_routes(services.sessions, settings, bot_username=own_username)
    return Starlette(
        routes=[
            Route(hook.path, receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *public,
        ],
        exception_handlers=public_exception_handlers(settings),
        lifespan=lifespan,
    )


def serve(application: Any) -> None:
    """Run the web application with uvicorn until SIGINT or SIGTERM."""
    import gc

    hook = services_of(application).settings.webhook
    app = web_app(application)
    gc.freeze()  # as `bot.app.poll` does, for the same reason
    uvicorn.run(app, host=hook.listen, port=hook.port, log_level="warning", lifespan="on")


def serve_public(settings: Settings, host: str, port: int) -> None:
    """`zhengfeng web`: the public page alone, with uvicorn, until SIGINT or SIGTERM."""
    uvicorn.run(public_app(settings), host=host, port=port, log_level="warning", lifespan="on")


class _QuietServer(uvicorn.Server):
    """A uvicorn server inside another program's event loop: the bot owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


class PublicServer:
    """The public page served from the polling bot's own process (`[web] public = true`)."""

    def __init__(self, application: Any) -> None:
        services = services_of(application)
        settings = services.settings
        routes = public_routes(
            services.sessions,
            settings,
            bot_username=lambda: str(application.bot.username),
        )
        app = Starlette(routes=routes, exception_handlers=public_exception_handlers(settings))
        config = uvicorn.Config(
            app,
            host=settings.web.host,
            port=settings.web.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = _QuietServer(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._serve())
        log.info("public page on http://%s:%d", self.server.config.host, self.server.config.port)

    async def _serve(self) -> None:
        """Serve until stopped. uvicorn ends a server that cannot start (its port taken) with
        sys.exit, which out of a task would stop the bot's own loop: the page is the lesser
        part, so the error is logged and the bot goes on without it."""
        try:
            await self.server.serve()
        except (SystemExit, OSError) as error:
            log.error(
                "the public page could not start on %s:%d (is the port taken?): %r; "
                "the bot runs on without it",
                self.server.config.host,
                self.server.config.port,
                error,
            )

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task
            self.task = None
