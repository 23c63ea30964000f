"""The office confirms a rectified ledger item, or reopens it with a reason.

Confirm applies at the press; reopen asks for the reason as text first (the unit must learn what
is still missing). Both check the admin role, the item and the button's version again, are
audited in the same transaction, and tell the unit's liaisons.
"""

from __future__ import annotations

import re
from enum import IntEnum

from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler

from bot.runtime import callbacks as cb
from bot.runtime.admin import require_admin
from bot.runtime.conversation import END, TEXT, conversation, stay_in
from bot.runtime.duty_labels import LEDGER_STATE_LABELS
from bot.runtime.flow_state import chat_key, leave_other_flows, remember, set_target, target_value
from bot.runtime.i18n import Translator
from bot.runtime.input import no_longer_valid, typed_text
from bot.runtime.render import esc
from bot.runtime.services import BotContext
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.conversations import store_state
from db.ledger.items import ItemAccess
from db.ledger.rules import LedgerAction, LedgerProblem
from db.ledger.updates import record_step
from db.models import LedgerState, LedgerUpdate, RectificationItem
from handlers.ledger.items import (
    item_label,
    liaison_buttons,
    notify_unit,
    tell_unit,
)

CONVERSATION = "ledger_review"
TARGETS = "ledger_review.target"
"""Conversation-state rows holding the item an admin types a reason for, with its version when
reopen was pressed: a change before the reason arrives makes the reason stale, not misplaced."""
ENTRY = re.compile(rf"^{cb.LEDGER_ITEM.prefix}:(confirm|reopen):\d{{1,12}}:\d{{1,12}}$")


class State(IntEnum):
    REASON = 1


def _refusal(turn: Turn, item: RectificationItem, problem: LedgerProblem | ItemAccess) -> str:
    _ = turn._
    label = item_label(_, item.id or 0)
    if problem is LedgerProblem.stale:
        return _(
            "{item} changed since that button was sent. Nothing was changed; /ledger {id} "
            "shows it now."
        ).format(item=label, id=item.id)
    return _("{item} cannot be changed that way now (now: {state}). Nothing was changed.").format(
        item=label, state=_(LEDGER_STATE_LABELS[item.state])
    )


@turn_handler
async def press(turn: Turn) -> int:
    """Confirm at once; reopen asks for the reason."""
    await set_target(turn, TARGETS, None)
    if not await require_admin(turn):
        return END
    fields = cb.LEDGER_ITEM.unpack(turn.callback_data)
    item_id = cb.as_int(fields["item"]) if fields else None
    version = cb.as_int(fields["version"]) if fields else None
    item = await turn.session.get(RectificationItem, item_id) if item_id else None
    if fields is None or item is None or item.id is None:
        turn.toast, turn.clear_keyboard = no_longer_valid(turn), True
        return END
    label = item_label(turn._, item.id)
    if version != item.version:
        message = _refusal(turn, item, LedgerProblem.stale)
        turn.toast, turn.clear_keyboard = message, True
        turn.say(message)
        return END
    if fields["action"] == LedgerAction.reopen:
        if item.state is LedgerState.open:
            message = _refusal(turn, item, LedgerProblem.still_open)
            turn.toast, turn.clear_keyboard = message, True
            turn.say(message)
            return END
        await leave_other_flows(turn, CONVERSATION)
        await store_state(
            turn.session, TARGETS, chat_key(turn), {"item": item.id, "version": version}
        )
        turn.clear_keyboard = True
        maximum = turn.services.settings.duties.max_text_chars
        turn.say(
            turn._(
                "{item}: type why it is reopened, what is still missing (1 to {max} "
                "characters). The unit's liaisons will read it. Or /cancel."
            ).format(item=label, max=maximum)
        )
        await remember(turn, CONVERSATION, State.REASON)
        return State.REASON
    outcome = await record_step(
        turn.session,
        item.id,
        LedgerAction.confirm,
        None,
        actor_account_id=turn.account.id,
        now=turn.now,
        department_ids=None,
        version=version,
    )
    turn.clear_keyboard = True
    if not isinstance(outcome, LedgerUpdate):
        turn.say(_refusal(turn, item, outcome))
        return END
    turn.say(turn._("{item} is confirmed as rectified.").format(item=label))
    item_number = item.id

    def framing(_: Translator) -> tuple[str, Keyboard | None]:
        return _("The campaign office confirmed {item} as rectified.").format(
            item=item_label(_, item_number)
        ), None

    await notify_unit(turn, item, framing)
    return END


@turn_handler
async def take_reason(turn: Turn) -> int:
    """Reopen with the typed reason; the unit's liaisons get it with the update buttons."""
    stored = await target_value(turn.session, TARGETS, chat_key(turn))
    item_id, version = stored.get("item"), stored.get("version")
    item = await turn.session.get(RectificationItem, item_id) if isinstance(item_id, int) else None
    if item is None or item.id is None:
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        await remember(turn, CONVERSATION, END)
        return END
    if not await require_admin(turn):
        await _forget(turn)
        return END
    reason = typed_text(turn, turn.services.settings.duties.max_text_chars)
    if reason is None:
        return State.REASON
    outcome = await record_step(
        turn.session,
        item.id,
        LedgerAction.reopen,
        reason,
        actor_account_id=turn.account.id,
        now=turn.now,
        department_ids=None,
        version=version if isinstance(version, int) else -1,
    )
    await _forget(turn)
    if not isinstance(outcome, LedgerUpdate):
        turn.say(_refusal(turn, item, outcome))
        return END
    item_number = item.id
    turn.say(
        turn._("{item} is reopened; the unit's liaisons are told why.").format(
            item=item_label(turn._, item_number)
        )
    )

    def framing(_: Translator) -> tuple[str, Keyboard | None]:
        text = _("The campaign office reopened {item}. Reason: {reason}").format(
            item=item_label(_, item_number), reason=esc(reason)
        )
        return text, liaison_buttons(_, item)

    await tell_unit(turn, item, framing)
    return END


async def _forget(turn: Turn) -> None:
    await set_target(turn, TARGETS, None)
    await remember(turn, CONVERSATION, END)


@turn_handler
async def cancel(turn: Turn) -> int:
    await _forget(turn)
    turn.say(turn._("Cancelled. Nothing was changed."))
    return END


def build_handler() -> ConversationHandler[BotContext]:
    return conversation(
        entry_points=[CallbackQueryHandler(press, pattern=ENTRY)],
        states={State.REASON: [MessageHandler(TEXT, take_reason), stay_in(State.REASON)]},
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
