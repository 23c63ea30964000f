"""The quarterly bulletin's messages (季度通报): the office's ranking and each unit's own line."""

from __future__ import annotations

from bot.documents.digest_text import NAME_MAX, percent
from bot.runtime.i18n import Translator
from bot.runtime.render import MESSAGE_MAX, cut, esc
from db.bulletin.bulletin import Bulletin
from db.bulletin.quarters import parse_quarter
from db.bulletin.scoring import COMPONENTS, UnitLine

LIST_MAX = 40
"""Ranked units listed in the office's message; the workbook has them all."""


def quarter_title(quarter: str, _: Translator) -> str:
    q = parse_quarter(quarter)
    return _("Quarterly bulletin for {year} Q{number}").format(year=q.year, number=q.number)


def component_label(name: str, _: Translator) -> str:
    labels = {
        "signed_on_time": _("Signed on time rate"),
        "answered_on_time": _("Answered on time rate"),
        "satisfaction": _("Satisfaction rate"),
        "returned": _("Returned rate"),
        "reopened": _("Reopened rate"),
        "submissions_on_time": _("Submission on-time rate"),
        "ledger_completion": _("Ledger completion rate"),
        "appraisal": _("Appraisal score"),
        "service_rating": _("Service rating satisfaction"),
    }
    return labels[name]


def component_value(name: str, value: float | None) -> str:
    if name == "appraisal":
        return "—" if value is None else f"{value:.1f}"
    return percent(value)


def score_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _line(unit: UnitLine, _: Translator) -> str:
    mark = " " + _("(bottom place)") if unit.bottom else ""
    return f"{unit.rank}. {esc(cut(unit.name, NAME_MAX))} — {score_text(unit.score)}{esc(mark)}"


def office_message(bulletin: Bulletin, _: Translator) -> str:
    """What the admins get: the ranking (the first `LIST_MAX` and every 末位) and the counts."""
    ranked = bulletin.ranked
    lines = [f"<b>{esc(quarter_title(bulletin.quarter, _))}</b>", ""]
    lines.append(
        _("Units ranked: {ranked}; not ranked (no figures): {unranked}").format(
            ranked=len(ranked), unranked=len(bulletin.units) - len(ranked)
        )
    )
    if ranked:
        heading = _("Ranking (score out of 100)")
        lines += ["", f"<b>{esc(heading)}</b>"]
        shown = list(ranked[:LIST_MAX])
        lines += [_line(u, _) for u in shown]
        rest = [u for u in ranked[LIST_MAX:] if u.bottom]
        if len(ranked) > LIST_MAX:
            lines.append("…")
            lines += [_line(u, _) for u in rest]
    if not bulletin.frozen:
        lines += ["", _("Preview: computed now, not yet sent or frozen.")]
    lines += ["", _("The chart and the workbook with every unit are above this message.")]
    text = "\n".join(lines)
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1].rsplit("\n", 1)[0]


def unit_message(bulletin: Bulletin, department_id: int, _: Translator) -> str:
    """What a unit's liaisons get: its own rank, score and components."""
    unit = bulletin.unit(department_id)
    lines = [f"<b>{esc(quarter_title(bulletin.quarter, _))}</b>", f"<b>{esc(unit.name)}</b>", ""]
    if unit.rank is None:
        lines.append(_("Your unit is not ranked this quarter: it has no figures."))
    else:
        lines.append(
            _("Rank {rank} of {count}, score {score}").format(
                rank=unit.rank, count=len(bulletin.ranked), score=score_text(unit.score)
            )
        )
        if unit.bottom:
            lines.append(esc(_("Your unit is in the bottom place this quarter.")))
    lines.append("")
    for name in COMPONENTS:
        value = unit.components.get(name)
        lines.append(f"{esc(component_label(name, _))}: {component_value(name, value)}")
    return "\n".join(lines)
