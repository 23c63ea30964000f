"""A unit's WeCom group robot (企业微信群机器人): what a robot URL must look like, how it is
shown, and setting it.

The URL carries the robot's key, a secret: it is stored and used by the sender, and anywhere it
is shown (a reply, the audit trail, a log line) only `mask_url`'s form appears.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Department

URL_MAX = 300


def robot_url_ok(url: str) -> bool:
    """An http(s) webhook with a `key` parameter (WeCom's form; a local test server too)."""
    parts = urlsplit(url)
    return (
        len(url) <= URL_MAX
        and parts.scheme in ("https", "http")
        and bool(parts.netloc)
        and bool(parse_qs(parts.query).get("key"))
    )


def mask_url(url: str) -> str:
    """A robot URL for display: the key is a secret, so only its last 4 characters show."""
    base, _, key = url.partition("key=")
    if not key:
        return url[:30] + "…"
    return f"{base}key=…{key[-4:]}"


async def set_robot(session: AsyncSession, unit: Department, url: str | None) -> None:
    """The unit's reminders, escalations and digests also go to this robot (None: to none)."""
    unit.wecom_url = url
    session.add(unit)
    await session.flush()
