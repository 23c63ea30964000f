"""A duty's period in words (2026-Q4 → 2026年第4季度), for every message and button that names
one: the office's views, the units' filing flow and the reminders all say it the same way."""

from __future__ import annotations

from bot.runtime.i18n import N_, Translator
from db.duties.rules import ONCE, parse_period

HALVES = (N_("first half of {year}"), N_("second half of {year}"))


def period_label(key: str, _: Translator) -> str:
    """The period a `Submission.period` key names; a one-off duty's `once` gets a word, and a key
    that does not parse is shown as it is (never an error in a reminder)."""
    period = parse_period(key)
    if period is None:
        return _("one-off") if key == ONCE else key
    year, rest = key.split("-", 1)
    if rest.startswith("Q"):
        return _("Q{quarter} {year}").format(quarter=rest[1:], year=year)
    if rest.startswith("H"):
        return _(HALVES[int(rest[1:]) - 1]).format(year=year)
    return _("{month}/{year}").format(month=period.start.month, year=year)
