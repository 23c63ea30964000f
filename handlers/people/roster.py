"""People for admins: /people [CODE] (who holds which role where) and /handover CODE.

A department whose liaisons are all gone or unreachable gets nobody's reminders, so /people
flags it (⚠). A handover (交接) moves a department from one liaison to another in two presses:
the old grant, then the way in — a person already in the bot, or an invite link. With a link the
old grant ends when the link is redeemed (`db.people.roles.redeem_invite`), so the department is
never without a liaison meanwhile, unless the admin chooses to end it at once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.runtime import callbacks as cb
from bot.runtime.admin import audit, require_admin, unit_or_say
from bot.runtime.command_menus import refresh_command_menu
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import Translator
from bot.runtime.render import MESSAGE_MAX, cut, esc, local_time, role_label
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.models import Account, Department, Role, RoleGrant
from db.people.accounts import account_by_telegram_id
from db.people.roles import (
    Holder,
    all_holders,
    create_invite,
    department_holders,
    grant_role,
    revoke_role,
)

FLAGGED_SHOWN = 40
WARNING = "⚠"


def _person(account: Account, _: Translator) -> str:
    """Officials are named by Telegram id, as in /revoke and the audit trail."""
    line = _("ID {id}").format(id=account.telegram_id)
    return line if not account.unreachable else _("{person} (unreachable)").format(person=line)


def _reachable_liaison(holders: list[Holder]) -> bool:
    return any(h.grant.role is Role.liaison and not h.account.unreachable for h in holders)


async def _say_unit_people(turn: Turn, unit: Department) -> None:
    _ = turn._
    assert unit.id is not None
    holders = await department_holders(turn.session, unit.id)
    lines = [f"<b>{esc(unit.code)} {esc(unit.name)}</b>"]
    for role in (Role.liaison, Role.leader):
        people = [_person(h.account, _) for h in holders if h.grant.role is role]
        lines.append(f"{role_label(role, _)}: {', '.join(people) if people else '—'}")
    if not _reachable_liaison(holders):
        lines.append(
            _("{warning} No reachable liaison: reports and reminders reach nobody here.").format(
                warning=WARNING
            )
        )
    lines.append(
        _("Change: /invite liaison {code}, /handover {code}, /revoke {code}.").format(
            code=esc(unit.code)
        )
    )
    turn.say("\n".join(lines))


async def say_people(turn: Turn) -> None:
    """The campaign's admins, every department with role holders, and the flagged ones."""
    _ = turn._
    holders = await all_holders(turn.session)
    admins = [
        _("ID {id} (from the configuration)").format(id=i) for i in turn.services.settings.admin_ids
    ]
    admins += [_person(h.account, _) for h in holders if h.grant.role is Role.admin]
    lines = [_("<b>Admins</b>: {people}").format(people=", ".join(admins) or "—")]
    by_unit: dict[int, list[Holder]] = {}
    for holder in holders:
        if holder.grant.department_id is not None:
            by_unit.setdefault(holder.grant.department_id, []).append(holder)
    units = (
        await turn.session.exec(
            select(Department)
            .where(col(Department.active).is_(True))
            .order_by(col(Department.code))
        )
    ).all()
    flagged: list[str] = []
    lines.append(_("<b>Units with roles</b>"))
    for unit in units:
        present = by_unit.get(unit.id or 0, [])
        if not _reachable_liaison(present):
            flagged.append(unit.code)
        if not present:
            continue
        counts = ", ".join(
            f"{role_label(role, _)} {sum(1 for h in present if h.grant.role is role)}"
            for role in (Role.liaison, Role.leader)
        )
        mark = f" {WARNING}" if unit.code in flagged else ""
        lines.append(f"<code>{esc(unit.code)}</code> {esc(unit.name)}: {counts}{mark}")
    if flagged:
        shown = ", ".join(flagged[:FLAGGED_SHOWN]) + (" …" if len(flagged) > FLAGGED_SHOWN else "")
        lines.append(
            _("{warning} Active units without a reachable liaison ({count}): {codes}").format(
                warning=WARNING, count=len(flagged), codes=esc(shown)
            )
        )
    lines.append(_("One unit in detail: /people CODE."))
    turn.say(cut("\n".join(lines), MESSAGE_MAX))


@turn_handler
async def people(turn: Turn) -> None:
    """/people [CODE]: role holders of the campaign, or of one department."""
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if not args:
        await say_people(turn)
        return
    unit = await unit_or_say(turn, args[0])
    if unit is not None:
        await _say_unit_people(turn, unit)


@turn_handler
async def handover(turn: Turn) -> None:
    """/handover CODE [TELEGRAM_ID]: pick the liaison whose role ends."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) not in (1, 2) or (
        len(args) == 2 and not (args[1].isascii() and args[1].isdigit())
    ):
        turn.say(
            _(
                "Usage: /handover CODE [TELEGRAM_ID], e.g. /handover D011: hands the unit "
                "from one liaison to another person (by Telegram ID) or to an invite link."
            )
        )
        return
    unit = await unit_or_say(turn, args[0])
    if unit is None:
        return
    target = 0
    if len(args) == 2:
        account = await account_by_telegram_id(turn.session, int(args[1]))
        if account is None:
            turn.say(
                _(
                    "ID {id} has not opened the bot yet. Hand over with an invite link instead: "
                    "/handover {code}."
                ).format(id=esc(args[1]), code=esc(unit.code))
            )
            return
        target = account.id or 0
    assert unit.id is not None
    liaisons = [
        h for h in await department_holders(turn.session, unit.id) if h.grant.role is Role.liaison
    ]
    if not liaisons:
        turn.say(
            _("{unit} has no liaison to hand over. Invite one: /invite liaison {code}.").format(
                unit=esc(unit.name), code=esc(unit.code)
            )
        )
        return
    keyboard: Keyboard = [
        [
            (
                _("From {person}").format(person=_person(h.account, _)),
                cb.HANDOVER_FROM.pack(h.grant.id or 0, target),
            )
        ]
        for h in liaisons
    ]
    turn.say(_("Hand over {unit}: whose liaison role ends?").format(unit=esc(unit.name)), keyboard)


async def _live_liaison_grant(turn: Turn, grant_id: int | None) -> RoleGrant | None:
    """The grant a handover button names, if it is still an active liaison grant."""
    grant = await turn.session.get(RoleGrant, grant_id) if grant_id else None
    if grant is None or grant.revoked_at is not None or grant.role is not Role.liaison:
        turn.say(
            turn._("That liaison role was already ended or never existed. Nothing was changed.")
        )
        return None
    return grant


@turn_handler
async def handover_from(turn: Turn) -> None:
    """The old liaison was picked: offer the ways to put the new one in place."""
    _ = turn._
    if not await require_admin(turn):
        return
    fields = cb.HANDOVER_FROM.unpack(turn.callback_data)
    turn.clear_keyboard = True
    old = await _live_liaison_grant(turn, cb.as_int(fields["grant"]) if fields else None)
    if old is None or fields is None or old.department_id is None:
        return
    holders = await department_holders(turn.session, old.department_id)
    target = cb.as_int(fields["target"]) or 0
    keyboard: Keyboard = []
    named = await turn.session.get(Account, target) if target else None
    if named is not None and named.id != old.account_id:
        keyboard.append(
            [
                (
                    _("To {person}, now").format(person=_person(named, _)),
                    cb.HANDOVER_TO.pack(old.id or 0, "a", named.id or 0),
                )
            ]
        )
    for h in holders:
        if h.grant.role is Role.liaison and h.account.id not in (old.account_id, target):
            keyboard.append(
                [
                    (
                        _("Leave it to {person}, now").format(person=_person(h.account, _)),
                        cb.HANDOVER_TO.pack(old.id or 0, "a", h.account.id or 0),
                    )
                ]
            )
    keyboard.append(
        [
            (
                _("Invite link; old role ends when it is used"),
                cb.HANDOVER_TO.pack(old.id or 0, "i", 0),
            )
        ]
    )
    keyboard.append(
        [(_("Invite link; old role ends now"), cb.HANDOVER_TO.pack(old.id or 0, "x", 0))]
    )
    holder = next((h.account for h in holders if h.grant.id == old.id), None)
    person = _person(holder, _) if holder else "—"
    turn.say(_("Who takes over from {person}?").format(person=person), keyboard)


async def _end_old(turn: Turn, old: RoleGrant, successor: str) -> None:
    """End the old grant, record the handover, and give the old holder the menu left to them."""
    await revoke_role(turn.session, old.id or 0, turn.now)
    holder = await turn.session.get(Account, old.account_id)
    await audit(
        turn,
        "role.handover",
        f"account:{holder.telegram_id if holder else old.account_id}",
        before={"role": old.role.value, "department_id": old.department_id},
        after={"successor": successor},
    )
    if holder is not None:
        await refresh_command_menu(turn, holder)


@turn_handler
async def handover_to(turn: Turn) -> None:
    """Put the new liaison in place (or make their link) and end the old grant as chosen."""
    _ = turn._
    if not await require_admin(turn):
        return
    fields = cb.HANDOVER_TO.unpack(turn.callback_data)
    turn.clear_keyboard = True
    old = await _live_liaison_grant(turn, cb.as_int(fields["grant"]) if fields else None)
    if old is None or fields is None or old.department_id is None:
        return
    unit = await turn.session.get(Department, old.department_id)
    assert unit is not None
    how = fields["how"]
    if how == "a":
        successor = await turn.session.get(Account, cb.as_int(fields["target"]) or 0)
        if successor is None or successor.id == old.account_id:
            turn.say(_("This button is no longer valid. Nothing was changed."))
            return
        assert successor.id is not None
        await grant_role(turn.session, successor.id, Role.liaison, unit.id, turn.now)
        await _end_old(turn, old, f"account:{successor.telegram_id}")
        await refresh_command_menu(turn, successor)
        turn.say(
            _("{unit} is handed over: {person} is its liaison now.").format(
                unit=esc(unit.name), person=_person(successor, _)
            )
        )
        return
    if how not in ("i", "x"):
        turn.say(_("This button is no longer valid. Nothing was changed."))
        return
    settings = turn.services.settings
    invite, token = await create_invite(
        turn.session,
        role=Role.liaison,
        department_id=unit.id,
        created_by=turn.account.id,
        now=turn.now,
        ttl=timedelta(days=settings.invites.ttl_days),
        replaces_grant_id=old.id if how == "i" else None,
    )
    await audit(
        turn,
        "invite.create",
        f"invite:{invite.id}",
        after={
            "role": Role.liaison.value,
            "department": unit.code,
            "replaces_grant": old.id if how == "i" else None,
        },
    )
    if how == "x":
        await _end_old(turn, old, f"invite:{invite.id}")
        ends = _("The old liaison's role has ended.")
    else:
        ends = _("The old liaison keeps the role until the link is used.")
    link = f"https://t.me/{turn.context.bot.username}?start={token}"
    turn.say(
        "\n".join(
            [
                _(
                    "Handover of {unit}: send this link to the new liaison; it works once, "
                    "until {expires}:"
                ).format(unit=esc(unit.name), expires=local_time(invite.expires_at, settings.tz)),
                esc(link),
                ends,
            ]
        ),
        [[(_("Withdraw this link"), cb.INVITE_REVOKE.pack(invite.id or 0))]],
    )


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("people", people, filters=PRIVATE),
        CommandHandler("handover", handover, filters=PRIVATE),
        CallbackQueryHandler(handover_from, pattern=cb.HANDOVER_FROM.pattern),
        CallbackQueryHandler(handover_to, pattern=cb.HANDOVER_TO.pattern),
    ]
