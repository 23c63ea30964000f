"""A Telegram Bot API test double, validated against the official machine-readable spec.

Typical use in a test::

    api = FakeBotApi()
    bot = telegram.Bot(
        api.token, request=FakeRequest(api), get_updates_request=FakeRequest(api)
    )
    ...
    assert api.violations == []

``bot.fakeapi.http.serve`` offers the same fake over loopback HTTP; it is not
imported here because it needs aiohttp, a development-only dependency.
"""

from bot.fakeapi.formatting import EntityParseError, parse_formatted
from bot.fakeapi.request import FakeRequest
from bot.fakeapi.server import Call, FakeBotApi, FakeUser, Stats
from bot.fakeapi.spec import ApiSpec, UploadedFile, find_spec_path, parse_html

__all__ = [
    "ApiSpec",
    "Call",
    "EntityParseError",
    "FakeBotApi",
    "FakeRequest",
    "FakeUser",
    "Stats",
    "UploadedFile",
    "find_spec_path",
    "parse_formatted",
    "parse_html",
]
