"""python-telegram-bot's HTTP layer on aiohttp instead of httpx.

Profiling the report flow showed httpx/httpcore spending about as much CPU per Bot API call as
the whole step's database work: anyio stream wrappers, a socket-liveness probe per pooled
connection and per-request cookie and header models. aiohttp does the same HTTP/1.1 keep-alive
work in a fraction of that, and every step of a chat flow makes two or three calls (getUpdates,
the answer, the callback answer), so the transport is the bot's largest single cost.

It implements everything `BaseRequest` asks for: form-encoded calls, multipart uploads (files
and file handles), GET downloads, the four timeouts (aiohttp has no separate write timeout, so a
total deadline of connect + write + read stands in for it) and optional proxies. Like httpx, it
honours the usual proxy environment variables (HTTPS_PROXY, ALL_PROXY, NO_PROXY ...), but reads
them once per server instead of on every call: aiohttp's `trust_env` looks up proxies and netrc
in a worker thread per request, which cost more than the request itself.
"""

from __future__ import annotations

import urllib.request
from typing import IO, cast
from urllib.parse import SplitResult, urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.runtime.telegram_errors import NoAnswer


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one aiohttp `ClientSession` with a keep-alive connection pool.

    The defaults are those of python-telegram-bot's `HTTPXRequest`, so swapping the transport
    changes no timing a caller relies on.
    """

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._env_proxies: dict[str, str | None] = {}
        """scheme://host:port → the proxy the environment names for it, looked up once."""
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        # Created here, not in __init__: an aiohttp session belongs to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                # The Bot API sets no cookies; a dummy jar skips cookie bookkeeping per call.
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # python-telegram-bot annotates these as `ODVInput[float]`, a name it keeps in a private
        # module; an override may accept the wider `object`, and `_given` narrows them.
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        timeout = _timeout(read=read, write=write, connect=connect, pool=pool)

        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            fields = request_data.json_parameters
            data = _form(fields, files) if files else fields
        try:
            async with self._session.request(
                method, url, data=data, timeout=timeout, proxy=self._proxy_for(url)
            ) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise TimedOut from err
        except aiohttp.ClientConnectorError as err:
            # Nothing was sent: the connection was never made.
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
        except aiohttp.ClientError as err:
            # The request may have left before the connection broke: Telegram may have done it.
            raise NoAnswer(f"aiohttp.{err.__class__.__name__}: {err}") from err

    def _proxy_for(self, url: str) -> str | None:
        if self._proxy is not None:
            return self._proxy
        parsed = urlsplit(url)
        origin = f"{parsed.scheme}://{parsed.netloc}"
        if origin not in self._env_proxies:
            self._env_proxies[origin] = _environment_proxy(parsed)
        return self._env_proxies[origin]


def _given(timeout: object, default: float | None) -> float | None:
    """The timeout the caller passed, or `default` when it passed none.

    "None passed" is `BaseRequest.DEFAULT_NONE`, compared by identity as python-telegram-bot's
    documentation of that constant asks; `None` itself means "no timeout".
    """
    if timeout is BaseRequest.DEFAULT_NONE:
        return default
    return cast("float | None", timeout)


def _environment_proxy(url: SplitResult) -> str | None:
    """The proxy the standard environment variables name for `url`, as httpx would use it."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    # proxy_bypass_environment is what httpx follows too; typeshed leaves it out (undocumented).
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if proxy is None or bypass(url.hostname or "", proxies):
        return None
    return proxy


def _timeout(
    *, read: float | None, write: float | None, connect: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """Map python-telegram-bot's four timeouts onto aiohttp's.

    aiohttp's `connect` covers waiting for a pooled connection plus opening a new one, so it is
    pool + connect; `sock_read` is the read timeout. There is no write timeout of its own, so the
    whole request gets connect + write + read as its deadline (none if any part is unlimited).
    """
    parts = (pool, connect, write, read)
    total = None if any(p is None for p in parts) else sum(p or 0.0 for p in parts)
    wait = None if pool is None or connect is None else pool + connect
    return aiohttp.ClientTimeout(total=total, connect=wait, sock_connect=connect, sock_read=read)


def _form(
    fields: dict[str, str], files: dict[str, tuple[str, bytes | IO[bytes], str]]
) -> aiohttp.FormData:
    """A multipart body: the plain parameters as text fields, then every file part."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (file_name, content, mime_type) in files.items():
        form.add_field(name, content, filename=file_name, content_type=mime_type)
    return form
