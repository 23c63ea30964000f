"""A liaison updates a ledger item: progress or 已整改 (done), with a note and evidence.

```mermaid
stateDiagram-v2
    [*] --> NOTE: progress / done button
    NOTE --> EVIDENCE
    EVIDENCE --> CONFIRM: no more files
    CONFIRM --> [*]: submit / cancel
```

The draft (`duty_draft`, subject `item:<id>`) and the next step are written in the same
transaction at every step, so a restart loses neither the note nor the files. The button's
version is checked when pressed; at submit the item must still be open (another liaison of the
unit may have marked it done meanwhile), and a refused note is shown back so nothing typed is lost.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import IntEnum

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.runtime import callbacks as cb
from bot.runtime.conversation import END, MEDIA, NOT_TEXT, TEXT, conversation
from bot.runtime.duty_labels import LEDGER_STATE_LABELS
from bot.runtime.flow_state import chat_key, leave_other_flows, remember, set_target
from bot.runtime.i18n import Translator
from bot.runtime.input import no_longer_valid, typed_text
from bot.runtime.render import esc
from bot.runtime.services import BotContext, Handler
from bot.runtime.turn import Keyboard, Turn, UpdateCallback, turn_handler
from db.conversations import load_states
from db.files import remove_if_unreferenced
from db.ledger import drafts as ledger_drafts
from db.ledger.drafts import UpdateDraft, item_subject
from db.ledger.rules import LedgerAction, LedgerProblem
from db.ledger.updates import record_step
from db.models import Department, LedgerState, LedgerUpdate, RectificationItem
from handlers.ledger.items import (
    add_evidence,
    evidence_hint,
    item_card,
    item_label,
    no_such_item,
    notify_office,
    office_buttons,
    standing,
)

CONVERSATION = "ledger_update"
TARGETS = "ledger_update.target"
"""Conversation-state rows holding the item a liaison is writing an update for."""
ENTRY = re.compile(rf"^{cb.LEDGER_ITEM.prefix}:(progress|done):\d{{1,12}}:\d{{1,12}}$")


class State(IntEnum):
    NOTE = 1
    EVIDENCE = 2
    CONFIRM = 3


async def _set_target(turn: Turn, item_id: int | None) -> None:
    await set_target(turn, TARGETS, item_id)


async def _load(turn: Turn) -> UpdateDraft | None:
    stored = (await load_states(turn.session, TARGETS)).get(chat_key(turn))
    if not isinstance(stored, int):
        return None
    data = await ledger_drafts.load(turn.session, turn.account_id, item_subject(stored))
    return ledger_drafts.update_from_json(data) if data is not None else None


async def _save(turn: Turn, draft: UpdateDraft) -> None:
    subject = item_subject(draft.item_id)
    await ledger_drafts.save(turn.session, turn.account_id, subject, draft, turn.now)


async def _discard(turn: Turn, item_id: int) -> None:
    paths = await ledger_drafts.discard(turn.session, turn.account_id, item_subject(item_id))
    await remove_if_unreferenced(turn.session, turn.services.settings.attachments_dir, paths)


# --- questions -----------------------------------------------------------------------------


def _files_keyboard(_: Translator, draft: UpdateDraft) -> Keyboard:
    return [[(_("No more files"), cb.LEDGER_STEP.pack("files", draft.item_id))]]


def _confirm_keyboard(_: Translator, draft: UpdateDraft) -> Keyboard:
    return [
        [
            (_("Submit"), cb.LEDGER_STEP.pack("submit", draft.item_id)),
            (_("Cancel"), cb.LEDGER_STEP.pack("cancel", draft.item_id)),
        ]
    ]


def ask(turn: Turn, draft: UpdateDraft) -> State:
    """Say the question the draft needs next and return its state."""
    _ = turn._
    label = item_label(_, draft.item_id)
    maximum = turn.services.settings.duties.max_text_chars
    if not draft.note:
        if draft.action == LedgerAction.done:
            prompt = _(
                "{item}: type what was rectified and how (1 to {max} characters). Or /cancel."
            )
        else:
            prompt = _("{item}: type the progress made (1 to {max} characters). Or /cancel.")
        turn.say(prompt.format(item=label, max=maximum))
        return State.NOTE
    if not draft.files_done:
        turn.say(
            _(
                "{item}: send photos or files (PDF, Word, Excel) as evidence, at most {max}; "
                "or press “No more files”."
            ).format(item=label, max=turn.services.settings.duties.max_files),
            _files_keyboard(_, draft),
        )
        return State.EVIDENCE
    if draft.action == LedgerAction.done:
        head = _("{item}: mark as rectified?").format(item=label)
    else:
        head = _("{item}: record this progress?").format(item=label)
    lines = [
        head,
        _("Note: {text}").format(text=esc(draft.note)),
        _("Evidence: {count} files").format(count=len(draft.files)),
    ]
    turn.say("\n".join(lines), _confirm_keyboard(_, draft))
    return State.CONFIRM


Step = Callable[[Turn, UpdateDraft], Awaitable[int]]


def step(fn: Step) -> UpdateCallback:
    """Load the draft of the item being updated, end politely when it is gone, save after."""

    async def run(turn: Turn) -> object:
        draft = await _load(turn)
        if draft is None:
            turn.clear_keyboard = turn.update.callback_query is not None
            turn.say(turn._("That update is no longer open. Nothing was changed."))
            await remember(turn, CONVERSATION, END)
            return END
        state = await fn(turn, draft)
        if state != END:
            await _save(turn, draft)
        await remember(turn, CONVERSATION, state)
        return state

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return turn_handler(run)


# --- steps ---------------------------------------------------------------------------------


@turn_handler
async def start_update(turn: Turn) -> int:
    """Progress or done pressed: check the item, the unit and the version, then ask the note."""
    fields = cb.LEDGER_ITEM.unpack(turn.callback_data)
    item_id = cb.as_int(fields["item"]) if fields else None
    version = cb.as_int(fields["version"]) if fields else None
    item = await turn.session.get(RectificationItem, item_id) if item_id else None
    seen_by = await standing(turn)
    if fields is None or item is None or item.id is None or not seen_by.keeps(item):
        turn.toast = no_such_item(turn, f"#{item_id or '?'}")
        turn.clear_keyboard = True
        return END
    if item.state is not LedgerState.open:
        message = turn._("{item} is not open (now: {state}). Nothing was changed.").format(
            item=item_label(turn._, item.id), state=turn._(LEDGER_STATE_LABELS[item.state])
        )
        turn.toast, turn.clear_keyboard = message, True
        turn.say(message)
        return END
    if version != item.version:
        turn.toast, turn.clear_keyboard = no_longer_valid(turn), True
        turn.say(
            turn._("{item} changed since. Here it is now:").format(item=item_label(turn._, item.id))
        )
        turn.say(await item_card(turn, item))
        return END
    await leave_other_flows(turn, CONVERSATION)
    action = fields["action"]
    data = await ledger_drafts.load(turn.session, turn.account_id, item_subject(item.id))
    draft = ledger_drafts.update_from_json(data) if data is not None else None
    if draft is not None and draft.action == action:
        turn.say(turn._("You have an unfinished update of this item; let us continue."))
    else:
        if draft is not None:
            await _discard(turn, item.id)
        draft = UpdateDraft(item_id=item.id, action=action, version=item.version)
    await _save(turn, draft)
    await _set_target(turn, item.id)
    turn.clear_keyboard = True
    state = ask(turn, draft)
    await remember(turn, CONVERSATION, state)
    return state


@step
async def take_note(turn: Turn, draft: UpdateDraft) -> int:
    """The note: required, at most `[duties] max_text_chars`."""
    note = typed_text(turn, turn.services.settings.duties.max_text_chars)
    if note is None:
        return State.NOTE
    draft.note = note
    return ask(turn, draft)


@step
async def take_file(turn: Turn, draft: UpdateDraft) -> int:
    """One photo or file of evidence, checked like report evidence and kept by SHA-256."""
    _ = turn._
    full = _("This update already has {max} files, the most it can carry.")
    await add_evidence(turn, draft.files, _files_keyboard(_, draft), full)
    return State.EVIDENCE


@step
async def wrong_input(turn: Turn, draft: UpdateDraft) -> int:
    """Input of the wrong kind for the step: say what fits, ask again."""
    _ = turn._
    if turn.update.callback_query is not None:
        turn.toast = no_longer_valid(turn)
    elif draft.note and not draft.files_done:
        turn.say(evidence_hint(turn))
    elif draft.note:
        turn.say(_("Please use the buttons."))
    else:
        turn.say(_("Please answer with text, or /cancel."))
    return ask(turn, draft)


@step
async def step_button(turn: Turn, draft: UpdateDraft) -> int:
    """No more files, submit or cancel; a button of another item's draft is stale."""
    fields = cb.LEDGER_STEP.unpack(turn.callback_data)
    if fields is None or cb.as_int(fields["item"]) != draft.item_id:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return ask(turn, draft)
    turn.clear_keyboard = True
    action = fields["action"]
    if action == "cancel":
        return await _cancel(turn, draft)
    if action == "files" and draft.note:
        draft.files_done = True
        return ask(turn, draft)
    if action == "submit" and draft.note and draft.files_done:
        return await _submit(turn, draft)
    turn.toast = no_longer_valid(turn)
    return ask(turn, draft)


async def _cancel(turn: Turn, draft: UpdateDraft) -> int:
    await _discard(turn, draft.item_id)
    await _set_target(turn, None)
    turn.say(turn._("Cancelled. Nothing was changed; the files sent were discarded."))
    return END


async def _submit(turn: Turn, draft: UpdateDraft) -> int:
    """Apply the step with its files in one transaction; done tells the office."""
    _ = turn._
    seen_by = await standing(turn)
    action = LedgerAction(draft.action)
    outcome = await record_step(
        turn.session,
        draft.item_id,
        action,
        draft.note,
        draft.files,
        actor_account_id=turn.account.id,
        now=turn.now,
        department_ids=sorted(seen_by.liaison_of),
    )
    label = item_label(_, draft.item_id)
    if not isinstance(outcome, LedgerUpdate):
        if outcome is LedgerProblem.not_open:
            reason = _("{item} is no longer open: another liaison may have marked it.")
        else:
            reason = _("You may no longer update {item}.")
        turn.say(
            "\n".join(
                [
                    reason.format(item=label),
                    _("Nothing was saved. Your note, to keep: {note}").format(
                        note=esc(draft.note or "")
                    ),
                ]
            )
        )
        await _discard(turn, draft.item_id)
        await _set_target(turn, None)
        return END
    # The files now belong to the update: drop the draft row only, never the files.
    await ledger_drafts.discard(turn.session, turn.account_id, item_subject(draft.item_id))
    await _set_target(turn, None)
    if action is LedgerAction.progress:
        turn.say(_("Progress on {item} was recorded.").format(item=label))
        return END
    turn.say(
        _("{item} is marked rectified. The campaign office will confirm it.").format(item=label)
    )
    await _tell_office(turn, draft.item_id)
    return END


async def _tell_office(turn: Turn, item_id: int) -> None:
    item = await turn.session.get(RectificationItem, item_id)
    assert item is not None
    unit = await turn.session.get(Department, item.department_id)

    def framing(_: Translator) -> tuple[str, Keyboard]:
        text = _("{unit} reports {item} as rectified:").format(
            unit=esc(unit.name if unit else "—"), item=item_label(_, item_id)
        )
        return text, office_buttons(_, item)

    await notify_office(turn, item, framing)


@turn_handler
async def cancel(turn: Turn) -> int:
    """/cancel: drop the draft and its files."""
    draft = await _load(turn)
    if draft is not None:
        await _discard(turn, draft.item_id)
    await _set_target(turn, None)
    await remember(turn, CONVERSATION, END)
    turn.say(turn._("Cancelled. Nothing was changed; the files sent were discarded."))
    return END


def build_handler() -> ConversationHandler[BotContext]:
    def fallback() -> list[Handler]:
        return [
            MessageHandler(TEXT | MEDIA | NOT_TEXT, wrong_input),
            CallbackQueryHandler(wrong_input, pattern=cb.LEDGER_STEP.pattern),
        ]

    states: dict[object, list[Handler]] = {
        State.NOTE: [MessageHandler(TEXT, take_note), *fallback()],
        State.EVIDENCE: [
            MessageHandler(MEDIA, take_file),
            CallbackQueryHandler(step_button, pattern=cb.LEDGER_STEP.pattern),
            *fallback(),
        ],
        State.CONFIRM: [
            CallbackQueryHandler(step_button, pattern=cb.LEDGER_STEP.pattern),
            *fallback(),
        ],
    }
    return conversation(
        entry_points=[CallbackQueryHandler(start_update, pattern=ENTRY)],
        states=states,
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
