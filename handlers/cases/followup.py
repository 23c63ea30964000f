"""Following a report: /myreports, /status NUMBER, and /receipt CODE for fully anonymous ones.

The receipt conversation is deliberately not persistent: which chat opened which fully anonymous
report is held in memory only, so no stored row ever links the two. After a restart the person
simply sends the code again.
"""

from __future__ import annotations

from enum import IntEnum

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
)

from bot.runtime import callbacks as cb
from bot.runtime.conversation import END, NOT_TEXT, PRIVATE, TEXT, conversation
from bot.runtime.input import typed_text
from bot.runtime.render import (
    RATING_LABELS,
    esc,
    fit_message,
    local_time,
    public_event_line,
    state_label,
)
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.cases.categories import category_name
from db.cases.receipts import normalize_receipt, record_failure, record_success, throttle_wait
from db.cases.reports import (
    add_reporter_info,
    parse_number,
    public_timeline,
    report_by_receipt,
    report_of_account,
    reports_of_account,
)
from db.cases.rules import Actor, Rating, RefusalReason, Refused
from db.delivery.outbox import pending_acks
from db.models import Category, Department, Report, ReportState
from handlers.cases import reporter
from handlers.cases.commands import refusal


class ReceiptState(IntEnum):
    CODE = 1
    MENU = 2
    ADD_INFO = 3
    ANSWER = 4
    COMMENT = 5


RATE_ACTION = "rate_"
"""Receipt menu actions `rate_<Rating value>`: the fully anonymous reporter's rating buttons."""


async def say_my_reports(turn: Turn) -> None:
    assert turn.account.id is not None
    reports = await reports_of_account(turn.session, turn.account.id)
    _ = turn._
    chat = turn.update.effective_chat
    pending: list[str] = []
    if chat is not None and await pending_acks(turn.session, chat.id):
        # Telegram has not confirmed it (for a fully anonymous report, the only message that
        # carries its number and receipt): say that it is on its way.
        pending.append(
            _(
                "The acknowledgement of a report you filed in this chat, with its number (and "
                "its receipt code, if you chose anonymity), has not reached you yet. It is being "
                "sent again."
            )
        )
    if not reports:
        none = _("You have no reports linked to this account yet. Send /report to file one.")
        turn.say("\n\n".join([*pending, none]))
        return
    lines = [_("<b>Your reports</b> (newest first):")]
    tz = turn.services.settings.tz
    for report in reports:
        lines.append(
            _("{number} · {date} · {state}").format(
                number=report.number,
                date=local_time(report.created_at, tz),
                state=state_label(report.state, _),
            )
        )
    lines.append(_("Send /status NUMBER for the details of one report."))
    turn.say("\n\n".join([*pending, "\n".join(lines)]))


@turn_handler
async def my_reports(turn: Turn) -> None:
    """List the account's own reports."""
    await say_my_reports(turn)


async def report_details(turn: Turn, report: Report) -> str:
    """Public view of a report: what the reporter may see, never internal handling notes."""
    _ = turn._
    assert report.id is not None
    tz = turn.services.settings.tz
    category = await turn.session.get(Category, report.category_id)
    department = (
        await turn.session.get(Department, report.department_id) if report.department_id else None
    )
    lines = [
        _("<b>Report {number}</b>").format(number=report.number),
        _("State: {state}").format(state=state_label(report.state, _)),
        _("Category: {value}").format(
            value=esc(category_name(category, turn.language)) if category else "—"
        ),
        _("Unit: {value}").format(value=esc(department.name) if department else _("Not sure")),
        _("Filed: {date}").format(date=local_time(report.created_at, tz)),
        "",
        _("<b>Timeline</b>"),
    ]
    timeline = await _timeline_lines(turn, report.id)
    merged = (
        await turn.session.get(Report, report.merged_into_id) if report.merged_into_id else None
    )
    if merged is not None and merged.id is not None:
        # 并单: the reporter follows the earlier report, so its public steps are theirs too.
        timeline += [
            "",
            _("<b>Handled together with {number}</b> (now: {state})").format(
                number=merged.number, state=state_label(merged.state, _)
            ),
        ]
        timeline += await _timeline_lines(turn, merged.id)
    return fit_message(lines, timeline)


async def _timeline_lines(turn: Turn, report_id: int) -> list[str]:
    tz = turn.services.settings.tz
    lines = []
    for event in await public_timeline(turn.session, report_id):
        line = public_event_line(event.kind, local_time(event.created_at, tz), event.body, turn._)
        if line:
            lines.append(line)
    return lines


@turn_handler
async def status(turn: Turn) -> None:
    """Show one of the account's own reports."""
    _ = turn._
    args = turn.context.args or []
    number = parse_number(args[0]) if args else None
    if number is None:
        turn.say(_("Please give a report number, for example /status ZF2026-000123."))
        return
    assert turn.account.id is not None
    report = await report_of_account(turn.session, turn.account.id, number)
    if report is None:
        # The same answer whether the number exists or not: numbers are public, reports not.
        turn.say(
            _(
                "No report {number} is linked to this account. A fully anonymous report can "
                "only be opened with /receipt and its code."
            ).format(number=esc(number))
        )
        return
    turn.say(await report_details(turn, report))


# --- receipt -----------------------------------------------------------------------------------


async def _open_with_code(turn: Turn, text: str) -> ReceiptState | int:
    _ = turn._
    settings = turn.services.settings.receipt
    assert turn.account.id is not None
    wait = await throttle_wait(turn.session, turn.account.id, turn.now)
    if wait is not None:
        turn.say(
            _("Too many wrong codes. Please wait {seconds} seconds before trying again.").format(
                seconds=int(wait.total_seconds()) + 1
            )
        )
        return END
    raw = normalize_receipt(text)
    report = await report_by_receipt(turn.session, raw) if raw else None
    if report is None:
        delay = await record_failure(
            turn.session,
            turn.account.id,
            turn.now,
            free_attempts=settings.free_attempts,
            base_delay=settings.base_delay_seconds,
            max_delay=settings.max_delay_seconds,
        )
        message = _("No report has this receipt code. Please check it and try again.")
        if delay:
            message += "\n" + _("Next try possible in {seconds} seconds.").format(
                seconds=int(delay.total_seconds())
            )
        turn.say(message)
        return END
    await record_success(turn.session, turn.account.id)
    assert report.id is not None
    chat = turn.update.effective_chat
    assert chat is not None
    turn.services.receipt_sessions[chat.id] = report.id
    turn.say(await report_details(turn, report), receipt_keyboard(turn, report))
    return ReceiptState.MENU


def receipt_keyboard(turn: Turn, report: Report) -> Keyboard:
    """What the holder of the receipt can do now: answer a question, rate an answer, add."""
    _ = turn._
    rows: Keyboard = []
    if report.state is ReportState.info_requested:
        rows.append([(_("Answer the question"), cb.RECEIPT.pack("answer"))])
    if report.state is ReportState.replied:
        rows.append(
            [
                (_(label), cb.RECEIPT.pack(RATE_ACTION + r.value))
                for r, label in RATING_LABELS.items()
            ]
        )
    rows.append([(_("Add information"), cb.RECEIPT.pack("add"))])
    rows.append([(_("Close"), cb.RECEIPT.pack("close"))])
    return rows


def _receipt_actor(turn: Turn, report: Report) -> Actor:
    """Whoever holds the receipt speaks for the reporter; a fully anonymous report stays
    unlinked, so the event records no account."""
    linked = report.reporter_account_id == turn.account.id
    return Actor(account_id=turn.account.id if linked else None, is_reporter=True)


async def _receipt_report(turn: Turn) -> Report | None:
    chat = turn.update.effective_chat
    assert chat is not None
    report_id = turn.services.receipt_sessions.get(chat.id)
    return await turn.session.get(Report, report_id) if report_id else None


def _forget_report(turn: Turn) -> None:
    chat = turn.update.effective_chat
    assert chat is not None
    turn.services.receipt_sessions.pop(chat.id, None)


def _reopen(turn: Turn) -> int:
    """The opened report was forgotten (a restart, or another /receipt): leave the flow."""
    turn.say(turn._("Please open the report again with /receipt and your code."))
    return END


@turn_handler
async def receipt_command(turn: Turn) -> ReceiptState | int:
    """Open a report by receipt code, given with the command or asked for."""
    args = turn.context.args or []
    if not args:
        turn.say(turn._("Please send your receipt code."))
        return ReceiptState.CODE
    return await _open_with_code(turn, " ".join(args))


@turn_handler
async def receipt_code(turn: Turn) -> ReceiptState | int:
    """Take the receipt code typed after /receipt."""
    return await _open_with_code(turn, turn.text)


@turn_handler
async def receipt_menu(turn: Turn) -> ReceiptState | int:
    """Add information or close the opened report."""
    fields = cb.RECEIPT.unpack(turn.callback_data)
    chat = turn.update.effective_chat
    assert chat is not None
    turn.clear_keyboard = True
    if chat.id not in turn.services.receipt_sessions:
        turn.toast = turn._("This button is no longer valid.")
        return END
    action = fields["action"] if fields is not None else "close"
    if action == "add":
        turn.say(
            turn._("Type the information to add (up to {max} characters).").format(
                max=turn.services.settings.report.description_max_chars
            )
        )
        return ReceiptState.ADD_INFO
    report = await _receipt_report(turn)
    if action == "answer" and report is not None:
        if report.state is not ReportState.info_requested:
            turn.say(await refusal(turn, report, Refused(RefusalReason.wrong_state)))
            return END
        turn.say(
            turn._(
                "Type your answer for report {number} (up to {max} characters). Or /cancel."
            ).format(number=report.number, max=reporter.ANSWER_MAX)
        )
        return ReceiptState.ANSWER
    rating = action.removeprefix(RATE_ACTION)
    if action.startswith(RATE_ACTION) and rating in set(Rating) and report is not None:
        if report.state is not ReportState.replied:
            turn.say(await refusal(turn, report, Refused(RefusalReason.wrong_state)))
            return END
        turn.services.receipt_ratings[chat.id] = rating
        text, _keyboard = reporter.rating_prompt(turn, report, Rating(rating))
        turn.say(text, [[(turn._("Rate without a comment"), cb.RECEIPT.pack("nocomment"))]])
        return ReceiptState.COMMENT
    if action == "nocomment" and report is not None:
        return await _rate_from_receipt(turn, report, None)
    turn.services.receipt_sessions.pop(chat.id, None)
    turn.say(turn._("Closed. Send /receipt with your code to open it again."))
    return END


@turn_handler
async def receipt_add_info(turn: Turn) -> ReceiptState | int:
    """Append the typed information to the report's timeline."""
    _ = turn._
    report = await _receipt_report(turn)
    if report is None:
        return _reopen(turn)
    text = typed_text(turn, turn.services.settings.report.description_max_chars)
    if text is None:
        return ReceiptState.ADD_INFO
    # Fully anonymous reports stay unlinked: the event records no account.
    actor = report.reporter_account_id if report.reporter_account_id == turn.account.id else None
    await add_reporter_info(turn.session, report, text=text, actor_account_id=actor, now=turn.now)
    _forget_report(turn)
    turn.say(_("Added to report {number}. Thank you.").format(number=report.number))
    return END


async def _rate_from_receipt(turn: Turn, report: Report, comment: str | None) -> int:
    chat = turn.update.effective_chat
    assert chat is not None
    rating = turn.services.receipt_ratings.pop(chat.id, None)
    if rating is None:
        return _reopen(turn)
    turn.say(
        await reporter.rate(turn, report, Rating(rating), comment, _receipt_actor(turn, report))
    )
    turn.services.receipt_sessions.pop(chat.id, None)
    return END


@turn_handler
async def receipt_answer(turn: Turn) -> ReceiptState | int:
    """Relay the typed answer to the unit's question."""
    report = await _receipt_report(turn)
    if report is None:
        return _reopen(turn)
    text = typed_text(turn, reporter.ANSWER_MAX)
    if text is None:
        return ReceiptState.ANSWER
    turn.say(await reporter.answer_question(turn, report, text, _receipt_actor(turn, report)))
    _forget_report(turn)
    return END


@turn_handler
async def receipt_comment(turn: Turn) -> ReceiptState | int:
    """The optional comment of a rating given through the receipt."""
    report = await _receipt_report(turn)
    if report is None:
        return _reopen(turn)
    text = typed_text(turn, reporter.COMMENT_MAX)
    if text is None:
        return ReceiptState.COMMENT
    return await _rate_from_receipt(turn, report, text)


@turn_handler
async def receipt_wrong_input(turn: Turn) -> ReceiptState | int:
    """Answer anything else inside the receipt flow."""
    turn.say(turn._("Please send text, or /cancel to leave."))
    chat = turn.update.effective_chat
    if chat is not None and chat.id in turn.services.receipt_sessions:
        return ReceiptState.ADD_INFO if turn.update.callback_query is None else ReceiptState.MENU
    return ReceiptState.CODE


@turn_handler
async def receipt_cancel(turn: Turn) -> int:
    """Leave the receipt flow and forget the opened report."""
    chat = turn.update.effective_chat
    if chat is not None:
        turn.services.receipt_sessions.pop(chat.id, None)
        turn.services.receipt_ratings.pop(chat.id, None)
    turn.say(turn._("Closed. Nothing was added."))
    return END


def build_handlers() -> list[Handler]:
    receipt = conversation(
        entry_points=[CommandHandler("receipt", receipt_command, filters=PRIVATE)],
        states={
            ReceiptState.CODE: [
                MessageHandler(TEXT, receipt_code),
                MessageHandler(NOT_TEXT, receipt_wrong_input),
            ],
            ReceiptState.MENU: [
                CallbackQueryHandler(receipt_menu, pattern=cb.RECEIPT.pattern),
                MessageHandler(TEXT | NOT_TEXT, receipt_wrong_input),
            ],
            ReceiptState.ADD_INFO: [
                MessageHandler(TEXT, receipt_add_info),
                MessageHandler(NOT_TEXT, receipt_wrong_input),
            ],
            ReceiptState.ANSWER: [
                MessageHandler(TEXT, receipt_answer),
                MessageHandler(NOT_TEXT, receipt_wrong_input),
            ],
            ReceiptState.COMMENT: [
                MessageHandler(TEXT, receipt_comment),
                CallbackQueryHandler(receipt_menu, pattern=cb.RECEIPT.pattern),
                MessageHandler(NOT_TEXT, receipt_wrong_input),
            ],
        },
        fallbacks=[CommandHandler("cancel", receipt_cancel)],
        name="receipt",
        persistent=False,
        allow_reentry=True,
    )
    return [
        receipt,
        CommandHandler("myreports", my_reports, filters=PRIVATE),
        CommandHandler("status", status, filters=PRIVATE),
    ]
