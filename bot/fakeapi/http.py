"""The fake Bot API over real HTTP on loopback, for the bot's own network stack.

The in-process :class:`~bot.fakeapi.request.FakeRequest` skips python-telegram-bot's
HTTP layer; serving the fake over a socket covers that too (httpx, form encoding,
multipart uploads, timeouts) and lets a developer run the whole bot against it by
pointing ``base_url`` here.

Run ``python -m bot.fakeapi.http --port 8081`` for a console: it prints a line per
call and turns each typed line ``USER_ID: text`` into a message from that user, and
``USER_ID: [label]`` into a press of that button in the last message the user got with it
(``\n`` in a typed line is a line break, for the one-message forms such as ``/round``).
With ``--local`` it behaves as telegram-bot-api's ``--local`` does for webhooks: a bot may set
a plain-HTTP webhook on any port, and updates are then posted to it (with the webhook's secret
token), retried every 2 s while the webhook does not answer 200 (30 times at most), instead of
waiting for getUpdates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bot.fakeapi.server import Call, FakeBotApi, FakeUser
from bot.fakeapi.spec import ApiSpec, UploadedFile

__all__ = ["main", "serve"]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Without a spec the declared types are unknown; these are the form fields the fake
# itself reads as numbers or objects, enough for the console to work.
_INT_FIELDS = frozenset(
    {"chat_id", "from_chat_id", "message_id", "offset", "limit", "timeout", "user_id"}
)
_OBJECT_FIELDS = frozenset(
    {
        "reply_markup", "reply_parameters", "commands", "scope", "media", "menu_button",
        "entities", "caption_entities", "allowed_updates", "link_preview_options",
    }
)  # fmt: skip


def _json_response(body: Mapping[str, object], status: int) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _unauthorized() -> web.Response:
    return _json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)


def _guess_types(fields: Mapping[str, str]) -> dict[str, object]:
    guessed: dict[str, object] = {}
    for name, raw in fields.items():
        value: object = raw
        if name in _INT_FIELDS and re.fullmatch(r"-?\d+", raw):
            value = int(raw)
        elif name in _OBJECT_FIELDS:
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        guessed[name] = value
    return guessed


async def _read_call(
    request: web.Request, api: FakeBotApi, method: str
) -> tuple[dict[str, object], dict[str, UploadedFile]]:
    """Decode a call sent as a query string, JSON, a urlencoded form or multipart."""
    fields: dict[str, str] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    json_params: dict[str, object] = {}
    if request.content_type == "application/json" and request.can_read_body:
        body = await request.json()
        if isinstance(body, dict):
            json_params = body
    elif request.content_type in _FORM_TYPES:
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[name] = UploadedFile(
                    name=name,
                    filename=value.filename,
                    content=value.file.read(),
                    mime_type=value.content_type,
                )
            else:
                fields[name] = str(value)
    params = api.spec.coerce_form(method, fields) if api.spec else _guess_types(fields)
    params.update(json_params)
    return params, files


async def serve(
    api: FakeBotApi, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str, str]:
    """Serve ``api`` on ``host:port`` (0 = any free port).

    Returns the runner (``await runner.cleanup()`` to stop), the server's root URL,
    for ``Bot(token, base_url=f"{base_url}/bot")``, and the file URL prefix, for
    ``base_file_url``.
    """

    async def call(request: web.Request) -> web.Response:
        if request.match_info["token"] != api.token:
            return _unauthorized()
        method = request.match_info["method"]
        params, files = await _read_call(request, api, method)
        status, body = await api.handle(method, params, files)
        return _json_response(body, status)

    async def download(request: web.Request) -> web.Response:
        if request.match_info["token"] != api.token:
            return _unauthorized()
        content = api.download(request.match_info["path"])
        if content is None:
            return _json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return web.Response(body=content, content_type="application/octet-stream")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/bot{token}/{method}", call)
    app.router.add_get("/file/bot{token}/{path:.+}", download)
    # A long poll still open at shutdown must not hold the test run for a minute.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    root = f"http://{host}:{bound_port}"
    return runner, root, f"{root}/file/bot"


# ------------------------------------------------------------------------ console


def _print_call(call: Call) -> None:
    if call.method == "getUpdates" and call.response.get("result") == []:
        return  # idle long polls would drown everything else
    shown = json.dumps(
        call.params,
        ensure_ascii=False,
        default=lambda o: f"<file {o.filename}>" if isinstance(o, UploadedFile) else repr(o),
    )
    outcome = "" if call.status == 200 else f" -> {call.response.get('description')}"
    print(f"{call.status} {call.method} {shown[:300]}{outcome}", flush=True)


def _console_update(api: FakeBotApi, line: str) -> dict[str, Any] | None:
    """The update a typed line stands for, or None (with a hint printed)."""
    match = re.fullmatch(r"\s*(\d+)\s*:\s?(.*)", line)
    if match is None:
        print('type "USER_ID: text" or "USER_ID: [button]", e.g. "1001: /start"', flush=True)
        return None
    # A form such as /round or /duty is several lines: typed on one, `\n` separates them.
    user_id, text = int(match.group(1)), match.group(2).replace("\\n", "\n")
    user = FakeUser(user_id, first_name=f"User{user_id}")
    label = re.fullmatch(r"\[(.+)\]", text.strip())
    if label is None:
        return api.message_update(user, text)
    for message in reversed(api.sent_messages(user_id)):
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for row in keyboard:
            for button in row:
                # Only buttons that call back: a URL button is opened, not pressed.
                if button.get("text") == label.group(1) and "callback_data" in button:
                    return api.callback_update(user, message, str(button["callback_data"]))
    print(f"user {user_id} has no button {label.group(1)!r} to press", flush=True)
    return None


WEBHOOK_ATTEMPTS = 30


async def _post_to_webhook(api: FakeBotApi, update: dict[str, Any], pause: float = 2.0) -> None:
    """Post one update to the webhook, as Telegram does: again while it does not answer 200,
    up to `WEBHOOK_ATTEMPTS` times, each time to the webhook set then. (Updates being retried
    may overtake one another; Telegram keeps their order, this console does not.)"""
    async with ClientSession(timeout=ClientTimeout(total=10)) as session:
        for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
            hook = api.webhook
            if not hook.get("url"):
                print(f"update {update['update_id']}: the webhook was deleted", flush=True)
                api.enqueue_update(update)  # getUpdates serves it now
                return
            headers = {}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = str(hook["secret_token"])
            try:
                async with session.post(str(hook["url"]), json=update, headers=headers) as answer:
                    if answer.status == 200:
                        print(f"update {update['update_id']} posted to the webhook", flush=True)
                        return
                    outcome = f"HTTP {answer.status}"
            except (ClientError, TimeoutError) as error:
                outcome = type(error).__name__
            print(f"webhook: {outcome}; attempt {attempt}, again in {pause:g} s", flush=True)
            await asyncio.sleep(pause)
    print(f"update {update['update_id']} given up after {WEBHOOK_ATTEMPTS} attempts", flush=True)


def _inject(api: FakeBotApi, line: str, posts: set[asyncio.Task[None]]) -> None:
    update = _console_update(api, line)
    if update is None:
        return
    if api.local and api.webhook.get("url"):
        task = asyncio.get_running_loop().create_task(_post_to_webhook(api, update))
        posts.add(task)
        task.add_done_callback(posts.discard)
        return
    api.enqueue_update(update)
    print(f"queued update {update['update_id']}", flush=True)


async def _console(args: argparse.Namespace) -> None:
    try:
        spec: ApiSpec | None = ApiSpec.load()
    except FileNotFoundError as exc:
        print(f"warning: {exc}; calls will not be validated", file=sys.stderr)
        spec = None
    api = FakeBotApi(
        args.token,
        args.username,
        spec,
        validate=spec is not None,
        on_call=_print_call,
        local=args.local,
    )
    posts: set[asyncio.Task[None]] = set()
    runner, root, file_root = await serve(api, args.host, args.port)
    print(f"base_url:      {root}/bot", flush=True)
    print(f"base_file_url: {file_root}", flush=True)
    print(f"token:         {api.token}", flush=True)
    print(
        'Type "USER_ID: text" to send a message as that user, "USER_ID: [label]" to press a '
        "button; Ctrl-C stops.",
        flush=True,
    )

    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    pending = bytearray()

    def read_stdin() -> None:
        # os.read, not readline: a buffered reader would hide lines from the event loop.
        chunk = os.read(fd, 65536)
        if not chunk:
            loop.remove_reader(fd)
            return
        pending.extend(chunk)
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            _inject(api, line.decode("utf-8", "replace"), posts)

    loop.add_reader(fd, read_stdin)
    try:
        await asyncio.Event().wait()
    finally:
        loop.remove_reader(fd)
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake Telegram Bot API locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--username", default="zhengfeng_test_bot")
    parser.add_argument(
        "--local",
        action="store_true",
        help="as telegram-bot-api --local: HTTP webhooks on any port, updates posted to them",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_console(args))


if __name__ == "__main__":
    main()
