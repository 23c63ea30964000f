"""A python-telegram-bot transport that hands requests to a :class:`FakeBotApi` in-process.

Plugging in at the ``BaseRequest`` level, rather than mocking ``Bot`` methods, keeps
everything above the socket real: python-telegram-bot still builds the parameters,
uploads and URLs, and still turns error answers into ``BadRequest``, ``Forbidden``,
``RetryAfter`` and friends.  No sockets are opened, so tests stay fast and parallel.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

from bot.fakeapi.server import FakeBotApi
from bot.fakeapi.spec import UploadedFile
from bot.runtime.telegram_errors import NoAnswer

__all__ = ["FakeRequest"]


class FakeRequest(BaseRequest):
    """Route ``telegram.Bot`` traffic for ``api.token`` to ``api``.

    URLs are recognised by the token alone (``.../<token>/<method>`` for calls,
    ``.../<token>/<file_path>`` for GET downloads), so any ``base_url`` and
    ``base_file_url`` work, including the ``{token}`` placeholder forms.
    """

    __slots__ = ("_api", "_read_timeout")

    def __init__(self, api: FakeBotApi, read_timeout: float | None = 5.0) -> None:
        self._api = api
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to open: there is no connection pool."""

    async def shutdown(self) -> None:
        """Nothing to close: there is no connection pool."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # Ignored (nothing here can time out). python-telegram-bot's own annotation, ODVInput,
        # lives in a private module; an override may accept the wider `object`.
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        marker = f"{self._api.token}/"
        path = unquote(urlsplit(url).path)
        if marker not in path:
            return 401, _body({"ok": False, "error_code": 401, "description": "Unauthorized"})
        target = path.split(marker, 1)[1]
        if method == "GET":
            content = self._api.download(target)
            if content is None:
                return 404, _body({"ok": False, "error_code": 404, "description": "Not Found"})
            return 200, content
        if self._api.take_drop(target):
            raise NetworkError("connection dropped by the Bot API double")
        params = dict(request_data.parameters) if request_data else {}
        files = {
            name: UploadedFile(
                name=name,
                filename=filename,
                content=content if isinstance(content, bytes) else content.read(),
                mime_type=mime_type,
            )
            for name, (filename, content, mime_type) in (
                request_data.multipart_data.items() if request_data else ()
            )
        }
        status, body = await self._api.handle(target, params, files)
        if self._api.take_lost_answer(target):
            raise NoAnswer("the Bot API double handled the call and dropped its answer")
        return status, _body(body)


def _body(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
