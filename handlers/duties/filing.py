"""The filing conversation the two filing flows (periodic reports, self-checks) share, and what
`/duties` and the office's duty commands say about a filing.

Both flows run in one persistent conversation entered by a DUTY_OPEN button: the button only
names a submission, so every entry checks that it belongs to one of the presser's units (an
unknown id and another unit's id get the same answer) and can still be filed. The submission
being filed is remembered in the conversation-state table and its answers in `duty_draft`, so a
restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from telegram.ext import CallbackQueryHandler, MessageHandler

from bot.runtime import callbacks as cb
from bot.runtime import render
from bot.runtime.conversation import END, MEDIA, NOT_TEXT_OR_FILE, TEXT
from bot.runtime.flow_state import remember, set_target, target_id
from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.period_text import period_label
from bot.runtime.render import MESSAGE_MAX, cut, esc, local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Outgoing, OutgoingFile, Turn, UpdateCallback, turn_handler
from db.duties.filing import Filed, official_units, working_due
from db.duties.filing_drafts import (
    FilingDraft,
    delete_filing_draft,
    load_filing_draft,
    save_filing_draft,
)
from db.duties.obligations import AccessProblem, last_round
from db.duties.rules import SubmissionProblem
from db.files import remove_if_unreferenced
from db.models import Department, Obligation, Submission, SubmissionState
from db.people.roles import admin_recipients, department_recipients
from db.validation import check_length, clean_text

CONVERSATION = "duty_filing"
FLOW_BUTTONS = r"^d[sc]:"
"""The filing conversation's own buttons; any other button falls through to its own handler."""
TARGET = "duty_filing.target"
"""Conversation-state rows holding the submission id a person is filing."""
SHOWN_TEXT_MAX = 300
"""Longest piece of an answer shown in a summary or a notice; the round keeps it whole."""

CANCELLED = N_(
    "Cancelled. The draft and its files were discarded; nothing was filed. The duty is still "
    "owed: send /duties to file it later."
)
NOT_YOURS = N_("This submission is not one of your unit's duties. Send /duties to see them.")


def shown(text: str | None) -> str:
    """User text for a summary line: cut, then escaped."""
    return esc(cut(text or "", SHOWN_TEXT_MAX))


def fit_lines(head: list[str], lines: list[str]) -> str:
    """Head and lines in one message, ending in "…" when the last lines had to go."""
    return render.fit_lines(
        "\n".join(head), lines, lambda _left_out: "…", lambda text: len(text) <= MESSAGE_MAX
    )


async def remember_step(turn: Turn, state: int) -> None:
    """Store the next question in the same transaction as the draft: they cannot disagree."""
    await remember(turn, CONVERSATION, state)


async def set_filing(turn: Turn, submission_id: int | None) -> None:
    """Remember (or forget) which submission this person is filing."""
    await set_target(turn, TARGET, submission_id)


@dataclass
class Filing:
    """A submission being filed, with what the flows read about it."""

    submission: Submission
    obligation: Obligation
    unit: Department
    draft: FilingDraft

    @property
    def submission_id(self) -> int:
        assert self.submission.id is not None
        return self.submission.id


async def openable(turn: Turn, submission_id: int | None) -> tuple[Submission, Obligation] | str:
    """The submission when the presser is a liaison of its unit and it can be filed now;
    otherwise the answer to give."""
    _ = turn._
    units = await official_units(turn.session, turn.account_id)
    submission = await turn.session.get(Submission, submission_id) if submission_id else None
    if submission is None or submission.department_id not in units.liaison_of:
        return _(NOT_YOURS)
    obligation = await turn.session.get(Obligation, submission.obligation_id)
    assert obligation is not None
    title = esc(obligation.title)
    period = period_label(submission.period, _)
    if submission.state == SubmissionState.accepted:
        return _("“{title}” ({period}) has already been accepted; nothing more to file.").format(
            title=title, period=period
        )
    if submission.state == SubmissionState.submitted:
        return _(
            "“{title}” ({period}) was filed and is waiting for the campaign office's review. "
            "You can file it again only if the office returns it."
        ).format(title=title, period=period)
    return submission, obligation


async def filing_of(
    turn: Turn, submission: Submission, obligation: Obligation, draft: FilingDraft
) -> Filing:
    unit = await turn.session.get(Department, submission.department_id)
    assert unit is not None
    return Filing(submission, obligation, unit, draft)


async def current(turn: Turn) -> tuple[Filing, datetime] | None:
    """The filing this person is in, with the draft's last change; None when it is gone."""
    stored = await target_id(turn, TARGET)
    if stored is None:
        return None
    loaded = await load_filing_draft(turn.session, turn.account_id, stored)
    submission = await turn.session.get(Submission, stored)
    if loaded is None or submission is None:
        return None
    obligation = await turn.session.get(Obligation, submission.obligation_id)
    assert obligation is not None
    draft, updated_at = loaded
    return await filing_of(turn, submission, obligation, draft), updated_at


Step = Callable[[Turn, Filing], Awaitable[int]]


async def save_draft(turn: Turn, filing: Filing) -> None:
    await save_filing_draft(turn.session, turn.account_id, filing.draft, turn.now)


def filing_step(fn: Step) -> Callable[[Turn], Awaitable[int | None]]:
    """Load the filing for a step, end politely when it is gone, save the draft after it.

    A message (not a button) arriving long after the last step is not taken as an answer: the
    person has most likely forgotten the filing and means something else. They get a button to
    resume it; the draft and the position stay (None keeps the conversation's state).
    """

    async def run(turn: Turn) -> int | None:
        loaded = await current(turn)
        if loaded is None:
            turn.clear_keyboard = turn.update.callback_query is not None
            turn.say(
                turn._(
                    "This filing is no longer open: it was filed or cancelled. Send /duties to "
                    "see what your unit owes."
                )
            )
            await remember_step(turn, END)
            return END
        filing, updated_at = loaded
        idle = timedelta(minutes=turn.services.settings.conversation.idle_timeout_minutes)
        if turn.update.callback_query is None and turn.now - updated_at > idle:
            turn.say(
                turn._(
                    "You have an unfinished filing of “{title}” ({period}); what you typed was "
                    "not taken as an answer. Press the button to continue the filing, or send "
                    "/cancel to discard it."
                ).format(
                    title=esc(filing.obligation.title),
                    period=period_label(filing.submission.period, turn._),
                ),
                [[(turn._("Continue filing"), cb.DUTY_OPEN.pack(filing.submission_id))]],
            )
            return None
        state = await fn(turn, filing)
        if state != END:
            await save_draft(turn, filing)
        await remember_step(turn, state)
        return state

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def step(fn: Step) -> UpdateCallback:
    return turn_handler(filing_step(fn))


States = dict[object, list[Handler]]
S = TypeVar("S", bound=int)


def with_reasks(table: Mapping[S, list[Handler]], reask: Callable[[S], Step]) -> States:
    """A flow's steps, each followed by what answers input of the wrong kind in that state:
    `reask(state)` for any other message and for a stale button of the filing's own."""
    states: States = {}
    for state, handlers in table.items():
        answer = step(reask(state))
        handlers.append(MessageHandler(TEXT | MEDIA | NOT_TEXT_OR_FILE, answer))
        handlers.append(CallbackQueryHandler(answer, pattern=FLOW_BUTTONS))
        states[state] = handlers
    return states


def heading(turn: Turn, filing: Filing) -> str:
    """What is being filed, for a summary: “title” (period), due …"""
    _ = turn._
    return _("“{title}” ({period}), due {due}").format(
        title=esc(filing.obligation.title),
        period=period_label(filing.submission.period, _),
        due=due_line(turn, filing.submission),
    )


async def introduce(turn: Turn, filing: Filing, intro: str, resumed: bool) -> None:
    """Make the first question, already said, the first message of a filing: `intro`, the
    office's comment after a return and a word when a draft is resumed go above it."""
    _ = turn._
    lines = [intro]
    previous = await last_round(turn.session, filing.submission_id)
    if previous is not None and previous.comment:
        lines.append(
            _("The campaign office returned round {round} with this comment: {comment}").format(
                round=previous.number, comment=esc(previous.comment)
            )
        )
    if resumed:
        lines.append(_("You have an unfinished draft; let us continue where you left off."))
    turn.replies[0].text = "\n\n".join([*lines, turn.replies[0].text])


def typed(turn: Turn) -> str | None:
    """The person's text within `[duties] max_text_chars`; None, having said why, otherwise."""
    _ = turn._
    maximum = turn.services.settings.duties.max_text_chars
    text = clean_text(turn.text)
    if check_length(text, 1, maximum) is None:
        return text
    if not text:
        turn.say(_("The text is empty. Please type it again."))
    else:
        turn.say(
            _(
                "That is {count} characters; the limit is {max}. Please shorten it and send it "
                "again."
            ).format(count=len(text), max=maximum)
        )
    return None


def stale_or_wrong(turn: Turn, wants_buttons: bool) -> None:
    """Answer input of the wrong kind; the caller asks its question again."""
    _ = turn._
    message = turn.update.effective_message
    if turn.update.callback_query is not None:
        turn.toast = _("This button is no longer valid.")
        turn.clear_keyboard = True
    elif wants_buttons:
        turn.say(_("Please use the buttons."))
    elif message is not None and (message.photo or message.document):
        turn.say(_("Please answer this question with text."))
    else:
        turn.say(_("Stickers, voice messages, videos and the like cannot be used here."))


async def cancel_from_summary(turn: Turn, filing: Filing) -> int:
    """The summary's Cancel: the draft and its files go, the submission is still owed."""
    await discard(turn, filing.submission_id)
    turn.say(turn._(CANCELLED))
    return END


async def discard(turn: Turn, submission_id: int) -> bool:
    """Drop the draft and the files only it held; True when there was one."""
    draft = await delete_filing_draft(turn.session, turn.account_id, submission_id)
    if draft is None:
        return False
    if draft.files:
        await remove_if_unreferenced(
            turn.session, turn.services.settings.attachments_dir, [f.path for f in draft.files]
        )
    return True


@turn_handler
async def cancel(turn: Turn) -> int:
    """Leave the filing; the draft is discarded and the submission is still owed."""
    stored = await target_id(turn, TARGET)
    had = stored is not None and await discard(turn, stored)
    await set_filing(turn, None)
    await remember_step(turn, END)
    turn.clear_keyboard = turn.update.callback_query is not None
    if had:
        turn.say(turn._(CANCELLED))
    else:
        turn.say(turn._("There is nothing to cancel. Send /duties to see what your unit owes."))
    return END


TIMING = {True: N_("on time"), False: N_("late")}
FILED = N_(
    "Filed: “{title}” ({period}), round {round}, {timing}. The campaign office will review it."
)
FILED_BY_COLLEAGUE = N_(
    "Another liaison of {unit} filed “{title}” ({period}), round {round}, {timing}."
)
FILED_FOR_OFFICE = N_("{unit} filed “{title}” ({period}), round {round}, {timing}.")


def review_keyboard(_: Translator, submission: Submission) -> Keyboard:
    """The office's accept / return buttons for a filed submission, on the version they judge:
    one builder for the filing notice and the /submission card, so they cannot drift apart."""
    assert submission.id is not None
    return [
        [
            (_("Accept"), cb.DUTY_REVIEW.pack("accepted", submission.id, submission.version)),
            (_("Return"), cb.DUTY_REVIEW.pack("returned", submission.id, submission.version)),
        ]
    ]


Content = Callable[[Translator, str], list[str]]
"""The filed content as lines in the reader's language (translator, language code)."""


async def announce(
    turn: Turn,
    filing: Filing,
    filed: Filed | SubmissionProblem | AccessProblem,
    content: Content,
    files: tuple[OutgoingFile, ...] = (),
) -> int:
    """After filing: the liaison's confirmation, a notice to the unit's other liaisons, and the
    admins' notice with the review buttons; or the reason nothing was filed."""
    _ = turn._
    if not isinstance(filed, Filed):
        if filed is AccessProblem.not_yours or filed is AccessProblem.unknown:
            turn.say(_(NOT_YOURS))
        else:
            checked = await openable(turn, filing.submission_id)
            turn.say(checked if isinstance(checked, str) else _(NOT_YOURS))
        await discard(turn, filing.submission_id)
        await set_filing(turn, None)
        return END
    await discard(turn, filing.submission_id)
    await set_filing(turn, None)
    submission, obligation, unit = filing.submission, filing.obligation, filing.unit

    def say(template: str, t: Translator) -> str:
        return t(template).format(
            unit=esc(unit.name),
            title=esc(obligation.title),
            period=period_label(submission.period, t),
            round=filed.round.number,
            timing=t(TIMING[filed.on_time]),
        )

    turn.say(say(FILED, _))
    notices: list[Outgoing] = []
    for r in await department_recipients(turn.session, submission.department_id):
        if r.telegram_id != turn.account.telegram_id:
            notices.append(
                Outgoing(r.telegram_id, say(FILED_BY_COLLEAGUE, gettext_for(r.language)))
            )
    settings = turn.services.settings
    for r in await admin_recipients(turn.session, settings.admin_ids, settings.default_language):
        t = gettext_for(r.language)
        text = fit_lines([say(FILED_FOR_OFFICE, t)], content(t, r.language))
        notices.append(Outgoing(r.telegram_id, text, review_keyboard(t, submission), files))
    turn.notify(notices)
    return END


def due_line(turn: Turn, submission: Submission) -> str:
    return local_time(working_due(submission), turn.services.settings.tz)


def file_button(_: Translator, submission_id: int, label: str) -> Keyboard:
    """The liaison's button to file a submission (the filing flow answers it)."""
    return [[(_(label), cb.DUTY_OPEN.pack(submission_id))]]
