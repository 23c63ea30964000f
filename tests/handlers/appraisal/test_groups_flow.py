"""Evaluator groups through the bot: invite an evaluator into a group, list, add, move, remove."""

from __future__ import annotations

import json
from typing import TypeVar

from sqlmodel import SQLModel, select

from bot.fakeapi import FakeUser
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import AuditEvent, Invite, Role, RoleGrant
from tests.handlers.people.test_roles_flow import ADMIN, LINK, admin_bot
from tests.harness import Harness, texts

__all__ = ["admin_bot"]

T = TypeVar("T", bound=SQLModel)
EN = gettext_for("en")
ZH = gettext_for("zh_CN")
BOSS = FakeUser(931, "企业家", language_code="zh-hans")
INVESTOR = FakeUser(932, "Investor", language_code="en")


async def rows(bot: Harness, model: type[T]) -> list[T]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = list((await session.exec(select(model))).all())
    await engine.dispose()
    return found


async def join_group(bot: Harness, user: FakeUser, group: str) -> str:
    answer = texts(await bot.say(ADMIN, f"/invite evaluator {group}"))
    match = LINK.search(answer)
    assert match, answer
    return texts(await bot.say(user, f"/start {match.group(1)}"))


async def test_an_evaluator_joins_a_group_by_code_or_name(admin_bot: Harness) -> None:
    bot = admin_bot
    invite = texts(await bot.say(ADMIN, "/invite evaluator QY"))
    assert "企业代表" in invite and LINK.search(invite)
    token = LINK.search(invite)
    assert token is not None
    welcome = texts(await bot.say(BOSS, f"/start {token.group(1)}"))
    assert "企业代表" in welcome and "/rate_round" in welcome
    assert "企业代表" in texts(await bot.say(BOSS, "/whoami"))
    welcome = await join_group(bot, INVESTOR, "外商代表")
    assert welcome.startswith("Welcome! You are now an evaluator") and "外商代表" in welcome
    grants = [g for g in await rows(bot, RoleGrant) if g.role is Role.evaluator]
    assert len(grants) == 2 and all(g.group_id is not None for g in grants)
    invites = await rows(bot, Invite)
    assert all(i.group_id is not None and i.department_id is None for i in invites)


async def test_evaluator_invites_need_a_known_active_group(admin_bot: Harness) -> None:
    bot = admin_bot
    for command in ("/invite evaluator", "/invite evaluator XX", "/invite 评议代表 <b>"):
        answer = texts(await bot.say(ADMIN, command))
        assert "/groups" in answer and not LINK.search(answer)
    assert await rows(bot, Invite) == []


async def test_groups_list_add_members_move_remove(admin_bot: Harness) -> None:
    bot = admin_bot
    await join_group(bot, BOSS, "QY")
    await join_group(bot, INVESTOR, "QY")
    listed = texts(await bot.say(ADMIN, "/groups"))
    assert "QY 企业代表: 2 evaluators" in listed and "WS 外商代表: 0 evaluators" in listed

    assert "exists already" in texts(await bot.say(ADMIN, "/groups add qy 别的"))
    assert "1 to 20 letters" in texts(await bot.say(ADMIN, "/groups add M-Y 媒体代表"))
    added = texts(await bot.say(ADMIN, "/groups add my 媒体代表"))
    assert "Group MY 媒体代表 added" in added
    assert "MY 媒体代表: 0 evaluators" in texts(await bot.say(ADMIN, "/groups"))

    members = texts(await bot.say(ADMIN, "/groups members qy"))
    grants = {g.account_id: g for g in await rows(bot, RoleGrant)}
    assert f"ID {BOSS.id}" in members and f"ID {INVESTOR.id}" in members
    boss_grant = next(g for g in grants.values() if g.role is Role.evaluator)
    assert f"#{boss_grant.id}" in members

    moved = texts(await bot.say(ADMIN, f"/groups move {INVESTOR.id} WS"))
    assert "moved to 外商代表" in moved
    assert "already" in texts(await bot.say(ADMIN, f"/groups move {INVESTOR.id} 外商代表"))
    assert "No active evaluator" in texts(await bot.say(ADMIN, "/groups move 999999 WS"))
    assert "No evaluator group" in texts(await bot.say(ADMIN, f"/groups move {BOSS.id} ZZ"))

    removed = texts(await bot.say(ADMIN, f"/groups remove #{boss_grant.id}"))
    assert "removed from 企业代表" in removed
    assert "QY 企业代表: 0 evaluators" in texts(await bot.say(ADMIN, "/groups"))
    assert "No active evaluator" in texts(await bot.say(ADMIN, f"/groups remove {BOSS.id}"))
    assert ZH("You have no roles; you can file reports with /report.") in texts(
        await bot.say(BOSS, "/whoami")
    )

    actions = [e.action for e in await rows(bot, AuditEvent)]
    assert {"group.add", "group.move", "role.revoke"} <= set(actions)
    move = next(e for e in await rows(bot, AuditEvent) if e.action == "group.move")
    assert json.loads(move.before or "{}") == {"group": "QY"}


async def test_only_admins_manage_groups(admin_bot: Harness) -> None:
    bot = admin_bot
    await join_group(bot, BOSS, "QY")
    for command in ("/groups", "/groups add MY 媒体代表", f"/groups remove {BOSS.id}"):
        assert ZH("Sorry, only the campaign office (admins) can do this. Nothing was changed.") in (
            texts(await bot.say(BOSS, command))
        )
    assert len([g for g in await rows(bot, RoleGrant) if g.revoked_at is None]) == 1


async def test_a_second_invite_moves_the_evaluator_instead_of_a_second_grant(
    admin_bot: Harness,
) -> None:
    bot = admin_bot
    await join_group(bot, BOSS, "QY")
    await join_group(bot, BOSS, "DB")
    grants = [g for g in await rows(bot, RoleGrant) if g.role is Role.evaluator]
    assert len(grants) == 1
    assert "人大代表和政协委员" in texts(await bot.say(BOSS, "/whoami"))
