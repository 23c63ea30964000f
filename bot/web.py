"""`zhengfeng run --webhook`: the bot behind Telegram's webhooks, as one Starlette application.

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

import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.runtime.services import services_of
from db.delivery.outbox import backlog

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookMisconfigured(ValueError):
    """The webhook cannot be served as configured (no public URL or no secret token)."""


def web_app(application: Any, *, set_webhook: bool = True) -> Starlette:
    """The ASGI application: the webhook's route and `/healthz`, with the bot started and
    stopped by the web server's lifespan."""
    settings = services_of(application).settings
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
        body: dict[str, object] = {"role": "leader" if services.leading else "follower"}
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

    return Starlette(
        routes=[
            Route(hook.path, receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def serve(application: Any) -> None:
    """Run the web application with uvicorn until SIGINT or SIGTERM."""
    import gc

    import uvicorn

    hook = services_of(application).settings.webhook
    app = web_app(application)
    gc.freeze()  # as `bot.app.poll` does, for the same reason
    uvicorn.run(app, host=hook.listen, port=hook.port, log_level="warning", lifespan="on")
