"""Roles: /invite and /revoke for admins, /start TOKEN to accept an invite, /whoami for everyone.

Authority is always checked here, on the server, against the database and the config; nothing a
client sends (a command argument, a button) is trusted to say who someone is.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.runtime import callbacks as cb
from bot.runtime.admin import audit, require_admin
from bot.runtime.command_menus import refresh_command_menu
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import N_, Translator
from bot.runtime.render import esc, local_time, role_label
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.appraisal.groups import group_by_word
from db.models import Account, Department, EvaluatorGroup, Role, RoleGrant
from db.people.departments import department_by_code
from db.people.roles import (
    DEPARTMENT_ROLES,
    GROUP_ROLES,
    InviteProblem,
    active_roles,
    create_invite,
    invite_for_token,
    is_admin,
    leaves_no_admin,
    redeem_invite,
    revoke_invite,
    revoke_role,
)

START_WITH_TOKEN = filters.Regex(r"^/start(@\w+)?\s+\S+")
"""A deep link (`t.me/<bot>?start=TOKEN`) arrives as "/start TOKEN"; plain /start stays welcome."""

ROLE_WORDS: dict[str, Role] = {
    "liaison": Role.liaison,
    "联络员": Role.liaison,
    "leader": Role.leader,
    "负责人": Role.leader,
    "admin": Role.admin,
    "管理员": Role.admin,
    "evaluator": Role.evaluator,
    "评议代表": Role.evaluator,
}

PROBLEM_MESSAGES: dict[InviteProblem, str] = {
    InviteProblem.unknown: N_(
        "This invite link is not valid. Please check that you opened the whole link, or ask "
        "the campaign office for a new one."
    ),
    InviteProblem.expired: N_(
        "This invite link has expired. Please ask the campaign office for a new one."
    ),
    InviteProblem.used: N_(
        "This invite link has already been used; each link works only once. Please ask the "
        "campaign office for a new one."
    ),
    InviteProblem.revoked: N_(
        "This invite link was withdrawn by the campaign office. Please ask them for a new one."
    ),
}


def _invite_usage(_: Translator) -> str:
    roles = _(
        "Usage: /invite ROLE [DEPARTMENT_CODE]\n"
        "ROLE is liaison (联络员), leader (负责人) or admin (管理员); liaisons and leaders need "
        "the unit code, e.g. /invite liaison D011."
    )
    evaluators = _(
        "Evaluators (评议代表) need their group's code or name, e.g. /invite evaluator QY; "
        "/groups lists the groups."
    )
    return f"{roles}\n{evaluators}"


@turn_handler
async def invite(turn: Turn) -> None:
    """Make a single-use invite link for a role (admins only)."""
    _ = turn._
    settings = turn.services.settings
    if not await is_admin(turn.session, turn.account, settings.admin_ids):
        turn.say(
            _(
                "Sorry, only the campaign office (admins) can make invite links. If you should "
                "have a role, please ask them for an invite."
            )
        )
        return
    args = turn.context.args or []
    role = ROLE_WORDS.get(args[0].strip().lower()) if args else None
    if role is None:
        turn.say(_invite_usage(_))
        return
    department: Department | None = None
    group: EvaluatorGroup | None = None
    if role in GROUP_ROLES:
        group = await group_by_word(turn.session, " ".join(args[1:]))
        if group is None or not group.active:
            turn.say(
                _(
                    "Please name an active evaluator group by its code or name, e.g. "
                    "/invite evaluator QY. /groups lists them."
                )
            )
            return
    elif role in DEPARTMENT_ROLES:
        if len(args) < 2:
            turn.say(
                _(
                    "The role {role} belongs to a unit: please add its code, "
                    "e.g. /invite {word} D011."
                ).format(role=role_label(role, _), word=role.value)
            )
            return
        department = await department_by_code(turn.session, args[1].strip())
        if department is None or not department.active:
            turn.say(
                _("No active unit has the code {code}. Please check the code.").format(
                    code=esc(args[1].strip())
                )
            )
            return
    elif len(args) > 1:
        turn.say(_("An admin invite is for the whole campaign; please leave out the unit."))
        return
    created, token = await create_invite(
        turn.session,
        role=role,
        department_id=department.id if department else None,
        created_by=turn.account.id,
        now=turn.now,
        ttl=timedelta(days=settings.invites.ttl_days),
        group_id=group.id if group else None,
    )
    after = {"role": role.value, "department": department.code if department else None}
    if group is not None:
        after["group"] = group.code
    await audit(turn, "invite.create", f"invite:{created.id}", after=after)
    link = f"https://t.me/{turn.context.bot.username}?start={token}"
    expires = local_time(created.expires_at, settings.tz)
    if department is not None:
        summary = _("Invite for the role {role} of {department}.").format(
            role=role_label(role, _), department=esc(department.name)
        )
    elif group is not None:
        summary = _("Invite for an evaluator of the group {group}.").format(group=esc(group.name))
    else:
        summary = _("Invite for the role {role}.").format(role=role_label(role, _))
    turn.say(
        "\n".join(
            [
                summary,
                _("Send this link to the person; it works once, until {expires}:").format(
                    expires=expires
                ),
                esc(link),
            ]
        ),
        [[(_("Withdraw this link"), cb.INVITE_REVOKE.pack(created.id or 0))]],
    )


@turn_handler
async def withdraw_invite(turn: Turn) -> None:
    """The button under a new invite link: the link stops working at once."""
    if not await require_admin(turn):
        return
    fields = cb.INVITE_REVOKE.unpack(turn.callback_data)
    invite_id = cb.as_int(fields["invite"]) if fields else None
    turn.clear_keyboard = True
    if invite_id is not None and await revoke_invite(turn.session, invite_id, turn.now):
        await audit(turn, "invite.withdraw", f"invite:{invite_id}")
        turn.say(turn._("The invite link was withdrawn; it no longer works."))
    else:
        turn.say(turn._("That invite link was already used, withdrawn or never existed."))


@turn_handler
async def revoke(turn: Turn) -> None:
    """/revoke TELEGRAM_ID or /revoke DEPARTMENT_CODE: list active roles with revoke buttons."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) != 1:
        turn.say(
            _(
                "Usage: /revoke DEPARTMENT_CODE (e.g. /revoke D011) or /revoke TELEGRAM_ID: lists "
                "the roles with a button to end each."
            )
        )
        return
    statement = (
        select(RoleGrant, Account)
        .join(Account, col(Account.id) == col(RoleGrant.account_id))
        .where(col(RoleGrant.revoked_at).is_(None))
        .order_by(col(RoleGrant.id))
    )
    word = args[0].strip()
    if word.isascii() and word.isdigit():
        statement = statement.where(col(Account.telegram_id) == int(word))
    else:
        department = await department_by_code(turn.session, word)
        if department is None:
            turn.say(
                _("No active unit has the code {code}. Please check the code.").format(
                    code=esc(word)
                )
            )
            return
        statement = statement.where(col(RoleGrant.department_id) == department.id)
    rows = (await turn.session.exec(statement)).all()
    if not rows:
        turn.say(_("No active roles found for {who}.").format(who=esc(word)))
        return
    keyboard: Keyboard = []
    for grant, account in rows:
        label = _("End: {grant} (ID {id})").format(
            grant=await _grant_sentence(turn, grant), id=account.telegram_id
        )
        keyboard.append([(label[:60], cb.GRANT_REVOKE.pack(grant.id or 0))])
    turn.say(_("Active roles of {who}: press one to end it.").format(who=esc(word)), keyboard)


@turn_handler
async def end_grant(turn: Turn) -> None:
    """End one role grant; the person loses the role's rights at their next press."""
    if not await require_admin(turn):
        return
    fields = cb.GRANT_REVOKE.unpack(turn.callback_data)
    grant_id = cb.as_int(fields["grant"]) if fields else None
    grant = await turn.session.get(RoleGrant, grant_id) if grant_id else None
    turn.clear_keyboard = True
    if grant is not None and await leaves_no_admin(
        turn.session, grant, turn.services.settings.admin_ids
    ):
        turn.say(
            turn._(
                "This is the last admin: without one nobody could invite, triage or undo this. "
                "Invite another admin first (/invite admin). Nothing was changed."
            )
        )
        return
    if grant is None or not await revoke_role(turn.session, grant.id or 0, turn.now):
        turn.say(turn._("That role was already ended or never existed."))
        return
    holder = await turn.session.get(Account, grant.account_id)
    if holder is not None:
        await refresh_command_menu(turn, holder)
    await audit(
        turn,
        "role.revoke",
        f"account:{holder.telegram_id if holder else grant.account_id}",
        before={"role": grant.role.value, "department_id": grant.department_id},
    )
    turn.say(turn._("Ended: {grant}.").format(grant=await _grant_sentence(turn, grant)))


@turn_handler
async def accept_invite(turn: Turn) -> None:
    """Redeem the token of a deep link and say which role was granted."""
    _ = turn._
    args = turn.context.args or []
    assert turn.account.id is not None
    token = args[0] if args else ""
    invite = await invite_for_token(turn.session, token)
    result = await redeem_invite(turn.session, token, turn.account.id, turn.now)
    if isinstance(result, InviteProblem):
        turn.say(_(PROBLEM_MESSAGES[result]))
        return
    await refresh_command_menu(turn, turn.account)
    if invite is not None and invite.replaces_grant_id is not None:
        await _finish_handover(turn, invite.replaces_grant_id)
    turn.say(await _grant_sentence(turn, result, welcome=True))


async def _finish_handover(turn: Turn, old_grant_id: int) -> None:
    """The new liaison is in: record that the old grant ended with it and fix the old menu."""
    old = await turn.session.get(RoleGrant, old_grant_id)
    if old is None or old.revoked_at != turn.now:
        return  # ended earlier, by an admin or an earlier link: nothing happened now
    holder = await turn.session.get(Account, old.account_id)
    await audit(
        turn,
        "role.handover_complete",
        f"account:{holder.telegram_id if holder else old.account_id}",
        before={"role": old.role.value, "department_id": old.department_id},
        after={"successor": f"account:{turn.account.telegram_id}"},
    )
    if holder is not None:
        await refresh_command_menu(turn, holder)


async def _grant_sentence(turn: Turn, grant: RoleGrant, *, welcome: bool = False) -> str:
    _ = turn._
    label = role_label(grant.role, _)
    department = (
        await turn.session.get(Department, grant.department_id) if grant.department_id else None
    )
    group = await turn.session.get(EvaluatorGroup, grant.group_id) if grant.group_id else None
    if group is not None and welcome:
        return _(
            "Welcome! You are now an evaluator (评议代表) in the group {group}. When the campaign "
            "office opens a rating round for your group, the bot will ask you here; /rate_round "
            "shows the rounds open to you."
        ).format(group=esc(group.name))
    if group is not None:
        return _("{role} in the group {group}").format(role=label, group=esc(group.name))
    if welcome:
        if department is not None:
            return _("Welcome! You are now {role} of {department}.").format(
                role=label, department=esc(department.name)
            )
        return _("Welcome! You are now {role}.").format(role=label)
    if department is not None:
        return _("{role} of {department}").format(role=label, department=esc(department.name))
    return label


@turn_handler
async def whoami(turn: Turn) -> None:
    """Show the person's roles, including admin from the config file."""
    _ = turn._
    assert turn.account.id is not None
    lines: list[str] = []
    if turn.account.telegram_id in turn.services.settings.admin_ids:
        lines.append(_("{role} (from the configuration)").format(role=role_label(Role.admin, _)))
    for grant in await active_roles(turn.session, turn.account.id):
        lines.append(await _grant_sentence(turn, grant))
    if not lines:
        turn.say(_("You have no roles; you can file reports with /report."))
        return
    turn.say("\n".join([_("<b>Your roles</b>"), *(f"• {line}" for line in lines)]))


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("start", accept_invite, filters=PRIVATE & START_WITH_TOKEN),
        CommandHandler("invite", invite, filters=PRIVATE),
        CommandHandler("whoami", whoami, filters=PRIVATE),
        CommandHandler("revoke", revoke, filters=PRIVATE),
        CallbackQueryHandler(withdraw_invite, pattern=cb.INVITE_REVOKE.pattern),
        CallbackQueryHandler(end_grant, pattern=cb.GRANT_REVOKE.pattern),
    ]
