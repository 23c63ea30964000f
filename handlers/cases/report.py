"""The report flow: category → unit → what happened → when/where → evidence → identity → confirm.

```mermaid
stateDiagram-v2
    [*] --> CATEGORY: /report
    CATEGORY --> DEPARTMENT
    DEPARTMENT --> DESCRIPTION
    DESCRIPTION --> TIME_PLACE
    TIME_PLACE --> EVIDENCE
    EVIDENCE --> IDENTITY
    IDENTITY --> REAL_NAME: real name
    REAL_NAME --> PHONE
    PHONE --> SUMMARY
    IDENTITY --> SUMMARY: anonymous
    SUMMARY --> EDIT: edit
    EDIT --> CATEGORY
    SUMMARY --> [*]: submit / cancel
```

Every answer is written to the draft before the reply goes out. The conversation state only says
which question comes next; a step whose draft is gone (submitted, cancelled, timed out) says so
and ends, which is how the idle timeout holds across restarts.
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
from bot.runtime.conversation import END, MEDIA, NOT_TEXT_OR_FILE, PRIVATE, TEXT, conversation
from bot.runtime.flow_state import leave_other_flows, remember
from bot.runtime.i18n import N_
from bot.runtime.render import button_label, esc, identity_label, local_time
from bot.runtime.services import BotContext, Handler
from bot.runtime.turn import Keyboard, Outgoing, Turn, UpdateCallback, turn_handler
from bot.runtime.uploads import incoming_file, receive
from db.cases.categories import active_categories, active_category, category_name
from db.cases.drafts import Draft, delete_draft, load_draft, save_draft
from db.cases.reports import file_report
from db.delivery.outbox import ack_key
from db.files import remove_if_unreferenced
from db.models import Department, IdentityMode
from db.people.departments import search_departments
from db.ratings.service import reportable_rating
from db.validation import TextProblem, check_length, clean_text, parse_phone
from handlers.ratings.rate import CONVERSATION as SERVICE_RATING


class State(IntEnum):
    CATEGORY = 1
    DEPARTMENT = 2
    DESCRIPTION = 3
    TIME_PLACE = 4
    EVIDENCE = 5
    IDENTITY = 6
    REAL_NAME = 7
    PHONE = 8
    SUMMARY = 9
    EDIT = 10


CONVERSATION = "report"

EDITABLE: dict[str, tuple[State, str]] = {
    "category": (State.CATEGORY, N_("Category")),
    "department": (State.DEPARTMENT, N_("Unit")),
    "description": (State.DESCRIPTION, N_("What happened")),
    "time_place": (State.TIME_PLACE, N_("When and where")),
    "evidence": (State.EVIDENCE, N_("Evidence")),
    "identity": (State.IDENTITY, N_("Identity")),
}


# --- what comes next ---------------------------------------------------------------------------


def resume_state(draft: Draft) -> State:
    """The first question the draft has no answer to; the summary when it is complete."""
    if draft.category_id is None:
        return State.CATEGORY
    if draft.department_id is None and not draft.department_unsure:
        return State.DEPARTMENT
    if not draft.description:
        return State.DESCRIPTION
    if draft.time_place is None and not draft.time_place_skipped:
        return State.TIME_PLACE
    if not draft.evidence_done:
        return State.EVIDENCE
    if draft.identity_mode is None:
        return State.IDENTITY
    if draft.identity_mode is IdentityMode.real_name:
        if not draft.reporter_name:
            return State.REAL_NAME
        if not draft.reporter_phone:
            return State.PHONE
    return State.SUMMARY


async def ask(turn: Turn, draft: Draft, state: State, intro: str | None = None) -> State:
    """Say the question of `state` with its buttons and return it as the next state; an
    `intro` (a flow's opening words) comes first, in the question's own message."""
    _ = turn._
    settings = turn.services.settings.report

    def say(text: str, keyboard: Keyboard | None = None) -> None:
        turn.say(f"{intro}\n\n{text}" if intro else text, keyboard)

    if state is State.CATEGORY:
        categories = await active_categories(turn.session)
        buttons = [
            (category_name(c, turn.language), cb.CATEGORY.pack(c.id or 0)) for c in categories
        ]
        say(
            _("<b>Step 1 of 6.</b> What kind of problem do you want to report? Choose one:"),
            [buttons[i : i + 2] for i in range(0, len(buttons), 2)],
        )
    elif state is State.DEPARTMENT:
        say(
            _(
                "<b>Step 2 of 6.</b> Which unit, service window or project is it about? "
                "Type a few characters of its name (for example 公安 or 服务中心), "
                "or press “Not sure”."
            ),
            [[(_("Not sure"), cb.DEPARTMENT.pack("unsure"))]],
        )
    elif state is State.DESCRIPTION:
        say(
            _(
                "<b>Step 3 of 6.</b> Describe what happened: who did what, and what you asked "
                "for or were refused. Between {min} and {max} characters."
            ).format(min=settings.description_min_chars, max=settings.description_max_chars)
        )
    elif state is State.TIME_PLACE:
        say(
            _(
                "<b>Step 4 of 6 (optional).</b> When and where did it happen? For example "
                "“3月5日上午，区行政服务中心3号窗口”. Or press “Skip”."
            ),
            [[(_("Skip"), cb.TIME_PLACE.pack("skip"))]],
        )
    elif state is State.EVIDENCE:
        say(
            _(
                "<b>Step 5 of 6 (optional).</b> Send up to {max} photos or files as evidence "
                "(photo, PDF, Word, Excel or text; at most {mb} MB each). "
                "Press “Done” when you have sent them all, or if you have none."
            ).format(max=settings.max_attachments, mb=settings.max_attachment_bytes // 2**20),
            _evidence_keyboard(turn, draft),
        )
    elif state is State.IDENTITY:
        say(
            _(
                "<b>Step 6 of 6.</b> How do you want to report?\n"
                "• <b>Real name</b>: your name and phone number are given to the handling "
                "unit so it can contact you.\n"
                "• <b>Anonymous</b>: we tell you here how the report progresses, but no "
                "unit ever learns who you are.\n"
                "• <b>Fully anonymous</b>: nothing links the report to your account. You get a "
                "receipt code, and only that code leads back to the report."
            ),
            [
                [(_("Real name"), cb.IDENTITY.pack(IdentityMode.real_name.value))],
                [(_("Anonymous"), cb.IDENTITY.pack(IdentityMode.anonymous.value))],
                [(_("Fully anonymous"), cb.IDENTITY.pack(IdentityMode.fully_anonymous.value))],
            ],
        )
    elif state is State.REAL_NAME:
        say(_("Please type your name."))
    elif state is State.PHONE:
        say(_("Please type a phone number where the unit can reach you (mobile or landline)."))
    elif state is State.SUMMARY:
        # Save first: the confirm button carries the revision the saved draft will have.
        await save_draft(turn.session, turn.account_id, draft, turn.now)
        say(await summary_text(turn, draft), summary_keyboard(turn, draft))
    elif state is State.EDIT:
        rows: Keyboard = [
            [(_(label), cb.EDIT.pack(key))] for key, (_state, label) in EDITABLE.items()
        ]
        rows.append([(_("Back to the summary"), cb.EDIT.pack("back"))])
        say(_("What do you want to change?"), rows)
    return state


def summary_keyboard(turn: Turn, draft: Draft) -> Keyboard:
    _ = turn._
    mark = (
        _("Remove the mark: concerns the unit's leadership")
        if draft.leader_involved
        else _("Mark: concerns the unit's leadership")
    )
    return [
        [(_("Submit"), cb.SUMMARY.pack("confirm", draft.rev))],
        [(mark, cb.SUMMARY.pack("leader", draft.rev))],
        [
            (_("Edit"), cb.SUMMARY.pack("edit", draft.rev)),
            (_("Cancel"), cb.SUMMARY.pack("cancel", draft.rev)),
        ],
    ]


async def summary_text(turn: Turn, draft: Draft) -> str:
    _ = turn._
    category = await active_category(turn.session, draft.category_id) if draft.category_id else None
    department = (
        await turn.session.get(Department, draft.department_id) if draft.department_id else None
    )
    if department is not None:
        unit = esc(department.name)
    elif draft.department_text:
        unit = _("Not sure (you typed: {text})").format(text=esc(draft.department_text))
    else:
        unit = _("Not sure")
    identity = identity_label(draft.identity_mode, _) if draft.identity_mode else ""
    if draft.identity_mode is IdentityMode.real_name:
        identity = _("{identity} — {name}, {phone}").format(
            identity=identity, name=esc(draft.reporter_name), phone=esc(draft.reporter_phone)
        )
    lines = [
        _("<b>Please check your report</b>"),
        _("Category: {value}").format(
            value=esc(category_name(category, turn.language)) if category else "—"
        ),
        _("Unit: {value}").format(value=unit),
        _("What happened: {value}").format(value=esc(draft.description or "")),
        _("When and where: {value}").format(
            value=esc(draft.time_place) if draft.time_place else _("not given")
        ),
        _("Evidence: {count} file(s)").format(count=len(draft.attachments)),
        _("Identity: {value}").format(value=identity),
    ]
    if draft.leader_involved:
        lines.append(
            _(
                "Marked: concerns the unit's leadership. The unit will not handle it itself; "
                "the campaign office keeps it."
            )
        )
    lines += ["", _("Submit this report?")]
    return "\n".join(lines)


async def _remember(turn: Turn, state: State | int) -> None:
    """Store the next question with the draft, in one transaction: they cannot disagree."""
    await remember(turn, CONVERSATION, state)


async def _leave_service_rating(turn: Turn) -> None:
    """A report begins: a service rating's typed reason ("other") waiting since earlier ends,
    or the report's answers, typed next, would go to it (it is registered first)."""
    await leave_other_flows(turn, CONVERSATION, flows=(SERVICE_RATING,))


# --- steps -------------------------------------------------------------------------------------

Step = Callable[[Turn, Draft], Awaitable[State | int]]


def step(fn: Step) -> UpdateCallback:
    """Load the draft for a step, end politely when it is gone, save it after the step."""

    async def run(turn: Turn) -> object:
        loaded = await load_draft(turn.session, turn.account_id)
        if loaded is None:
            turn.clear_keyboard = True
            turn.say(
                turn._(
                    "This report is no longer open: it was submitted, cancelled or closed "
                    "after a long pause. Send /report to start a new one."
                )
            )
            return END
        draft, _updated = loaded
        state = await fn(turn, draft)
        if state != END:
            await save_draft(turn.session, turn.account_id, draft, turn.now)
        await _remember(turn, state)
        return state

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return turn_handler(run)


@turn_handler
async def start_report(turn: Turn) -> State:
    """Open a new draft, or continue the unfinished one."""
    loaded = await load_draft(turn.session, turn.account_id)
    turn.clear_keyboard = turn.update.callback_query is not None
    await _leave_service_rating(turn)
    if loaded is not None:
        draft, _updated = loaded
        intro = turn._("You have an unfinished report; let us continue where you left off.")
    else:
        draft = Draft()
        intro = turn._(
            "You are filing a report about the work style of an official or a service "
            "window. It takes six short steps; send /cancel at any time to stop."
        )
    await save_draft(turn.session, turn.account_id, draft, turn.now)
    state = await ask(turn, draft, resume_state(draft), intro)
    await _remember(turn, state)
    return state


@turn_handler
async def start_from_rating(turn: Turn) -> State | int:
    """转为举报 under a 不满意 service rating: a new draft about the rated unit."""
    _ = turn._
    fields = cb.SERVICE_REPORT.unpack(turn.callback_data)
    rating = await reportable_rating(
        turn.session, cb.as_int(fields["rating"]) if fields else None, turn.account_id
    )
    if rating is None:
        turn.toast = _("This button is no longer valid.")
        turn.clear_keyboard = True
        return END
    if await load_draft(turn.session, turn.account_id) is not None:
        # Their unfinished report keeps its answers: the button stays for after it.
        turn.say(
            _(
                "You have an unfinished report. Please finish it, or send /cancel to discard "
                "it, then press “Turn into a report” again."
            )
        )
        return END
    turn.clear_keyboard = True
    await _leave_service_rating(turn)
    draft = Draft(department_id=rating.department_id, rating_id=rating.id)
    await save_draft(turn.session, turn.account_id, draft, turn.now)
    unit = await turn.session.get(Department, rating.department_id)
    intro = _(
        "A report about {unit}, from your service rating. The unit is filled in; send /cancel "
        "at any time to stop."
    ).format(unit=esc(unit.name if unit else "—"))
    state = await ask(turn, draft, resume_state(draft), intro)
    await _remember(turn, state)
    return state


@step
async def choose_category(turn: Turn, draft: Draft) -> State:
    """Take the category button."""
    fields = cb.CATEGORY.unpack(turn.callback_data)
    category_id = cb.as_int(fields["id"]) if fields else None
    category = await active_category(turn.session, category_id) if category_id else None
    if category is None:
        turn.toast = turn._("That choice is not available. Please choose again.")
        return await ask(turn, draft, State.CATEGORY)
    draft.category_id = category.id
    turn.pressed_becomes = turn._("Category: {name}").format(
        name=esc(category_name(category, turn.language))
    )
    return await ask(turn, draft, resume_state(draft))


@step
async def search_department(turn: Turn, draft: Draft) -> State:
    """Search units by the typed characters and offer the matches as buttons."""
    _ = turn._
    text = clean_text(turn.text)
    if not text or len(text) > 50:
        turn.say(_("Please type between 1 and 50 characters of the unit's name."))
        return State.DEPARTMENT
    draft.department_text = text
    matches = await search_departments(turn.session, text)
    rows: Keyboard = [[(button_label(d.name), cb.DEPARTMENT.pack(d.id or 0))] for d in matches]
    rows.append([(_("Not sure"), cb.DEPARTMENT.pack("unsure"))])
    if matches:
        turn.say(_("Choose the unit you mean, or type other characters to search again:"), rows)
    else:
        turn.say(
            _(
                "No unit matches “{text}”. Try other characters, or press “Not sure” and we "
                "will keep what you typed."
            ).format(text=esc(text)),
            rows,
        )
    return State.DEPARTMENT


@step
async def choose_department(turn: Turn, draft: Draft) -> State:
    """Take a unit button (or “not sure”), checking the unit still exists and is active."""
    fields = cb.DEPARTMENT.unpack(turn.callback_data)
    value = fields["id"] if fields else None
    if value == "unsure":
        draft.department_id = None
        draft.department_unsure = True
        turn.clear_keyboard = True
        return await ask(turn, draft, resume_state(draft))
    department_id = cb.as_int(value)
    department = await turn.session.get(Department, department_id) if department_id else None
    if department is None or not department.active:
        turn.toast = turn._("That choice is not available. Please choose again.")
        return await ask(turn, draft, State.DEPARTMENT)
    draft.department_id = department.id
    draft.department_unsure = False
    turn.pressed_becomes = turn._("Unit: {name}").format(name=esc(department.name))
    return await ask(turn, draft, resume_state(draft))


def _checked_text(turn: Turn, low: int, high: int) -> str | None:
    """The cleaned text when its length is within limits; else say why and return None."""
    _ = turn._
    text = clean_text(turn.text)
    problem = check_length(text, low, high)
    if problem is None:
        return text
    if problem is TextProblem.empty:
        turn.say(_("The text is empty. Please type it again."))
    elif problem is TextProblem.too_short:
        turn.say(
            _(
                "That is {count} characters; please write at least {min} so the case can be "
                "handled."
            ).format(count=len(text), min=low)
        )
    else:
        turn.say(
            _(
                "That is {count} characters; the limit is {max}. Please shorten it and send it "
                "again."
            ).format(count=len(text), max=high)
        )
    return None


@step
async def take_description(turn: Turn, draft: Draft) -> State:
    """Take the description, 10 to 2000 characters by default."""
    limits = turn.services.settings.report
    text = _checked_text(turn, limits.description_min_chars, limits.description_max_chars)
    if text is None:
        return State.DESCRIPTION
    draft.description = text
    return await ask(turn, draft, resume_state(draft))


@step
async def take_time_place(turn: Turn, draft: Draft) -> State:
    """Take the optional time and place."""
    text = _checked_text(turn, 1, turn.services.settings.report.time_place_max_chars)
    if text is None:
        return State.TIME_PLACE
    draft.time_place = text
    draft.time_place_skipped = False
    return await ask(turn, draft, resume_state(draft))


@step
async def skip_time_place(turn: Turn, draft: Draft) -> State:
    """Skip the time and place."""
    turn.clear_keyboard = True
    draft.time_place = None
    draft.time_place_skipped = True
    return await ask(turn, draft, resume_state(draft))


@step
async def take_evidence(turn: Turn, draft: Draft) -> State:
    """Check, download and keep one photo or file, by its SHA-256."""
    _ = turn._
    limits = turn.services.settings.report
    message = turn.update.effective_message
    assert message is not None
    done = _evidence_keyboard(turn, draft)
    if len(draft.attachments) >= limits.max_attachments:
        turn.say(
            _(
                "You have already added {max} files, the most one report can carry. "
                "Press “Done” to continue."
            ).format(max=limits.max_attachments),
            done,
        )
        return State.EVIDENCE
    candidate = incoming_file(message)
    assert candidate is not None  # the handler's filter lets only photos and documents in
    received = await receive(turn, candidate)
    if isinstance(received, str):
        turn.say(received, done)
        return State.EVIDENCE
    draft.attachments.append(received)
    turn.say(
        _("Evidence {count} of at most {max} received.").format(
            count=len(draft.attachments), max=limits.max_attachments
        ),
        _evidence_keyboard(turn, draft),
    )
    return State.EVIDENCE


def _evidence_keyboard(turn: Turn, draft: Draft) -> Keyboard:
    rows: Keyboard = [[(turn._("Done"), cb.EVIDENCE.pack("done"))]]
    if draft.attachments:
        rows.append([(turn._("Remove all evidence"), cb.EVIDENCE.pack("clear"))])
    return rows


@step
async def evidence_action(turn: Turn, draft: Draft) -> State:
    """Close the evidence step, or drop what was sent so far and start it again."""
    fields = cb.EVIDENCE.unpack(turn.callback_data)
    turn.clear_keyboard = True
    if fields is not None and fields["action"] == "clear":
        dropped = [a.path for a in draft.attachments]
        draft.attachments = []
        await save_draft(turn.session, turn.account_id, draft, turn.now)
        await turn.session.flush()
        await remove_if_unreferenced(turn.session, turn.services.settings.attachments_dir, dropped)
        turn.say(turn._("All evidence was removed from this report."))
        return await ask(turn, draft, State.EVIDENCE)
    draft.evidence_done = True
    return await ask(turn, draft, resume_state(draft))


@step
async def choose_identity(turn: Turn, draft: Draft) -> State:
    """Take the identity choice."""
    fields = cb.IDENTITY.unpack(turn.callback_data)
    mode = fields["mode"] if fields else None
    if mode not in {m.value for m in IdentityMode}:
        turn.toast = turn._("That choice is not available. Please choose again.")
        return await ask(turn, draft, State.IDENTITY)
    draft.identity_mode = IdentityMode(mode)
    if draft.identity_mode is not IdentityMode.real_name:
        draft.reporter_name = None
        draft.reporter_phone = None
    turn.pressed_becomes = turn._("Identity: {value}").format(
        value=identity_label(draft.identity_mode, turn._)
    )
    return await ask(turn, draft, resume_state(draft))


@step
async def take_name(turn: Turn, draft: Draft) -> State:
    """Take the reporter's name."""
    text = _checked_text(turn, 1, turn.services.settings.report.name_max_chars)
    if text is None:
        return State.REAL_NAME
    draft.reporter_name = text
    return await ask(turn, draft, resume_state(draft))


@step
async def take_phone(turn: Turn, draft: Draft) -> State:
    """Take and validate the phone number."""
    phone = parse_phone(turn.text, turn.services.settings.report.phone_region)
    if phone is None:
        turn.say(
            turn._(
                "“{text}” is not a valid phone number. Please type it again, for example "
                "13800138000 or 0451-12345678."
            ).format(text=esc(turn.text[:40]))
        )
        return State.PHONE
    draft.reporter_phone = phone.e164
    return await ask(turn, draft, resume_state(draft))


@step
async def summary_action(turn: Turn, draft: Draft) -> State | int:
    """Submit, edit or cancel from the summary; an outdated summary is shown again."""
    _ = turn._
    fields = cb.SUMMARY.unpack(turn.callback_data)
    if fields is None or fields["rev"] != str(draft.rev) or not draft.is_complete():
        turn.clear_keyboard = True
        turn.toast = _("That summary is out of date; here is the current one.")
        return await ask(turn, draft, resume_state(draft))
    turn.clear_keyboard = True
    action = fields["action"]
    if action == "edit":
        return await ask(turn, draft, State.EDIT)
    if action == "leader":
        draft.leader_involved = not draft.leader_involved
        return await ask(turn, draft, State.SUMMARY)
    if action == "cancel":
        await _discard(turn)
        turn.say(_("Cancelled. Nothing was kept: the report and its files were discarded."))
        return END
    if action != "confirm":
        turn.toast = _("That choice is not available. Please choose again.")
        return await ask(turn, draft, State.SUMMARY)
    settings = turn.services.settings
    submitted = await file_report(
        turn.session,
        account_id=turn.account_id,
        draft=draft,
        language=turn.language,
        now=turn.now,
        configured=settings.deadlines.configured(),
        tz=settings.tz,
        auto_assign=settings.routing.auto_assign,
    )
    received = _("Your report was received at {time}. Its number is <b>{number}</b>.").format(
        time=local_time(turn.now, settings.tz), number=submitted.report.number
    )
    if draft.identity_mode is IdentityMode.fully_anonymous:
        follow = _(
            "This report is not linked to your account. Your receipt code, shown only "
            "this once — write it down or keep it somewhere safe:\n\n<code>{receipt}</code>\n\n"
            "Send /receipt with this code at any time to see the progress and add "
            "information. Whoever has the code can open the report, so keep it private."
        ).format(receipt=submitted.receipt)
    elif draft.identity_mode is IdentityMode.anonymous:
        follow = _(
            "No unit will learn who you are. We will tell you here how it "
            "progresses; /myreports lists your reports. Your receipt code, shown only "
            "this once:\n\n<code>{receipt}</code>\n\nWith /receipt and this code you can "
            "also follow the report from another account."
        ).format(receipt=submitted.receipt)
    else:
        follow = _("We will tell you here how it progresses; /myreports lists your reports.")
    # The acknowledgement is a delivery, not a reply: it is written in this transaction, sent
    # right after the commit, retried, and sent before anything else this chat does next until
    # Telegram confirms it (`bot.runtime.turn.deliver_pending_acks`); its text, which may hold
    # the receipt, is erased from the outbox once it is delivered.
    chat = turn.update.effective_chat
    assert chat is not None
    turn.notify([Outgoing(chat.id, f"{received}\n\n{follow}", urgent=True, key=ack_key())])
    return END


@step
async def choose_edit(turn: Turn, draft: Draft) -> State:
    """Jump to the step the person wants to change."""
    fields = cb.EDIT.unpack(turn.callback_data)
    key = fields["field"] if fields else None
    turn.clear_keyboard = True
    if key == "back":
        return await ask(turn, draft, resume_state(draft))
    if key not in EDITABLE:
        turn.toast = turn._("That choice is not available. Please choose again.")
        return await ask(turn, draft, State.EDIT)
    target, _label = EDITABLE[key]
    if target is State.EVIDENCE:
        draft.evidence_done = False
    if target is State.IDENTITY:
        draft.identity_mode = None
    return await ask(turn, draft, target)


def _reask(state: State) -> Step:
    async def reask(turn: Turn, draft: Draft) -> State:
        """Answer input of the wrong kind by asking the question again."""
        if turn.update.callback_query is not None:
            turn.toast = turn._("This button is no longer valid.")
            turn.clear_keyboard = True
        else:
            turn.say(_wrong_input(turn, state))
        return await ask(turn, draft, state)

    reask.__name__ = f"reask_{state.name.lower()}"
    return reask


def _wrong_input(turn: Turn, state: State) -> str:
    _ = turn._
    message = turn.update.effective_message
    if state is State.EVIDENCE:
        if message is not None and message.text:
            return _("Please send a photo or a file, or press “Done” to continue.")
        return _(
            "Stickers, voice messages, videos and the like cannot be used as evidence. "
            "Please send a photo or a file, or press “Done”."
        )
    if state in (State.CATEGORY, State.IDENTITY, State.SUMMARY, State.EDIT):
        return _("Please use the buttons.")
    return _("Please answer with text.")


async def _discard(turn: Turn) -> None:
    draft = await delete_draft(turn.session, turn.account_id)
    if draft is not None and draft.attachments:
        await turn.session.flush()
        await remove_if_unreferenced(
            turn.session,
            turn.services.settings.attachments_dir,
            [a.path for a in draft.attachments],
        )


@turn_handler
async def cancel(turn: Turn) -> int:
    """Leave the flow and keep nothing half-done."""
    had_draft = await load_draft(turn.session, turn.account_id) is not None
    await _discard(turn)
    turn.clear_keyboard = turn.update.callback_query is not None
    if had_draft:
        turn.say(turn._("Cancelled. Nothing was kept: the report and its files were discarded."))
    else:
        turn.say(turn._("There is nothing to cancel. Send /report to file a report."))
    await _remember(turn, END)
    return END


OWN_BUTTONS = re.compile(
    "^(?:"
    + "|".join(
        re.escape(spec.prefix)
        for spec in (
            cb.CATEGORY,
            cb.DEPARTMENT,
            cb.TIME_PLACE,
            cb.EVIDENCE,
            cb.IDENTITY,
            cb.SUMMARY,
            cb.EDIT,
        )
    )
    + "):"
)
"""The flow's own buttons: an old one of them gets the current question again. Another flow's
button (a ballot's, a case's) goes to that flow as if no report were open: caught here, it
only repeated the report's question, and an evaluator with a report half-written could not
start rating."""


def build_handler() -> ConversationHandler[BotContext]:
    reask = {state: step(_reask(state)) for state in State}

    def fallback(state: State) -> list[Handler]:
        return [
            MessageHandler((TEXT | MEDIA | NOT_TEXT_OR_FILE), reask[state]),
            CallbackQueryHandler(reask[state], pattern=OWN_BUTTONS),
        ]

    states: dict[object, list[Handler]] = {
        State.CATEGORY: [CallbackQueryHandler(choose_category, pattern=cb.CATEGORY.pattern)],
        State.DEPARTMENT: [
            MessageHandler(TEXT, search_department),
            CallbackQueryHandler(choose_department, pattern=cb.DEPARTMENT.pattern),
        ],
        State.DESCRIPTION: [MessageHandler(TEXT, take_description)],
        State.TIME_PLACE: [
            MessageHandler(TEXT, take_time_place),
            CallbackQueryHandler(skip_time_place, pattern=cb.TIME_PLACE.pattern),
        ],
        State.EVIDENCE: [
            MessageHandler(MEDIA, take_evidence),
            CallbackQueryHandler(evidence_action, pattern=cb.EVIDENCE.pattern),
        ],
        State.IDENTITY: [CallbackQueryHandler(choose_identity, pattern=cb.IDENTITY.pattern)],
        State.REAL_NAME: [MessageHandler(TEXT, take_name)],
        State.PHONE: [MessageHandler(TEXT, take_phone)],
        State.SUMMARY: [CallbackQueryHandler(summary_action, pattern=cb.SUMMARY.pattern)],
        State.EDIT: [CallbackQueryHandler(choose_edit, pattern=cb.EDIT.pattern)],
    }
    for state, handlers in states.items():
        assert isinstance(state, State)
        handlers.extend(fallback(state))
    return conversation(
        entry_points=[
            CommandHandler("report", start_report, filters=PRIVATE),
            CallbackQueryHandler(start_report, pattern=f"^{cb.MENU.pack('report')}$"),
            CallbackQueryHandler(start_from_rating, pattern=cb.SERVICE_REPORT.pattern),
        ],
        states=states,
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
