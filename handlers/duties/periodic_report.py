"""Filing a periodic report (工作方案, 季度报送, 总结 …): the duty's questions one by one, free
text, attachments, then a summary to file, edit or cancel.

```mermaid
stateDiagram-v2
    [*] --> QUESTION: DUTY_OPEN (one per question)
    QUESTION --> BODY
    BODY --> FILES: text or skip
    FILES --> SUMMARY: done
    SUMMARY --> EDIT: edit
    EDIT --> QUESTION
    EDIT --> BODY
    EDIT --> FILES
    SUMMARY --> [*]: file / cancel
```
"""

from __future__ import annotations

from dataclasses import asdict
from enum import IntEnum

from telegram.ext import CallbackQueryHandler, MessageHandler

from bot.runtime import callbacks as cb
from bot.runtime.conversation import MEDIA, TEXT
from bot.runtime.i18n import Translator
from bot.runtime.period_text import period_label
from bot.runtime.render import button_label, esc
from bot.runtime.turn import Keyboard, OutgoingFile, Turn
from bot.runtime.uploads import incoming_file, receive
from db.duties.filing import NewFile, file_report, official_units
from db.duties.filing_drafts import FilingFile
from db.duties.obligations import questions_of
from db.files import remove_if_unreferenced
from handlers.duties.filing import (
    Filing,
    States,
    Step,
    announce,
    cancel_from_summary,
    due_line,
    fit_lines,
    heading,
    introduce,
    save_draft,
    shown,
    stale_or_wrong,
    step,
    typed,
    with_reasks,
)


class State(IntEnum):
    QUESTION = 1
    BODY = 2
    FILES = 3
    SUMMARY = 4
    EDIT = 5


BUTTON_STATES = (State.SUMMARY, State.EDIT)


def new_answers(filing: Filing) -> list[str | None]:
    return [None] * len(questions_of(filing.submission))


def resume_state(filing: Filing) -> State:
    draft = filing.draft
    if any(a is None for a in draft.answers):
        return State.QUESTION
    if not draft.body_done:
        return State.BODY
    if not draft.files_done:
        return State.FILES
    return State.SUMMARY


async def ask(turn: Turn, filing: Filing, state: State) -> State:
    """Say the question of `state` with its buttons and return it as the next state."""
    _ = turn._
    draft = filing.draft
    settings = turn.services.settings
    maximum = settings.duties.max_text_chars
    questions = questions_of(filing.submission)
    if state is State.QUESTION:
        index = next(i for i, a in enumerate(draft.answers) if a is None)
        turn.say(
            _(
                "<b>Question {number} of {total}:</b> {question}\n"
                "Type your answer (at most {max} characters)."
            ).format(
                number=index + 1, total=len(questions), question=esc(questions[index]), max=maximum
            )
        )
    elif state is State.BODY:
        if questions:
            turn.say(
                _(
                    "Anything else for the report? Type it (at most {max} characters), or press "
                    "“Skip”."
                ).format(max=maximum),
                [[(_("Skip"), cb.DUTY_STEP.pack("skip"))]],
            )
        else:
            turn.say(_("Type the report (at most {max} characters).").format(max=maximum))
    elif state is State.FILES:
        if settings.duties.max_files == 0:
            draft.files_done = True
            return await ask(turn, filing, resume_state(filing))
        turn.say(
            _(
                "Send the attachments, up to {max} (Word, PDF, Excel or images, at most {mb} MB "
                "each). Press “Done” when you have sent them all, or if there are none."
            ).format(max=settings.duties.max_files, mb=settings.report.max_attachment_bytes >> 20),
            _files_keyboard(turn, filing),
        )
    elif state is State.SUMMARY:
        # Save first: the confirm button carries the revision the saved draft will have.
        await save_draft(turn, filing)
        turn.say(_summary(turn, filing), _summary_keyboard(turn, filing))
    elif state is State.EDIT:
        rows: Keyboard = [
            [
                (
                    button_label(
                        _("Question {number}: {question}").format(number=i + 1, question=q)
                    ),
                    cb.DUTY_STEP.pack(f"q{i}"),
                )
            ]
            for i, q in enumerate(questions)
        ]
        rows.append([(_("Text"), cb.DUTY_STEP.pack("body"))])
        rows.append([(_("Attachments"), cb.DUTY_STEP.pack("files"))])
        rows.append([(_("Back to the summary"), cb.DUTY_STEP.pack("back"))])
        turn.say(_("What do you want to change?"), rows)
    return state


def _files_keyboard(turn: Turn, filing: Filing) -> Keyboard:
    rows: Keyboard = [[(turn._("Done"), cb.DUTY_STEP.pack("done"))]]
    if filing.draft.files:
        rows.append([(turn._("Remove all attachments"), cb.DUTY_STEP.pack("clear"))])
    return rows


def _content(filing: Filing) -> list[tuple[str, str]]:
    questions = questions_of(filing.submission)
    return [(q, a or "") for q, a in zip(questions, filing.draft.answers, strict=True)]


def content_lines(filing: Filing, _: Translator) -> list[str]:
    lines = []
    for question, answer in _content(filing):
        lines += [f"<b>{esc(question)}</b>", shown(answer)]
    if filing.draft.body:
        lines.append(_("Text: {text}").format(text=shown(filing.draft.body)))
    lines.append(_("Attachments: {count}").format(count=len(filing.draft.files)))
    return lines


def _summary(turn: Turn, filing: Filing) -> str:
    _ = turn._
    head = [_("<b>Please check before filing</b>"), heading(turn, filing)]
    return fit_lines(head, [*content_lines(filing, _), "", _("File it now?")])


def _summary_keyboard(turn: Turn, filing: Filing) -> Keyboard:
    _ = turn._
    rev = filing.draft.rev
    return [
        [(_("File"), cb.DUTY_CONFIRM.pack("confirm", rev))],
        [
            (_("Edit"), cb.DUTY_CONFIRM.pack("edit", rev)),
            (_("Cancel"), cb.DUTY_CONFIRM.pack("cancel", rev)),
        ],
    ]


async def begin(turn: Turn, filing: Filing, resumed: bool) -> State:
    """The first message of a filing: what it is, the office's comment after a return, and the
    first open question."""
    _ = turn._
    if not filing.draft.answers and questions_of(filing.submission):
        filing.draft.answers = new_answers(filing)
    intro = _("Filing “{title}” ({period}), due {due}. Send /cancel at any time to stop.").format(
        title=esc(filing.obligation.title),
        period=period_label(filing.submission.period, _),
        due=due_line(turn, filing.submission),
    )
    state = await ask(turn, filing, resume_state(filing))
    await introduce(turn, filing, intro, resumed)
    return state


# --- steps -------------------------------------------------------------------------------------


async def take_answer(turn: Turn, filing: Filing) -> int:
    """One question's answer."""
    text = typed(turn)
    if text is None:
        return State.QUESTION
    index = next(i for i, a in enumerate(filing.draft.answers) if a is None)
    filing.draft.answers[index] = text
    return await ask(turn, filing, resume_state(filing))


async def take_body(turn: Turn, filing: Filing) -> int:
    """The free text."""
    text = typed(turn)
    if text is None:
        return State.BODY
    filing.draft.body = text
    filing.draft.body_done = True
    return await ask(turn, filing, resume_state(filing))


async def skip_body(turn: Turn, filing: Filing) -> int:
    """Skip the free text; only a report with questions may."""
    fields = cb.DUTY_STEP.unpack(turn.callback_data)
    if fields is None or fields["action"] != "skip" or not questions_of(filing.submission):
        return await _reask(State.BODY)(turn, filing)
    turn.clear_keyboard = True
    filing.draft.body = None
    filing.draft.body_done = True
    return await ask(turn, filing, resume_state(filing))


async def take_file(turn: Turn, filing: Filing) -> int:
    """Check, download and keep one attachment, by its SHA-256."""
    _ = turn._
    maximum = turn.services.settings.duties.max_files
    message = turn.update.effective_message
    assert message is not None
    done = _files_keyboard(turn, filing)
    if len(filing.draft.files) >= maximum:
        turn.say(
            _(
                "You have already added {max} attachments, the most one filing can carry. Press "
                "“Done” to continue."
            ).format(max=maximum),
            done,
        )
        return State.FILES
    candidate = incoming_file(message)
    assert candidate is not None  # the handler's filter lets only photos and documents in
    received = await receive(turn, candidate)
    if isinstance(received, str):
        turn.say(received, done)
        return State.FILES
    filing.draft.files.append(FilingFile(**asdict(received), file_id=candidate.file_id))
    turn.say(
        _("Attachment {count} of at most {max} received.").format(
            count=len(filing.draft.files), max=maximum
        ),
        _files_keyboard(turn, filing),
    )
    return State.FILES


async def files_action(turn: Turn, filing: Filing) -> int:
    """Close the attachments step, or drop what was sent and start it again."""
    fields = cb.DUTY_STEP.unpack(turn.callback_data)
    action = fields["action"] if fields else None
    if action not in ("done", "clear"):
        return await _reask(State.FILES)(turn, filing)
    turn.clear_keyboard = True
    if action == "clear":
        dropped = [f.path for f in filing.draft.files]
        filing.draft.files = []
        await save_draft(turn, filing)
        await remove_if_unreferenced(turn.session, turn.services.settings.attachments_dir, dropped)
        turn.say(turn._("All attachments were removed."))
        return await ask(turn, filing, State.FILES)
    filing.draft.files_done = True
    return await ask(turn, filing, resume_state(filing))


async def summary_action(turn: Turn, filing: Filing) -> int:
    """File, edit or cancel from the summary; an outdated summary is shown again."""
    _ = turn._
    fields = cb.DUTY_CONFIRM.unpack(turn.callback_data)
    turn.clear_keyboard = True
    if (
        fields is None
        or fields["rev"] != str(filing.draft.rev)
        or resume_state(filing) is not State.SUMMARY
    ):
        turn.toast = _("That summary is out of date; here is the current one.")
        return await ask(turn, filing, resume_state(filing))
    action = fields["action"]
    if action == "edit":
        return await ask(turn, filing, State.EDIT)
    if action == "cancel":
        return await cancel_from_summary(turn, filing)
    if action != "confirm":
        return await _reask(State.SUMMARY)(turn, filing)
    draft = filing.draft
    units = await official_units(turn.session, turn.account_id)
    filed = await file_report(
        turn.session,
        filing.submission_id,
        department_ids=sorted(units.liaison_of),
        answers=_content(filing),
        body=draft.body,
        files=[
            NewFile(f.kind, f.mime_type, f.size, f.sha256, f.path, f.file_name) for f in draft.files
        ],
        actor_account_id=turn.account_id,
        now=turn.now,
    )
    files = tuple(
        OutgoingFile(f.kind, file_id=f.file_id, path=None if f.file_id else f.path)
        for f in draft.files
    )
    return await announce(turn, filing, filed, lambda t, _language: content_lines(filing, t), files)


async def choose_edit(turn: Turn, filing: Filing) -> int:
    """Jump to the part the person wants to change."""
    fields = cb.DUTY_STEP.unpack(turn.callback_data)
    key = fields["action"] if fields else ""
    draft = filing.draft
    turn.clear_keyboard = True
    if key == "back":
        return await ask(turn, filing, resume_state(filing))
    if key == "body":
        draft.body_done = False
        return await ask(turn, filing, State.BODY)
    if key == "files":
        draft.files_done = False
        return await ask(turn, filing, State.FILES)
    index = cb.as_int(key[1:]) if key.startswith("q") else None
    if index is None or index >= len(draft.answers):
        return await _reask(State.EDIT)(turn, filing)
    draft.answers[index] = None
    return await ask(turn, filing, State.QUESTION)


def _reask(state: State) -> Step:
    async def reask(turn: Turn, filing: Filing) -> int:
        """Answer input of the wrong kind by asking the question again."""
        if state is State.FILES and turn.update.callback_query is None:
            message = turn.update.effective_message
            turn.say(
                turn._("Please send a file or a photo, or press “Done” to continue.")
                if message is not None and message.text
                else turn._(
                    "Stickers, voice messages, videos and the like cannot be attached. Please "
                    "send Word, PDF, Excel or an image, or press “Done”."
                )
            )
        else:
            stale_or_wrong(turn, state in BUTTON_STATES)
        return await ask(turn, filing, state)

    reask.__name__ = f"reask_{state.name.lower()}"
    return reask


def states() -> States:
    """This flow's steps, merged into the filing conversation by `handlers.duties.unit_duties`."""
    return with_reasks(
        {
            State.QUESTION: [MessageHandler(TEXT, step(take_answer))],
            State.BODY: [
                MessageHandler(TEXT, step(take_body)),
                CallbackQueryHandler(step(skip_body), pattern=cb.DUTY_STEP.pattern),
            ],
            State.FILES: [
                MessageHandler(MEDIA, step(take_file)),
                CallbackQueryHandler(step(files_action), pattern=cb.DUTY_STEP.pattern),
            ],
            State.SUMMARY: [
                CallbackQueryHandler(step(summary_action), pattern=cb.DUTY_CONFIRM.pattern)
            ],
            State.EDIT: [CallbackQueryHandler(step(choose_edit), pattern=cb.DUTY_STEP.pattern)],
        },
        _reask,
    )
