"""/groups for admins: evaluator groups (界别) and their members.

`/groups` lists them with member counts; `/groups add CODE 名称` adds one; `/groups members CODE`
lists its evaluators (by Telegram id and grant number, as /people lists officials);
`/groups move WHO CODE` moves an evaluator to another group and `/groups remove WHO` ends their
role (WHO: the grant number or the Telegram id). People join through `/invite evaluator CODE`.
"""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.runtime.admin import audit, require_admin
from bot.runtime.command_menus import refresh_command_menu
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import N_
from bot.runtime.input import command_body
from bot.runtime.render import MESSAGE_MAX, cut, esc
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.appraisal.groups import (
    GroupProblem,
    add_group,
    find_evaluator,
    group_by_word,
    group_members,
    groups_with_counts,
    move_evaluator,
)
from db.models import Account, EvaluatorGroup, RoleGrant
from db.people.roles import revoke_role

USAGE = N_(
    "<b>Evaluator groups</b>\n"
    "/groups — the groups and how many evaluators each has\n"
    "/groups add CODE 名称 — add a group, e.g. /groups add MY 媒体代表\n"
    "/groups members CODE — the evaluators of a group\n"
    "/groups move WHO CODE — move an evaluator to another group\n"
    "/groups remove WHO — end an evaluator's role\n"
    "WHO is the grant number /groups members shows, or the Telegram ID.\n"
    "People join a group with an invite link: /invite evaluator CODE."
)
PROBLEMS: dict[GroupProblem, str] = {
    GroupProblem.bad_code: N_(
        "A group code is 1 to 20 letters or digits, e.g. MY. Nothing was changed."
    ),
    GroupProblem.bad_name: N_("Please give the group a name of up to 100 characters."),
    GroupProblem.taken: N_("A group with that code or name exists already. Nothing was changed."),
}
QUOTE_MAX = 40


async def _list(turn: Turn) -> None:
    _ = turn._
    lines = [_("<b>Evaluator groups</b>")]
    for row in await groups_with_counts(turn.session):
        line = _("{code} {name}: {count} evaluators").format(
            code=esc(row.group.code), name=esc(row.group.name), count=row.members
        )
        if not row.group.active:
            line = _("{group} (inactive)").format(group=line)
        lines.append(line)
    lines.append(_("/groups help shows what else /groups does."))
    turn.say("\n".join(lines))


async def _group_or_say(turn: Turn, word: str) -> EvaluatorGroup | None:
    group = await group_by_word(turn.session, word)
    if group is None:
        turn.say(
            turn._("No evaluator group has the code or name {word}. /groups lists them.").format(
                word=esc(cut(word, QUOTE_MAX))
            )
        )
    return group


async def _add(turn: Turn, code: str, name: str) -> None:
    made = await add_group(turn.session, code, name, turn.now)
    if isinstance(made, GroupProblem):
        turn.say(turn._(PROBLEMS[made]))
        return
    await audit(turn, "group.add", f"group:{made.code}", after={"name": made.name})
    turn.say(
        turn._(
            "Group {code} {name} added. Invite its evaluators with /invite evaluator {code}."
        ).format(code=esc(made.code), name=esc(made.name))
    )


async def _members(turn: Turn, word: str) -> None:
    _ = turn._
    group = await _group_or_say(turn, word)
    if group is None or group.id is None:
        return
    members = await group_members(turn.session, group.id)
    lines = [
        _("<b>{code} {name}</b>: {count} evaluators").format(
            code=esc(group.code), name=esc(group.name), count=len(members)
        )
    ]
    for member in members:
        line = _("#{grant} · ID {id}").format(grant=member.grant.id, id=member.account.telegram_id)
        if member.account.unreachable:
            line = _("{person} (unreachable)").format(person=line)
        if len("\n".join([*lines, line])) > MESSAGE_MAX - 100:
            lines.append("…")
            break
        lines.append(line)
    turn.say("\n".join(lines))


async def _evaluator_or_say(turn: Turn, word: str) -> RoleGrant | None:
    grant = await find_evaluator(turn.session, word)
    if grant is None:
        turn.say(
            turn._(
                "No active evaluator has the grant number or Telegram ID {word}. "
                "/groups members CODE lists them."
            ).format(word=esc(cut(word, QUOTE_MAX)))
        )
    return grant


async def _move(turn: Turn, who: str, word: str) -> None:
    grant = await _evaluator_or_say(turn, who)
    if grant is None:
        return
    group = await _group_or_say(turn, word)
    if group is None or group.id is None:
        return
    if not group.active:
        turn.say(turn._("Group {code} is inactive. Nothing was changed.").format(code=group.code))
        return
    holder = await turn.session.get(Account, grant.account_id)
    left = await move_evaluator(turn.session, grant, group.id)
    if left is None:
        turn.say(turn._("That evaluator is in {name} already.").format(name=esc(group.name)))
        return
    before = await turn.session.get(EvaluatorGroup, left)
    await audit(
        turn,
        "group.move",
        f"account:{holder.telegram_id if holder else grant.account_id}",
        before={"group": before.code if before else left},
        after={"group": group.code},
    )
    turn.say(
        turn._("Evaluator #{grant} moved to {name}.").format(grant=grant.id, name=esc(group.name))
    )


async def _remove(turn: Turn, who: str) -> None:
    grant = await _evaluator_or_say(turn, who)
    if grant is None or grant.id is None:
        return
    await revoke_role(turn.session, grant.id, turn.now)
    holder = await turn.session.get(Account, grant.account_id)
    group = await turn.session.get(EvaluatorGroup, grant.group_id) if grant.group_id else None
    if holder is not None:
        await refresh_command_menu(turn, holder)
    await audit(
        turn,
        "role.revoke",
        f"account:{holder.telegram_id if holder else grant.account_id}",
        before={"role": grant.role.value, "group": group.code if group else None},
    )
    turn.say(
        turn._(
            "Evaluator #{grant} was removed from {name}; they can no longer rate, and the "
            "ballots they cast stay."
        ).format(grant=grant.id, name=esc(group.name) if group else "—")
    )


@turn_handler
async def groups(turn: Turn) -> None:
    """/groups [add|members|move|remove …]"""
    if not await require_admin(turn):
        return
    words = command_body(turn).split(maxsplit=2)
    verb = words[0].lower() if words else ""
    if not words:
        await _list(turn)
    elif verb in ("add", "添加") and len(words) == 3:
        await _add(turn, words[1], words[2])
    elif verb in ("members", "成员") and len(words) == 2:
        await _members(turn, words[1])
    elif verb in ("move", "调整") and len(words) == 3:
        await _move(turn, words[1], words[2])
    elif verb in ("remove", "移除") and len(words) == 2:
        await _remove(turn, words[1])
    else:
        turn.say(turn._(USAGE))


def build_handlers() -> list[Handler]:
    return [CommandHandler("groups", groups, filters=PRIVATE)]
