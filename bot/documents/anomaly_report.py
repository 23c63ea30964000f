"""The anomaly report (异常情况报告) as the admins read it: each flag with its evidence and the
ids to give `/exclude`, in one Telegram message.

Accounts are named as the admin console names people (Telegram ID) with the internal account id
beside it; ballots and ratings by the ids `/exclude` takes. A flag's id list is cut at
`IDS_SHOWN` with its total, and flags that no longer fit end the message with "… and N more".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.documents.digest_text import percent
from bot.runtime.i18n import Translator
from bot.runtime.render import MESSAGE_MAX, esc, fit_lines, local_time
from bot.runtime.settings import AnomalySettings
from db.anomalies.load import Findings
from db.anomalies.rules import (
    Burst,
    ExtremeMarks,
    FarFromReports,
    Flag,
    IdenticalBallots,
    ItemKind,
    SingleUnitRaters,
    Thresholds,
)
from db.models import AppraisalRound, RoundState


def thresholds(settings: AnomalySettings) -> Thresholds:
    """The rules' thresholds from the `[anomalies]` settings."""
    return Thresholds(**settings.model_dump(exclude={"scan_interval_seconds"}))


IDS_SHOWN = 30
"""Ids listed per flag; a burst of hundreds says how many and shows the first ones."""


def _ids(ids: Iterable[int], _: Translator) -> str:
    every = list(ids)
    shown = ", ".join(str(i) for i in every[:IDS_SHOWN])
    if len(every) > IDS_SHOWN:
        return _("{ids} … ({count} in all)").format(ids=shown, count=len(every))
    return shown


def _accounts(ids: Iterable[int], findings: Findings, _: Translator) -> str:
    every = list(ids)
    shown = ", ".join(
        _("account {id} (ID {telegram_id})").format(id=a, telegram_id=findings.accounts.get(a, "?"))
        for a in every[:IDS_SHOWN]
    )
    if len(every) > IDS_SHOWN:
        return _("{ids} … ({count} in all)").format(ids=shown, count=len(every))
    return shown


def _unit(department_id: int, findings: Findings) -> str:
    unit = findings.units.get(department_id)
    return esc(f"{unit.code} {unit.name}") if unit is not None else str(department_id)


def _span(first: datetime, last: datetime, tz: ZoneInfo) -> str:
    return f"{local_time(first, tz)} – {local_time(last, tz)}"


def _items_line(kind: ItemKind, ids: Iterable[int], _: Translator) -> str:
    line = _("Ballot ids: {ids}") if kind is ItemKind.ballot else _("Rating ids: {ids}")
    return line.format(ids=_ids(ids, _))


def _identical(flag: IdenticalBallots, findings: Findings, _: Translator, tz: ZoneInfo) -> str:
    pattern = "; ".join(
        f"{esc(findings.units[u].code) if u in findings.units else u} "
        + ("/".join(str(m) for m in marks) if marks is not None else _("not dealt with"))
        for u, marks in flag.pattern
    )
    return "\n".join(
        [
            _(
                "• <b>Identical ballots</b>: {count} evaluators cast the same ballots for "
                "{units} units ({pattern}), {span}."
            ).format(
                count=len(flag.accounts),
                units=len(flag.pattern),
                pattern=pattern,
                span=_span(flag.first_at, flag.last_at, tz),
            ),
            "  " + _("Accounts: {accounts}").format(accounts=_accounts(flag.accounts, findings, _)),
            "  " + _items_line(ItemKind.ballot, flag.ballots, _),
        ]
    )


def _burst(flag: Burst, findings: Findings, _: Translator, tz: ZoneInfo) -> str:
    lines = [
        _(
            "• <b>Burst</b>: {count} ballots or ratings within an hour ({span}) from {accounts} "
            "of the {cohort} accounts that came in (joined or were invited) at {hour}."
        ).format(
            count=flag.count,
            span=_span(flag.first_at, flag.last_at, tz),
            accounts=len(flag.accounts),
            cohort=flag.cohort,
            hour=local_time(flag.hour, tz),
        ),
        "  " + _("Accounts: {accounts}").format(accounts=_accounts(flag.accounts, findings, _)),
    ]
    if flag.ballots:
        lines.append("  " + _items_line(ItemKind.ballot, flag.ballots, _))
    if flag.ratings:
        lines.append("  " + _items_line(ItemKind.rating, flag.ratings, _))
    return "\n".join(lines)


def _extreme(flag: ExtremeMarks, findings: Findings, _: Translator) -> str:
    who = _accounts([flag.account], findings, _)
    if flag.kind is ItemKind.ballot:
        head = (
            _("• <b>Extreme marks</b>: {who} gave only the top mark {mark} on {count} ballots.")
            if flag.top
            else _(
                "• <b>Extreme marks</b>: {who} gave only the lowest mark {mark} on {count} ballots."
            )
        )
    else:
        head = (
            _("• <b>Extreme marks</b>: {who} rated only “satisfied”, {count} service ratings.")
            if flag.top
            else _(
                "• <b>Extreme marks</b>: {who} rated only “unsatisfied”, {count} service ratings."
            )
        )
    text = head.format(who=who, mark=flag.mark, count=len(flag.items))
    return "\n".join([text, "  " + _items_line(flag.kind, flag.items, _)])


def _far(flag: FarFromReports, findings: Findings, _: Translator) -> str:
    if flag.kind is ItemKind.ballot:
        rated = _("appraisal score {score} ({count} ballots)").format(
            score=f"{flag.rated * 100:.1f}", count=flag.rated_count
        )
    else:
        rated = _("service rating satisfaction {rate} ({count} ratings)").format(
            rate=percent(flag.rated), count=flag.rated_count
        )
    return _(
        "• <b>Far from the reports</b>: {unit}: {rated}, but report satisfaction {reports} "
        "({count} ratings of reports)."
    ).format(
        unit=_unit(flag.department_id, findings),
        rated=rated,
        reports=percent(flag.reports),
        count=flag.report_count,
    )


def _single(flag: SingleUnitRaters, findings: Findings, _: Translator, tz: ZoneInfo) -> str:
    return "\n".join(
        [
            _(
                "• <b>Single-unit raters</b>: {count} service ratings of {unit} ({span}) from "
                "{accounts} accounts that never rated another unit or cast a ballot."
            ).format(
                count=len(flag.ratings),
                unit=_unit(flag.department_id, findings),
                span=_span(flag.first_at, flag.last_at, tz),
                accounts=len(flag.accounts),
            ),
            "  " + _("Accounts: {accounts}").format(accounts=_accounts(flag.accounts, findings, _)),
            "  " + _items_line(ItemKind.rating, flag.ratings, _),
        ]
    )


def flag_text(flag: Flag, findings: Findings, _: Translator, tz: ZoneInfo) -> str:
    if isinstance(flag, IdenticalBallots):
        return _identical(flag, findings, _, tz)
    if isinstance(flag, Burst):
        return _burst(flag, findings, _, tz)
    if isinstance(flag, ExtremeMarks):
        return _extreme(flag, findings, _)
    if isinstance(flag, FarFromReports):
        return _far(flag, findings, _)
    return _single(flag, findings, _, tz)


def round_title(round_: AppraisalRound, _: Translator) -> str:
    head = _("<b>Anomaly report</b>: appraisal round {id} “{title}” ({period})").format(
        id=round_.id, title=esc(round_.title), period=esc(round_.period)
    )
    if round_.state is RoundState.open:
        head += "\n" + _("The round is still open: ballots may still change.")
    return head


def month_title(month: date, _: Translator) -> str:
    return _("<b>Anomaly report</b>: service ratings of {month}").format(month=f"{month:%Y-%m}")


def anomaly_text(
    title: str, findings: Findings, checked: ItemKind, _: Translator, tz: ZoneInfo
) -> str:
    """The report in one message: the title, each flag with its evidence, how to exclude.
    `checked` says what was judged: a round's ballots or a month's service ratings."""
    counted = (
        _("{count} ballots checked.")
        if checked is ItemKind.ballot
        else _("{count} service ratings checked.")
    ).format(count=findings.counted)
    if not findings.flags:
        return "\n".join([title, counted, _("No anomalies found.")])
    head = "\n".join(
        [
            title,
            counted,
            _("Each flag is for you to judge; nothing was changed or left out."),
            _(
                "To leave one out of the figures: /exclude ballot ID reason, "
                "or /exclude rating ID reason."
            ),
        ]
    )
    lines = ["\n" + flag_text(flag, findings, _, tz) for flag in findings.flags]
    return fit_lines(
        head,
        lines,
        lambda left: _("… and {count} more flags.").format(count=left),
        lambda text: len(text) <= MESSAGE_MAX,
    )
