"""Formatting shared by every flow: escaping, times in the campaign zone, labels of enums."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.runtime.i18n import N_, Translator
from db.cases.rules import Rating
from db.models import EventKind, IdentityMode, ReportState, Role


def esc(text: object) -> str:
    """Escape user text for Telegram's HTML parse mode (it needs only <, > and &)."""
    return html.escape(str(text), quote=False)


MESSAGE_MAX = 3900
"""Below Telegram's 4096 characters per message, with room for a cut marker."""
TIMELINE_BODY_MAX = 600


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


BUTTON_LABEL_MAX = 30
"""Longer button labels wrap or get cut by the client; a unit's name is cut to this."""


def button_label(text: str) -> str:
    return cut(text, BUTTON_LABEL_MAX)


def fit_message(head: list[str], timeline: list[str]) -> str:
    """Head and timeline in one message, dropping the oldest timeline lines when it would be
    too long for Telegram (each line is short by construction: long bodies are cut)."""
    shown = list(timeline)
    while shown and len("\n".join([*head, "…", *shown])) > MESSAGE_MAX:
        shown.pop(0)
    return "\n".join([*head, *(["…"] if len(shown) < len(timeline) else []), *shown])


def fit_lines(
    head: str, lines: list[str], more: Callable[[int], str], fits: Callable[[str], bool]
) -> str:
    """Head and as many lines as `fits` one message, then `more(how many were left out)`: a
    long list is still one message and says what it leaves out."""
    whole = "\n".join([head, *lines])
    if fits(whole):
        return whole
    reserve = more(len(lines))  # the longest tail it can need
    shown: list[str] = []
    for line in lines:
        if not fits("\n".join([head, *shown, line, reserve])):
            break
        shown.append(line)
    return "\n".join([head, *shown, more(len(lines) - len(shown))])


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def marked_due(due: str, guessed: bool, _: Translator) -> str:
    """A due time as shown, marked when it was counted over days whose holidays the calendar
    only guesses (`db.calendar.workdays.guessed_span`): the reader must know it may move."""
    if not guessed:
        return due
    return _("{due} (estimated: holidays not yet entered)").format(due=due)


def guess_warning(span: tuple[date, date], _: Translator) -> str:
    """What the admin who set a guessed deadline is told: which dates to check, and where."""
    first, last = span
    return _(
        "⚠ This due time rests on a guessed calendar: the holidays from {first} to {last} are "
        "not entered yet, so Monday–Friday was assumed. Check those dates with /calendar and "
        "enter the official holidays and 调休."
    ).format(first=f"{first:%Y-%m-%d}", last=f"{last:%Y-%m-%d}")


STATE_LABELS: dict[ReportState, str] = {
    ReportState.received: N_("Received, awaiting review"),
    ReportState.assigned: N_("Assigned to the unit"),
    ReportState.signed: N_("Being handled"),
    ReportState.info_requested: N_("Waiting for more information"),
    ReportState.replied: N_("Answered, awaiting your rating"),
    ReportState.rated: N_("Rated"),
    ReportState.closed: N_("Closed"),
    ReportState.rejected: N_("Not accepted"),
    ReportState.returned: N_("Being reassigned"),
    ReportState.merged: N_("Merged into another report"),
    ReportState.escalated: N_("Referred to the campaign office"),
}

IDENTITY_LABELS: dict[IdentityMode, str] = {
    IdentityMode.real_name: N_("Real name"),
    IdentityMode.anonymous: N_("Anonymous"),
    IdentityMode.fully_anonymous: N_("Fully anonymous"),
}


RATING_LABELS: dict[Rating, str] = {
    Rating.satisfied: N_("Satisfied"),
    Rating.basically_satisfied: N_("Basically satisfied"),
    Rating.unsatisfied: N_("Unsatisfied"),
}


ROLE_LABELS: dict[Role, str] = {
    Role.admin: N_("admin"),
    Role.liaison: N_("liaison"),
    Role.leader: N_("leader"),
    Role.evaluator: N_("evaluator"),
}


def role_label(role: Role | str, _: Translator) -> str:
    return _(ROLE_LABELS[Role(role)])


def state_label(state: ReportState | str, _: Translator) -> str:
    return _(STATE_LABELS[ReportState(state)])


def identity_label(mode: IdentityMode | str, _: Translator) -> str:
    return _(IDENTITY_LABELS[IdentityMode(mode)])


# What the reporter reads on the timeline. Only public events reach it; `{text}` is the event's
# body (a reason, a question, an answer), escaped by the caller.
PUBLIC_EVENT_LABELS: dict[EventKind, str] = {
    EventKind.created: N_("{date} report filed"),
    EventKind.info_added: N_("{date} you added: {text}"),
    EventKind.accepted: N_("{date} accepted and assigned to the responsible unit"),
    EventKind.rejected: N_("{date} not accepted: {text}"),
    EventKind.merged: N_("{date} merged into an earlier report about the same matter"),
    EventKind.signed: N_("{date} the unit signed for it and is handling it"),
    EventKind.reassigned: N_("{date} assigned to another unit"),
    EventKind.info_requested: N_("{date} the unit asked: {text}"),
    EventKind.info_answered: N_("{date} you answered: {text}"),
    EventKind.extension_approved: N_("{date} the time limit was extended"),
    EventKind.replied: N_("{date} the unit answered: {text}"),
    EventKind.rated: N_("{date} you rated the answer"),
    EventKind.reopened: N_("{date} reopened for renewed handling"),
    EventKind.escalated: N_("{date} referred to the campaign office"),
    EventKind.closed: N_("{date} closed by the campaign office: {text}"),
    EventKind.closed_unrated: N_("{date} closed without a rating"),
}


def public_event_line(kind: EventKind | str, when: str, body: str | None, _: Translator) -> str:
    """One timeline line for the reporter; kinds without a public label are not shown."""
    label = PUBLIC_EVENT_LABELS.get(EventKind(kind))
    if label is None:
        return ""
    return _(label).format(date=when, text=esc(cut(body or "", TIMELINE_BODY_MAX)))
