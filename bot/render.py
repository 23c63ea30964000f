"""Formatting shared by every flow: escaping, times in the campaign zone, labels of enums."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator
from db.models import IdentityMode, ReportState


def esc(text: object) -> str:
    """Escape user text for Telegram's HTML parse mode (it needs only <, > and &)."""
    return html.escape(str(text), quote=False)


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


STATE_LABELS: dict[ReportState, str] = {
    ReportState.received: N_("Received, awaiting review"),
    ReportState.assigned: N_("Assigned to the department"),
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


def state_label(state: ReportState | str, _: Translator) -> str:
    return _(STATE_LABELS[ReportState(state)])


def identity_label(mode: IdentityMode | str, _: Translator) -> str:
    return _(IDENTITY_LABELS[IdentityMode(mode)])
