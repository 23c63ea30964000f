"""`/inspect`: the office records a 明察暗访 finding; it becomes an item of the unit's ledger.

```mermaid
stateDiagram-v2
    [*] --> UNIT: /inspect
    UNIT --> CATEGORY: type part of the name, choose
    CATEGORY --> DESCRIPTION
    DESCRIPTION --> EVIDENCE
    EVIDENCE --> DUE: no more files
    DUE --> CONFIRM
    CONFIRM --> [*]: submit / cancel
```

The draft (`duty_draft`, subject `inspection`) and the next step are saved together at every
step; /inspect again continues an unfinished one. On submit the item, its evidence and the audit
event are written in one transaction, and the unit's liaisons are told through the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from enum import IntEnum

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.runtime import callbacks as cb
from bot.runtime.admin import require_admin
from bot.runtime.conversation import END, MEDIA, NOT_TEXT, PRIVATE, TEXT, conversation
from bot.runtime.flow_state import leave_other_flows, remember
from bot.runtime.input import no_longer_valid, typed_text, unit_choices
from bot.runtime.render import esc
from bot.runtime.services import BotContext, Handler
from bot.runtime.turn import Keyboard, Turn, UpdateCallback, turn_handler
from db.calendar.date_input import DateProblem, parse_due_date
from db.cases.categories import active_categories, active_category, category_name
from db.files import remove_if_unreferenced
from db.ledger import drafts as ledger_drafts
from db.ledger.drafts import INSPECTION, InspectionDraft
from db.ledger.items import NewItem
from db.ledger.updates import record_finding
from db.models import Department, LedgerSource
from handlers.ledger.items import (
    add_evidence,
    date_problem,
    due_time,
    evidence_hint,
    item_label,
    local_today,
    new_item_framing,
    tell_unit,
)

CONVERSATION = "inspection"


class State(IntEnum):
    UNIT = 1
    CATEGORY = 2
    DESCRIPTION = 3
    EVIDENCE = 4
    DUE = 5
    CONFIRM = 6


def resume_state(draft: InspectionDraft) -> State:
    if draft.department_id is None:
        return State.UNIT
    if draft.category_id is None:
        return State.CATEGORY
    if not draft.description:
        return State.DESCRIPTION
    if not draft.files_done:
        return State.EVIDENCE
    if draft.due_on is None:
        return State.DUE
    return State.CONFIRM


def _files_keyboard(turn: Turn) -> Keyboard:
    return [[(turn._("No more files"), cb.INSPECT.pack("files", "-"))]]


async def ask(turn: Turn, draft: InspectionDraft) -> State:
    """Say the question the draft needs next and return its state."""
    _ = turn._
    state = resume_state(draft)
    duties = turn.services.settings.duties
    if state is State.UNIT:
        turn.say(_("Inspection: type part of the unit's name or its code. Or /cancel."))
    elif state is State.CATEGORY:
        categories = await active_categories(turn.session)
        rows: Keyboard = [
            [(category_name(c, turn.language), cb.INSPECT.pack("category", c.id or 0))]
            for c in categories
        ]
        turn.say(_("Which problem was found?"), rows)
    elif state is State.DESCRIPTION:
        turn.say(
            _("Describe the finding (1 to {max} characters). The unit will read it.").format(
                max=duties.max_text_chars
            )
        )
    elif state is State.EVIDENCE:
        turn.say(
            _("Send photos or files as evidence (at most {max}), or press “No more files”.").format(
                max=duties.max_files
            ),
            _files_keyboard(turn),
        )
    elif state is State.DUE:
        turn.say(_("By when must it be rectified? For example 2026-12-31 or 12月31日."))
    else:
        # Each summary gets a new revision: only the newest one's submit button matches it.
        draft.rev += 1
        turn.say(
            await _summary(turn, draft),
            [
                [
                    (_("Submit"), cb.INSPECT.pack("submit", draft.rev)),
                    (_("Cancel"), cb.INSPECT.pack("cancel", "-")),
                ]
            ],
        )
    return state


async def _summary(turn: Turn, draft: InspectionDraft) -> str:
    _ = turn._
    unit = await turn.session.get(Department, draft.department_id)
    category = await active_category(turn.session, draft.category_id or 0)
    return "\n".join(
        [
            _("<b>Inspection finding</b>, to record?"),
            _("Unit: {name}").format(name=esc(unit.name if unit else "—")),
            _("Category: {name}").format(
                name=esc(category_name(category, turn.language)) if category else "—"
            ),
            _("Finding: {text}").format(text=esc(draft.description or "")),
            _("Evidence: {count} files").format(count=len(draft.files)),
            _("Due: {date}").format(date=draft.due_on),
        ]
    )


async def _save(turn: Turn, draft: InspectionDraft, state: int) -> None:
    await ledger_drafts.save(turn.session, turn.account_id, INSPECTION, draft, turn.now)
    await remember(turn, CONVERSATION, state)


Step = Callable[[Turn, InspectionDraft], Awaitable[int]]


def step(fn: Step) -> UpdateCallback:
    """Check the role, load the draft, end politely when it is gone, save it after the step."""

    async def run(turn: Turn) -> object:
        if not await require_admin(turn):
            await remember(turn, CONVERSATION, END)
            return END
        data = await ledger_drafts.load(turn.session, turn.account_id, INSPECTION)
        if data is None:
            turn.clear_keyboard = turn.update.callback_query is not None
            turn.say(turn._("This inspection is no longer open. Send /inspect to start one."))
            await remember(turn, CONVERSATION, END)
            return END
        draft = ledger_drafts.inspection_from_json(data)
        state = await fn(turn, draft)
        if state != END:
            await _save(turn, draft, state)
        else:
            await remember(turn, CONVERSATION, END)
        return state

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return turn_handler(run)


@turn_handler
async def start(turn: Turn) -> int:
    """/inspect: a new finding, or the unfinished one."""
    if not await require_admin(turn):
        return END
    await leave_other_flows(turn, CONVERSATION)
    data = await ledger_drafts.load(turn.session, turn.account_id, INSPECTION)
    if data is not None:
        draft = ledger_drafts.inspection_from_json(data)
        turn.say(turn._("You have an unfinished inspection; let us continue."))
    else:
        draft = InspectionDraft()
    state = await ask(turn, draft)
    await _save(turn, draft, state)
    return state


@step
async def search_unit(turn: Turn, draft: InspectionDraft) -> int:
    rows = await unit_choices(turn, lambda d: cb.INSPECT.pack("unit", d.id or 0))
    if rows is None:
        return State.UNIT
    turn.say(turn._("Choose the unit, or type other characters to search again:"), rows)
    return State.UNIT


@step
async def button(turn: Turn, draft: InspectionDraft) -> int:
    """Every button of the flow; one that does not fit the current step is stale."""
    fields = cb.INSPECT.unpack(turn.callback_data)
    state = resume_state(draft)
    action = fields["action"] if fields else ""
    value = fields["value"] if fields else ""
    turn.clear_keyboard = True
    if action == "cancel":
        return await _cancel(turn)
    if action == "unit" and state is State.UNIT:
        unit = await turn.session.get(Department, cb.as_int(value) or 0)
        if unit is not None and unit.active:
            draft.department_id = unit.id
            return await ask(turn, draft)
    elif action == "category" and state is State.CATEGORY:
        category = await active_category(turn.session, cb.as_int(value) or 0)
        if category is not None:
            draft.category_id = category.id
            return await ask(turn, draft)
    elif action == "files" and state is State.EVIDENCE:
        draft.files_done = True
        return await ask(turn, draft)
    elif action == "submit" and state is State.CONFIRM and cb.as_int(value) == draft.rev:
        return await _submit(turn, draft)
    turn.toast = no_longer_valid(turn)
    return await ask(turn, draft)


@step
async def take_description(turn: Turn, draft: InspectionDraft) -> int:
    text = typed_text(turn, turn.services.settings.duties.max_text_chars)
    if text is None:
        return State.DESCRIPTION
    draft.description = text
    return await ask(turn, draft)


@step
async def take_file(turn: Turn, draft: InspectionDraft) -> int:
    full = turn._("This finding already has {max} files, the most it can carry.")
    await add_evidence(turn, draft.files, _files_keyboard(turn), full)
    return State.EVIDENCE


@step
async def take_due(turn: Turn, draft: InspectionDraft) -> int:
    day = parse_due_date(turn.text, local_today(turn))
    if isinstance(day, DateProblem):
        turn.say(date_problem(turn, day))
        return State.DUE
    draft.due_on = day.isoformat()
    return await ask(turn, draft)


@step
async def wrong_input(turn: Turn, draft: InspectionDraft) -> int:
    """Input of the wrong kind for the step: say what fits, ask again."""
    _ = turn._
    state = resume_state(draft)
    if state is State.EVIDENCE:
        turn.say(evidence_hint(turn))
    elif state in (State.CATEGORY, State.CONFIRM):
        turn.say(_("Please use the buttons."))
    else:
        turn.say(_("Please answer with text, or /cancel."))
    return await ask(turn, draft)


async def _submit(turn: Turn, draft: InspectionDraft) -> int:
    assert draft.department_id is not None and draft.description and draft.due_on
    day = date.fromisoformat(draft.due_on)
    if day < local_today(turn):
        draft.due_on = None
        turn.say(date_problem(turn, DateProblem.past))
        return await ask(turn, draft)
    item = await record_finding(
        turn.session,
        NewItem(
            department_id=draft.department_id,
            source=LedgerSource.inspection,
            description=draft.description,
            due_at=due_time(turn, day),
            category_id=draft.category_id,
        ),
        draft.files,
        actor_account_id=turn.account.id,
        now=turn.now,
    )
    # The files now belong to the item's first step: drop the draft row only.
    await ledger_drafts.discard(turn.session, turn.account_id, INSPECTION)
    assert item.id is not None
    unit = await turn.session.get(Department, item.department_id)
    turn.say(
        turn._("{item} was recorded in the ledger of {unit}.").format(
            item=item_label(turn._, item.id), unit=esc(unit.name if unit else "—")
        )
    )
    await tell_unit(turn, item, new_item_framing(item.id, item))
    return END


async def _cancel(turn: Turn) -> int:
    paths = await ledger_drafts.discard(turn.session, turn.account_id, INSPECTION)
    await remove_if_unreferenced(turn.session, turn.services.settings.attachments_dir, paths)
    turn.say(turn._("Cancelled. The inspection and its files were discarded."))
    return END


@turn_handler
async def cancel(turn: Turn) -> int:
    await _cancel(turn)
    await remember(turn, CONVERSATION, END)
    return END


def build_handler() -> ConversationHandler[BotContext]:
    def fallback() -> list[Handler]:
        return [
            CallbackQueryHandler(button, pattern=cb.INSPECT.pattern),
            MessageHandler(TEXT | MEDIA | NOT_TEXT, wrong_input),
        ]

    states: dict[object, list[Handler]] = {
        State.UNIT: [MessageHandler(TEXT, search_unit), *fallback()],
        State.CATEGORY: fallback(),
        State.DESCRIPTION: [MessageHandler(TEXT, take_description), *fallback()],
        State.EVIDENCE: [MessageHandler(MEDIA, take_file), *fallback()],
        State.DUE: [MessageHandler(TEXT, take_due), *fallback()],
        State.CONFIRM: fallback(),
    }
    return conversation(
        entry_points=[CommandHandler("inspect", start, filters=PRIVATE)],
        states=states,
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
