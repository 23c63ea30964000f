"""A unit's WeCom robot: which URLs are robots, how one is shown, and setting it."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from db.delivery.wecom import mask_url, robot_url_ok, set_robot
from db.models import Department, DepartmentKind

ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def test_a_robot_url_is_an_http_webhook_with_a_key() -> None:
    assert robot_url_ok(ROBOT)
    assert robot_url_ok("http://127.0.0.1:9000/send?key=abc")
    assert not robot_url_ok("https://qyapi.weixin.qq.com/cgi-bin/webhook/send")
    assert not robot_url_ok("ftp://example.com/send?key=abc")
    assert not robot_url_ok("key=abc")
    assert not robot_url_ok(ROBOT + "a" * 300)


def test_only_the_keys_last_four_characters_are_shown() -> None:
    shown = mask_url(ROBOT)
    assert shown.endswith("key=…5aaa") and "693a91f6" not in shown
    assert mask_url("https://example.com/" + "x" * 40) == "https://example.com/" + "x" * 10 + "…"


async def test_setting_and_removing_a_robot(session: AsyncSession) -> None:
    unit = Department(code="D901", name="市测试局", kind=DepartmentKind.department)
    session.add(unit)
    await session.flush()
    await set_robot(session, unit, ROBOT)
    await session.commit()
    await session.refresh(unit)
    assert unit.wecom_url == ROBOT
    await set_robot(session, unit, None)
    await session.commit()
    await session.refresh(unit)
    assert unit.wecom_url is None
