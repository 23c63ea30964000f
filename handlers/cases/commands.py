"""What the case-handling flows (the admin inbox, the liaisons' casework) share.

Both apply `db.cases.rules` commands for the person who pressed, explain refusals the same way,
and remember across a restart which report a person is typing a reason or an answer for.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.ext import BaseHandler, ConversationHandler, MessageHandler, filters

from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.render import button_label, esc, state_label
from bot.runtime.turn import Keyboard, Outgoing, OutgoingFile, Turn, turn_handler
from db.audit import record
from db.calendar.workdays import load_calendar
from db.cases.handling import apply_command, limits_for
from db.cases.rules import Actor, Applied, Command, RefusalReason, Refused
from db.conversations import load_states, store_state
from db.models import Account, Category, Department, Report
from db.people.departments import search_departments
from db.people.roles import Recipient, admin_recipients, department_recipients
from db.validation import check_length, clean_text

PRIVATE = filters.ChatType.PRIVATE
TEXT = filters.TEXT & ~filters.COMMAND & PRIVATE
MEDIA = (filters.PHOTO | filters.Document.ALL) & PRIVATE
OTHER = ~filters.TEXT & ~filters.COMMAND & PRIVATE
END = ConversationHandler.END

REFUSALS: dict[RefusalReason, str] = {
    RefusalReason.wrong_state: N_(
        "Report {number} has already been handled (now: {state}). Nothing was changed."
    ),
    RefusalReason.conflict_of_interest: N_(
        "Report {number} concerns that unit's own leadership, so it cannot be assigned to it. "
        "Nothing was changed."
    ),
    RefusalReason.not_allowed: N_("You may not do this for report {number}. Nothing was changed."),
    RefusalReason.window_closed: N_(
        "The time for returning report {number} has passed. Nothing was changed."
    ),
    RefusalReason.too_late: N_(
        "An extension for report {number} must be asked for at the latest one working day "
        "before its deadline. Nothing was changed."
    ),
    RefusalReason.already_used: N_(
        "Report {number} has already had its one extension request. Nothing was changed."
    ),
}
REFUSAL_OTHER = N_("This cannot be done for report {number} now. Nothing was changed.")


def no_longer_valid(turn: Turn) -> str:
    return turn._("This button is no longer valid.")


def chat_key(turn: Turn) -> tuple[int, int]:
    """The conversation-state key of the person in this chat."""
    chat, user = turn.update.effective_chat, turn.update.effective_user
    assert chat is not None and user is not None
    return (chat.id, user.id)


async def remember(turn: Turn, conversation: str, state: int) -> None:
    """Store the flow's next step in the handler's transaction, beside the draft it belongs to,
    so the two cannot disagree after a crash (END removes it)."""
    await store_state(
        turn.session, conversation, chat_key(turn), None if state == END else int(state)
    )


def account_id(turn: Turn) -> int:
    assert turn.account.id is not None
    return turn.account.id


async def set_target(turn: Turn, name: str, report_id: int | None) -> None:
    """Remember (or forget) the report of a typed step, in the conversation-state table."""
    await store_state(turn.session, name, chat_key(turn), report_id)


OFFICIAL_FLOWS = (
    "inbox",
    "casework",
    "broadcast",
    "duty_review",
    "duty_filing",
    "ledger_update",
    "ledger_review",
    "inspection",
)
"""The conversations in which an official types for a step (a reason, an answer, a duty's
answers, a ledger note, an inspection). Each waits for text until it ends, and the first one
registered takes any text, so one left waiting would swallow what is typed for a newer one."""


async def leave_other_flows(turn: Turn, keep: str) -> None:
    """The person pressed or sent what starts the flow `keep`: their other official flows end
    here, so the next text goes to the step they were just asked for, not to a step of an
    older flow they left without /cancel (an inspection's unit search is not a return's
    comments). What those flows kept (drafts) stays; their own entry continues them."""
    key = chat_key(turn)
    for handlers in turn.context.application.handlers.values():
        for handler in handlers:
            if (
                isinstance(handler, ConversationHandler)
                and handler.name in OFFICIAL_FLOWS
                and handler.name != keep
                and key in handler._conversations
            ):
                # python-telegram-bot has no public way to end a conversation from outside it.
                handler._update_state(ConversationHandler.END, key)
                await store_state(turn.session, handler.name, key, None)


async def target_value(session: AsyncSession, name: str, key: tuple[int, int]) -> dict[str, Any]:
    """A typed step's stored target as a mapping (empty when there is none or it is not one)."""
    stored = (await load_states(session, name)).get(key)
    return stored if isinstance(stored, dict) else {}


async def target(turn: Turn, name: str) -> Report | None:
    stored = (await load_states(turn.session, name)).get(chat_key(turn))
    return await turn.session.get(Report, stored) if isinstance(stored, int) else None


async def apply_as(
    turn: Turn, report: Report, command: Command, actor: Actor | None = None
) -> Applied | Refused:
    """Apply a case command for the presser (an admin unless another actor is given)."""
    assert report.id is not None
    settings = turn.services.settings
    category = await turn.session.get(Category, report.category_id)
    assert category is not None
    limits = limits_for(
        category,
        settings.deadlines.base_limits(),
        consultation_reply_days=settings.deadlines.consultation_reply_days,
    )
    if actor is None:
        actor = Actor(account_id=turn.account.id, is_admin=True)
    before = report.state
    outcome = await apply_command(
        turn.session,
        report.id,
        command,
        actor,
        turn.now,
        await load_calendar(turn.session),
        limits,
        settings.tz,
    )
    if actor.is_admin and isinstance(outcome, Applied):
        await record(
            turn.session,
            actor_account_id=actor.account_id,
            action=f"case.{outcome.event.kind.value}",
            subject=report.number,
            now=turn.now,
            before={"state": before.value},
            after={"state": outcome.case.state.value, "department_id": outcome.case.department_id},
        )
    return outcome


async def refusal(turn: Turn, report: Report, refused: Refused) -> str:
    await turn.session.refresh(report)
    template = REFUSALS.get(refused.reason, REFUSAL_OTHER)
    return turn._(template).format(
        number=report.number, state=esc(state_label(report.state, turn._))
    )


Build = Callable[[Translator], tuple[str, Keyboard | None]]
"""Renders one notice in the recipient's language: text and optional buttons."""


def notices(
    recipients: list[Recipient],
    build: Build,
    files: tuple[OutgoingFile, ...] = (),
    *,
    urgent: bool = False,
) -> list[Outgoing]:
    messages = []
    for recipient in recipients:
        text, keyboard = build(gettext_for(recipient.language))
        messages.append(Outgoing(recipient.telegram_id, text, keyboard, files, urgent))
    return messages


async def notify_liaisons(turn: Turn, report: Report, build: Build) -> None:
    """Tell the liaisons of the report's handling department (after the commit)."""
    if report.handling_department_id is None:
        return
    recipients = await department_recipients(turn.session, report.handling_department_id)
    turn.notify(notices(recipients, build))


async def notify_admins(turn: Turn, build: Build) -> None:
    settings = turn.services.settings
    recipients = await admin_recipients(turn.session, settings.admin_ids, settings.default_language)
    turn.notify(notices(recipients, build))


async def notify_reporter(
    turn: Turn, report: Report, build: Build, files: tuple[OutgoingFile, ...] = ()
) -> bool:
    """Tell the reporter in the report's language; False when nobody can be told by message
    (fully anonymous, or the account blocked the bot): they see it on /receipt or /status."""
    if report.reporter_account_id is None:
        return False
    reporter = await turn.session.get(Account, report.reporter_account_id)
    if reporter is None or reporter.unreachable:
        return False
    recipient = Recipient(reporter.telegram_id, report.language)
    turn.notify(notices([recipient], build, files, urgent=True))
    return True


def stay_in(state: IntEnum) -> BaseHandler[object, object, object]:
    """Anything but text while a typed step is open: ask for text again, stay in `state`."""

    async def reask(turn: Turn) -> IntEnum:
        turn.say(turn._("Please answer with text, or /cancel."))
        return state

    reask.__name__ = f"reask_{state.name.lower()}"
    return MessageHandler(OTHER, turn_handler(reask))


def typed_text(turn: Turn, maximum: int) -> str | None:
    """The person's text, cleaned; None, having asked again, when it is empty or too long."""
    text = clean_text(turn.text)
    if check_length(text, 1, maximum) is None:
        return text
    turn.say(turn._("Please type between 1 and {max} characters, or /cancel.").format(max=maximum))
    return None


UNIT_SEARCH_MAX = 50


async def unit_choices(turn: Turn, pack: Callable[[Department], str]) -> Keyboard | None:
    """The units matching what the admin typed, as buttons whose data `pack` makes; None (with
    the reason said) when the text cannot be searched or matches nothing."""
    _ = turn._
    text = clean_text(turn.text)
    if not text or len(text) > UNIT_SEARCH_MAX:
        turn.say(_("Please type between 1 and 50 characters of the unit's name."))
        return None
    matches = await search_departments(turn.session, text)
    if not matches:
        turn.say(_("No unit matches “{text}”. Try other characters.").format(text=esc(text)))
        return None
    return [[(button_label(d.name), pack(d))] for d in matches]
