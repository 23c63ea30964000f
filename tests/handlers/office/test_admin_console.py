"""The admin console through the bot: /admin, departments, categories, people, handovers,
command menus by role, the last admin, and /audit. Non-admins are refused and change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import Account, AuditEvent, Category, Department, Role, RoleGrant
from tests.handlers.cases.test_case_loop import NUMBER, file_report
from tests.handlers.cases.test_casework import ADMIN, LIAISON, OTHER, assign, case_bot, join_liaison
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, labels, make_settings, prepare_database, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
NEWCOMER = FakeUser(904, "小张", language_code="zh-hans")
REFUSED = EN("Sorry, only the campaign office (admins) can do this. Nothing was changed.")

ADMIN_COMMANDS = (
    "/admin",
    "/units",
    "/unit_add D901 新单位 department",
    "/unit_rename D011 改名",
    "/unit_class D011 其他",
    "/unit_off D011",
    "/unit_on D011",
    "/categories",
    "/category_add X1 新类别",
    "/category_rename other en Something",
    "/category_retire other",
    "/category_limits other 1 5",
    "/people",
    "/handover D011",
    "/audit",
)


async def query(bot: Harness, statement: Any) -> list[Any]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        rows = list((await session.exec(statement)).all())
    await engine.dispose()
    return rows


async def audit_rows(bot: Harness) -> list[AuditEvent]:
    return await query(bot, select(AuditEvent).order_by(col(AuditEvent.id)))


async def unit(bot: Harness, code: str) -> Department:
    [found] = await query(bot, select(Department).where(Department.code == code))
    return found


async def grants(bot: Harness, telegram_id: int) -> list[RoleGrant]:
    statement = (
        select(RoleGrant)
        .join(Account, col(Account.id) == col(RoleGrant.account_id))
        .where(Account.telegram_id == telegram_id)
        .order_by(col(RoleGrant.id))
    )
    return await query(bot, statement)


def menus(bot: Harness, chat_id: int) -> list[list[str]]:
    """The command lists set for one chat (BotCommandScopeChat), oldest first."""
    found = []
    for call in bot.api.calls:
        if call.method != "setMyCommands":
            continue
        scope = call.params.get("scope")
        scope = json.loads(scope) if isinstance(scope, str) else scope
        if isinstance(scope, dict) and scope.get("type") == "chat" and scope["chat_id"] == chat_id:
            commands = call.params["commands"]
            commands = json.loads(commands) if isinstance(commands, str) else commands
            assert isinstance(commands, list)
            found.append([c["command"] for c in commands])
    return found


async def test_everyone_else_is_refused_and_nothing_changes(case_bot: Harness) -> None:
    bot = case_bot
    before_units = await query(bot, select(func.count()).select_from(Department))
    for command in ADMIN_COMMANDS:
        assert texts(await bot.say(OTHER, command)) == REFUSED, command
    # Forged buttons of every admin family: a toast, and still nothing changes.
    for data in (
        cb.ADMIN_MENU.pack("units"),
        cb.UNITS_PAGE.pack(1, "q"),
        cb.HANDOVER_FROM.pack(1, 0),
        cb.HANDOVER_TO.pack(1, "x", 0),
        cb.GRANT_REVOKE.pack(1),
    ):
        await bot.press_data(OTHER, data)
        assert bot.last_answer().get("text") == REFUSED, data
    assert await audit_rows(bot) == []
    assert await query(bot, select(func.count()).select_from(Department)) == before_units
    assert (await unit(bot, "D011")).active


async def test_admin_menu_runs_lists_and_tells_commands(case_bot: Harness) -> None:
    bot = case_bot
    menu = (await bot.say(ADMIN, "/admin"))[-1]
    assert EN("Units") in labels(bot.api, menu)
    shown = texts(await bot.press(ADMIN, EN("Units")))
    assert "D011" in shown and "市公安局" in shown
    await bot.say(ADMIN, "/admin")
    assert "/invite liaison CODE" in texts(await bot.press(ADMIN, EN("Invite")))
    await bot.say(ADMIN, "/admin")
    assert "/wecom CODE URL" in texts(await bot.press(ADMIN, EN("WeCom robot")))


async def test_units_search_and_pages(case_bot: Harness) -> None:
    bot = case_bot
    first = await bot.say(ADMIN, "/units")
    assert EN("<b>Units</b> ({total}), page {page} of {pages}").format(
        total=141, page=1, pages=10
    ).replace("<b>", "").replace("</b>", "") in texts(first)
    second = texts(await bot.press(ADMIN, EN("Next »")))
    assert "page 2 of 10" in second
    found = texts(await bot.say(ADMIN, "/units 公安局"))
    assert "市公安局" in found and "page 1 of 1" in found
    assert EN("No unit matches {text}.").format(text="zzz") in texts(
        await bot.say(ADMIN, "/units zzz")
    )


async def test_unit_add_and_its_bad_inputs(case_bot: Harness) -> None:
    bot = case_bot
    added = texts(await bot.say(ADMIN, "/unit_add D901 市数据局 部门 管理服务"))
    assert "D901" in added and "市数据局" in added
    assert (await unit(bot, "D901")).dept_class == "管理服务"
    duplicate = texts(await bot.say(ADMIN, "/unit_add d011 重复 department"))
    assert "already taken" in duplicate
    assert "The kind must be" in texts(await bot.say(ADMIN, "/unit_add D902 甲 office"))
    assert "The class must be" in texts(await bot.say(ADMIN, "/unit_add D903 乙 window 无此类"))
    assert "A code may have" in texts(await bot.say(ADMIN, "/unit_add D:9 丙 window"))
    assert "Usage: /unit_add" in texts(await bot.say(ADMIN, "/unit_add D904"))
    unknown = texts(await bot.say(ADMIN, "/unit_rename NOPE 名字"))
    assert EN("No unit has the code {code}. /units lists them.").format(code="NOPE") in (unknown)
    await bot.say(ADMIN, "/unit_rename D901 市大数据局")
    await bot.say(ADMIN, "/unit_class D901 none")
    changed = await unit(bot, "D901")
    assert (changed.name, changed.dept_class) == ("市大数据局", None)
    actions = [(e.action, e.subject) for e in await audit_rows(bot)]
    assert actions == [
        ("department.add", "D901"),
        ("department.rename", "D901"),
        ("department.class", "D901"),
    ]
    rename = (await audit_rows(bot))[1]
    assert json.loads(rename.before or "{}") == {"name": "市数据局"}
    assert json.loads(rename.after or "{}") == {"name": "市大数据局"}


async def test_a_unit_with_open_reports_cannot_be_deactivated(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await file_report(bot)
    await assign(bot, NUMBER)
    refused = texts(await bot.say(ADMIN, "/unit_off D011"))
    assert NUMBER in refused and "reassign them first" in refused
    assert (await unit(bot, "D011")).active
    assert "department.deactivate" not in [e.action for e in await audit_rows(bot)]

    assert "is inactive" in texts(await bot.say(ADMIN, "/unit_off D012"))
    assert not (await unit(bot, "D012")).active
    assert "(inactive)" in texts(await bot.say(ADMIN, "/units D012"))
    await bot.say(ADMIN, "/unit_on D012")
    assert (await unit(bot, "D012")).active


async def test_categories_add_rename_retire_and_limits(case_bot: Harness) -> None:
    bot = case_bot
    assert "buck_passing" in texts(await bot.say(ADMIN, "/categories"))
    await bot.say(ADMIN, "/category_add seal 乱盖章 Stamping for favours")
    assert "already taken" in texts(await bot.say(ADMIN, "/category_add SEAL 重复"))
    await bot.say(ADMIN, "/category_rename seal zh 乱盖公章")
    await bot.say(ADMIN, "/category_limits seal 2 10")
    assert "Usage" in texts(await bot.say(ADMIN, "/category_limits seal 2 999"))
    await bot.say(ADMIN, "/category_retire seal")
    [seal] = await query(bot, select(Category).where(Category.code == "seal"))
    assert (seal.name_zh, seal.name_en, seal.sign_days, seal.reply_days, seal.active) == (
        "乱盖公章",
        "Stamping for favours",
        2,
        10,
        False,
    )
    await bot.say(ADMIN, "/category_limits seal - -")
    [seal] = await query(bot, select(Category).where(Category.code == "seal"))
    assert (seal.sign_days, seal.reply_days) == (None, None)
    subjects = {e.subject for e in await audit_rows(bot)}
    assert subjects == {"category:seal"}
    # Retired: not offered to a new reporter.
    assert "乱盖公章" not in texts(await bot.say(NEWCOMER, "/report"))


async def test_people_flags_a_unit_without_a_reachable_liaison(case_bot: Harness) -> None:
    bot = case_bot
    assert "⚠" in texts(await bot.say(ADMIN, "/people D011"))
    await join_liaison(bot)
    shown = texts(await bot.say(ADMIN, "/people D011"))
    assert f"ID {LIAISON.id}" in shown and "⚠" not in shown
    overview = texts(await bot.say(ADMIN, "/people"))
    assert f"ID {ADMIN.id}" in overview and "市公安局" in overview
    assert "D012" in overview  # flagged: no liaison
    assert len(overview) < 4096


async def test_role_changes_set_the_persons_command_menu(case_bot: Harness) -> None:
    bot = case_bot
    assert "admin" in menus(bot, ADMIN.id)[-1]  # config admin, set at start-up
    await join_liaison(bot)
    [liaison_menu] = menus(bot, LIAISON.id)
    assert "case" in liaison_menu and "inbox" not in liaison_menu and "report" in liaison_menu
    await bot.say(ADMIN, "/revoke D011")
    await bot.press(
        ADMIN,
        EN("End: {grant} (ID {id})").format(
            grant=EN("{role} of {department}").format(role=EN("liaison"), department="市公安局"),
            id=LIAISON.id,
        )[:60],
    )
    assert "case" not in menus(bot, LIAISON.id)[-1]
    assert not bot.api.violations


async def test_handover_through_an_invite_link(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await bot.say(ADMIN, "/handover D011")
    await bot.press(ADMIN, EN("From {person}").format(person=f"ID {LIAISON.id}"))
    answer = texts(await bot.press(ADMIN, EN("Invite link; old role ends when it is used")))
    match = LINK.search(answer)
    assert match, answer
    assert [g.revoked_at for g in await grants(bot, LIAISON.id)] == [None]  # still in place
    await bot.say(NEWCOMER, f"/start {match.group(1)}")
    [old] = await grants(bot, LIAISON.id)
    [new] = await grants(bot, NEWCOMER.id)
    assert old.revoked_at is not None and new.revoked_at is None and new.role is Role.liaison
    assert "case" in menus(bot, NEWCOMER.id)[-1]
    assert "case" not in menus(bot, LIAISON.id)[-1]
    actions = [(e.action, e.subject) for e in await audit_rows(bot)]
    assert ("role.handover_complete", f"account:{LIAISON.id}") in actions
    # The unit's next handover starts from the new liaison only.
    await bot.say(ADMIN, "/handover D011")
    assert labels(bot.api, bot.api.last_message(ADMIN.id)) == [
        EN("From {person}").format(person=f"ID {NEWCOMER.id}")
    ]


async def test_handover_to_a_known_person_at_once(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await bot.say(NEWCOMER, "/start")
    unknown = texts(await bot.say(ADMIN, "/handover D011 123456"))
    assert "has not opened the bot" in unknown
    await bot.say(ADMIN, f"/handover D011 {NEWCOMER.id}")
    chooser = bot.api.last_message(ADMIN.id)
    await bot.press(ADMIN, EN("From {person}").format(person=f"ID {LIAISON.id}"))
    done = texts(await bot.press(ADMIN, EN("To {person}, now").format(person=f"ID {NEWCOMER.id}")))
    assert "handed over" in done
    assert (await grants(bot, LIAISON.id))[0].revoked_at is not None
    assert (await grants(bot, NEWCOMER.id))[0].revoked_at is None
    handover = [e for e in await audit_rows(bot) if e.action == "role.handover"]
    assert [e.subject for e in handover] == [f"account:{LIAISON.id}"]
    # The first button again, on a grant that has ended: refused, nothing changes.
    [[(_label, data)]] = bot.api.buttons(chooser)
    assert "already ended" in texts(await bot.press_data(ADMIN, str(data), chooser))
    assert len(await grants(bot, NEWCOMER.id)) == 1


@pytest.fixture
async def lone_admin_bot(tmp_path: Path) -> AsyncIterator[Harness]:
    """No config admins: ADMIN's admin grant is the only admin of the campaign."""
    settings = make_settings(tmp_path, admin_ids=[])
    await prepare_database(settings.database.url)
    engine = create_engine(settings.database.url)
    async with session_factory(engine)() as session:
        account = Account(telegram_id=ADMIN.id, language="en")
        session.add(account)
        await session.flush()
        assert account.id is not None
        session.add(RoleGrant(account_id=account.id, role=Role.admin))
        await session.commit()
    await engine.dispose()
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def test_the_last_admin_cannot_be_revoked(lone_admin_bot: Harness) -> None:
    bot = lone_admin_bot
    listed = (await bot.say(ADMIN, f"/revoke {ADMIN.id}"))[-1]
    [[(_label, data)]] = bot.api.buttons(listed)
    refused = texts(await bot.press_data(ADMIN, str(data), listed))
    assert "last admin" in refused
    assert [g.revoked_at for g in await grants(bot, ADMIN.id)] == [None]
    assert await audit_rows(bot) == []


async def test_audit_shows_who_what_when_before_after(case_bot: Harness) -> None:
    bot = case_bot
    await bot.say(ADMIN, "/unit_rename D011 市公安局（新）")
    shown = texts(await bot.say(ADMIN, "/audit D011"))
    assert "department.rename" in shown and f"ID {ADMIN.id}" in shown
    assert "市公安局" in shown and "→" in shown
    assert "department.rename" in texts(await bot.say(ADMIN, f"/audit @{ADMIN.id}"))
    assert "department.rename" in texts(await bot.say(ADMIN, "/audit"))
    assert "No audit events yet" in texts(await bot.say(ADMIN, "/audit ZF2026-000009"))
    assert "Usage: /audit" in texts(await bot.say(ADMIN, "/audit nonsense!"))
