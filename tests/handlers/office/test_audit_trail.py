"""Admin actions leave an audit trail, in the same transaction, with secrets masked."""

from __future__ import annotations

import json

from sqlmodel import select

from db.engine import create_engine, session_factory
from db.models import AuditEvent
from tests.handlers.cases.test_case_loop import NUMBER, file_report
from tests.handlers.cases.test_casework import ADMIN, assign, case_bot, join_liaison
from tests.harness import Harness

__all__ = ["case_bot"]


async def events(bot: Harness) -> list[AuditEvent]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = list((await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all())
    await engine.dispose()
    return found


async def test_admin_actions_are_audited(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await file_report(bot)
    await assign(bot, NUMBER)
    key = "0123456789abcdef-secret"
    await bot.say(ADMIN, f"/wecom D011 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}")
    await bot.say(ADMIN, "/calendar off 2027-01-01 元旦")

    trail = await events(bot)
    actions = [(e.action, e.subject) for e in trail]
    assert actions[0][0] == "invite.create"
    assert ("case.accepted", NUMBER) in actions
    assert ("department.wecom", "D011") in actions
    assert ("calendar.set", "calendar:2027-01-01") in actions
    accepted = next(e for e in trail if e.action == "case.accepted")
    assert json.loads(accepted.before or "{}") == {"state": "received"}
    assert json.loads(accepted.after or "{}")["state"] == "assigned"
    assert all(key not in (e.after or "") + (e.before or "") for e in trail)
    assert all(e.actor_account_id is not None for e in trail)
