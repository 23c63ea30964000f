"""What the ledger flows share: who may see or touch an item, how an item reads, its buttons,
and telling a unit's liaisons or the office about it.

An item a person may not see is answered exactly like an unknown number, so nobody learns from
the bot which other units have findings against them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from bot.runtime import callbacks as cb
from bot.runtime.duty_labels import LEDGER_STATE_LABELS, SOURCE_LABELS
from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.render import cut, esc, fit_message, local_time
from bot.runtime.turn import Keyboard, Outgoing, Turn
from bot.runtime.uploads import incoming_file, receive
from db.calendar.date_input import DateProblem
from db.calendar.workdays import end_of_day, local_date
from db.cases.categories import category_name
from db.cases.drafts import DraftFile
from db.duties.filing import OfficialUnits, official_units
from db.ledger.items import history_of, status_of
from db.ledger.rules import LedgerAction, item_overdue
from db.ledger.updates import files_by_update
from db.models import (
    Category,
    Department,
    DutyFile,
    LedgerSource,
    LedgerState,
    LedgerUpdateKind,
    RectificationItem,
)
from db.people.roles import Recipient, admin_recipients, department_recipients, is_admin

LINE_CUT = 60
NOTE_CUT = 300
NO_LIAISON = N_("⚠ The unit has no liaison who can be reached; they will see it in /ledger.")

OVERDUE = N_("Overdue")
HISTORY_LABELS: dict[LedgerUpdateKind, str] = {
    LedgerUpdateKind.created: N_("{date} recorded"),
    LedgerUpdateKind.progress: N_("{date} progress: {note}"),
    LedgerUpdateKind.done: N_("{date} marked rectified: {note}"),
    LedgerUpdateKind.confirmed: N_("{date} confirmed by the campaign office"),
    LedgerUpdateKind.reopened: N_("{date} reopened by the campaign office: {note}"),
}


def item_label(_: Translator, item_id: int) -> str:
    return _("Item #{id}").format(id=item_id)


@dataclass(frozen=True)
class Standing(OfficialUnits):
    """What the presser is to the ledger: the units they keep (liaison), the units they read
    (leader), and whether they are the office."""

    admin: bool

    def may_see(self, item: RectificationItem) -> bool:
        return self.admin or item.department_id in self.liaison_of | self.leader_of

    def keeps(self, item: RectificationItem) -> bool:
        return item.department_id in self.liaison_of


async def standing(turn: Turn) -> Standing:
    assert turn.account.id is not None
    units = await official_units(turn.session, turn.account.id)
    admin = await is_admin(turn.session, turn.account, turn.services.settings.admin_ids)
    return Standing(units.liaison_of, units.leader_of, admin)


def no_such_item(turn: Turn, text: str) -> str:
    return turn._("There is no ledger item {number} that you may see.").format(
        number=esc(cut(text, 40))
    )


def state_text(_: Translator, item: RectificationItem, turn: Turn) -> str:
    if item_overdue(status_of(item), turn.now):
        return _(OVERDUE)
    return _(LEDGER_STATE_LABELS[LedgerState(item.state)])


async def item_line(turn: Turn, item: RectificationItem) -> str:
    """One line of a list: number, source, category, state, due day, 责任人, description cut."""
    _ = turn._
    assert item.id is not None
    category = await turn.session.get(Category, item.category_id) if item.category_id else None
    parts = [
        f"<b>{item_label(_, item.id)}</b>",
        _(SOURCE_LABELS[LedgerSource(item.source)]),
        esc(category_name(category, turn.language)) if category else None,
        state_text(_, item, turn),
        _("due {date}").format(date=local_time(item.due_at, turn.services.settings.tz)[:10]),
        _("owner {name}").format(name=esc(item.owner_name)) if item.owner_name else None,
        _("reopened {count}×").format(count=item.reopen_count) if item.reopen_count else None,
    ]
    head = " · ".join(p for p in parts if p)
    return f"{head}\n    {esc(cut(item.description, LINE_CUT))}"


def _file_line(_: Translator, file: DutyFile) -> str:
    name = file.file_name or (_("photo") if file.kind == "photo" else _("file"))
    return _("    📎 {name} ({size} KB)").format(name=esc(name), size=max(1, file.size // 1024))


async def item_card(turn: Turn, item: RectificationItem, language: str | None = None) -> str:
    """The whole item with its history and the evidence of each step, in the presser's language
    or another's (a notice)."""
    language = language or turn.language
    _ = gettext_for(language)
    assert item.id is not None
    tz = turn.services.settings.tz
    unit = await turn.session.get(Department, item.department_id)
    category = await turn.session.get(Category, item.category_id) if item.category_id else None
    head = [
        f"<b>{item_label(_, item.id)}</b> · {esc(unit.name if unit else '—')}",
        _("Source: {source}").format(source=_(SOURCE_LABELS[LedgerSource(item.source)])),
        _("Category: {name}").format(
            name=esc(category_name(category, language)) if category else "—"
        ),
        _("State: {state}").format(state=state_text(_, item, turn)),
        _("Due: {due}").format(due=local_time(item.due_at, tz)),
        _("Finding: {text}").format(text=esc(item.description)),
    ]
    if item.measure:
        head.append(_("Measure: {text}").format(text=esc(item.measure)))
    if item.owner_name:
        head.append(_("Responsible: {name}").format(name=esc(item.owner_name)))
    if item.reopen_count:
        head.append(_("Reopened {count} times").format(count=item.reopen_count))
    head.append(_("History:"))
    files = await files_by_update(turn.session, item.id)
    history: list[str] = []
    for update in await history_of(turn.session, item.id):
        history.append(
            _(HISTORY_LABELS[LedgerUpdateKind(update.kind)]).format(
                date=local_time(update.created_at, tz),
                note=esc(cut(update.note or "", NOTE_CUT)),
            )
        )
        history += [_file_line(_, f) for f in files.get(update.id or 0, [])]
    return fit_message(head, history)


def liaison_buttons(_: Translator, item: RectificationItem) -> Keyboard:
    """Progress and done, for an open item of the liaison's unit."""
    assert item.id is not None
    if item.state is not LedgerState.open:
        return []
    label = item_label(_, item.id)
    return [
        [
            (_("{item}: progress").format(item=label), _pack(LedgerAction.progress, item)),
            (_("{item}: rectified").format(item=label), _pack(LedgerAction.done, item)),
        ]
    ]


def office_buttons(_: Translator, item: RectificationItem) -> Keyboard:
    """Confirm and reopen for a done item; reopen alone for a confirmed one."""
    assert item.id is not None
    label = item_label(_, item.id)
    reopen = (_("{item}: reopen").format(item=label), _pack(LedgerAction.reopen, item))
    if item.state is LedgerState.done:
        confirm = (_("{item}: confirm").format(item=label), _pack(LedgerAction.confirm, item))
        return [[confirm, reopen]]
    if item.state is LedgerState.confirmed:
        return [[reopen]]
    return []


def _pack(action: LedgerAction, item: RectificationItem) -> str:
    return cb.LEDGER_ITEM.pack(action.value, item.id or 0, item.version)


def buttons_for(_: Translator, seen_by: Standing, item: RectificationItem) -> Keyboard:
    rows: Keyboard = []
    if seen_by.keeps(item):
        rows += liaison_buttons(_, item)
    if seen_by.admin:
        rows += office_buttons(_, item)
    return rows


Framing = Callable[[Translator], tuple[str, Keyboard | None]]
"""A notice's own words (above the item's card) and its buttons, in the recipient's language."""


async def item_notices(
    turn: Turn, recipients: list[Recipient], item: RectificationItem, framing: Framing
) -> None:
    """Queue a notice with the item's card to each recipient, all in their own language."""
    cards: dict[str, str] = {}
    for recipient in recipients:
        if recipient.language not in cards:
            cards[recipient.language] = await item_card(turn, item, recipient.language)
        _ = gettext_for(recipient.language)
        text, keyboard = framing(_)
        card = cards[recipient.language]
        turn.notify([Outgoing(recipient.telegram_id, f"{text}\n\n{card}", keyboard)])


async def notify_unit(turn: Turn, item: RectificationItem, framing: Framing) -> bool:
    """Tell the item's unit's liaisons (after the commit); False when none can be reached."""
    recipients = await department_recipients(turn.session, item.department_id)
    await item_notices(turn, recipients, item, framing)
    return bool(recipients)


async def tell_unit(turn: Turn, item: RectificationItem, framing: Framing) -> None:
    """Tell the item's unit's liaisons, warning the office when none can be reached."""
    if not await notify_unit(turn, item, framing):
        turn.say(turn._(NO_LIAISON))


async def notify_office(turn: Turn, item: RectificationItem, framing: Framing) -> None:
    settings = turn.services.settings
    recipients = await admin_recipients(turn.session, settings.admin_ids, settings.default_language)
    await item_notices(turn, recipients, item, framing)


def parse_item_number(text: str) -> int | None:
    """`12`, `#12`, `整改#12`, `Item #12` → 12."""
    digits = text.strip().rsplit("#", 1)[-1].strip()
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 9 else None


def date_problem(turn: Turn, problem: DateProblem) -> str:
    _ = turn._
    if problem is DateProblem.past:
        return _("That day has already passed. Please give a due date from today on.")
    return _("I cannot read that date. Please type it like 2026-12-31, 2026/12/31 or 12月31日.")


async def add_evidence(turn: Turn, files: list[DraftFile], keyboard: Keyboard, full: str) -> None:
    """One photo or file of evidence: checked like report evidence, kept by SHA-256 and added to
    `files`, unless `[duties] max_files` are there already (`full`, with `{max}`, says so)."""
    _ = turn._
    message = turn.update.effective_message
    assert message is not None
    maximum = turn.services.settings.duties.max_files
    if len(files) >= maximum:
        turn.say(full.format(max=maximum), keyboard)
        return
    incoming = incoming_file(message)
    assert incoming is not None  # the step's filter lets only photos and documents in
    received = await receive(turn, incoming)
    if isinstance(received, str):
        turn.say(received, keyboard)
        return
    files.append(received)
    turn.say(
        _("Evidence {count} of at most {max} received.").format(count=len(files), max=maximum),
        keyboard,
    )


def evidence_hint(turn: Turn) -> str:
    """What an evidence step answers to input that is no photo or file."""
    _ = turn._
    message = turn.update.effective_message
    if message is not None and message.text:
        return _("Please send a photo or a file, or press “No more files”.")
    return _(
        "Stickers, voice messages, videos and the like cannot be used as evidence. Please send "
        "a photo or a file, or press “No more files”."
    )


def local_today(turn: Turn) -> date:
    return local_date(turn.now, turn.services.settings.tz)


def due_time(turn: Turn, day: date) -> datetime:
    """A due day ends at local midnight, like every due day of the duties."""
    return end_of_day(day, turn.services.settings.tz)


def new_item_framing(item_id: int, item: RectificationItem) -> Framing:
    """The liaisons' notice of a new item the office recorded, with the update buttons."""

    def framing(_: Translator) -> tuple[str, Keyboard | None]:
        text = _("The campaign office recorded {item} in your unit's rectification ledger:")
        return text.format(item=item_label(_, item_id)), liaison_buttons(_, item)

    return framing
