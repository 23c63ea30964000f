"""The digest's chat messages (Telegram HTML): one per department, one city-wide for the office.

Pure functions of a `Digest` and a translator, so the monthly job, `/digest` and the command
line send the same words. Every message stays under Telegram's limit: names are cut, and the
overdue numbers are already capped by the digest (the count is always given in full).
"""

from __future__ import annotations

from bot.runtime.i18n import Translator
from bot.runtime.render import MESSAGE_MAX, cut, esc
from db.cases.metrics import DepartmentMetrics
from db.duties.metrics import DutyMetrics
from db.office.digest import DepartmentFigures, Digest
from db.ratings.figures import RatingFigures

NAME_MAX = 40
"""Department names in the lists; the office knows the units by these first characters."""


def percent(rate: float | None) -> str:
    """A rate as 97.5%, or — when it has no denominator (never shown as 0% or 100%)."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def month_title(digest: Digest, _: Translator) -> str:
    return _("Work-style bulletin for {year}-{month:02d}").format(
        year=digest.month.year, month=digest.month.month
    )


def _figure_lines(metrics: DepartmentMetrics, _: Translator) -> list[str]:
    return [
        _("Received: {received}").format(received=metrics.received),
        _("Signed on time: {count} ({rate})").format(
            count=metrics.signed_on_time, rate=percent(metrics.signed_on_time_rate)
        ),
        _("Answered: {answered}, on time: {count} ({rate})").format(
            answered=metrics.answered,
            count=metrics.answered_on_time,
            rate=percent(metrics.answered_on_time_rate),
        ),
        _("Returned: {count} ({rate})").format(
            count=metrics.returned, rate=percent(metrics.returned_rate)
        ),
        _("Reopened: {count} ({rate})").format(
            count=metrics.reopened, rate=percent(metrics.reopened_rate)
        ),
        _("Satisfied: {satisfied} of {ratings} ratings ({rate})").format(
            satisfied=metrics.satisfied,
            ratings=metrics.ratings,
            rate=percent(metrics.satisfaction_rate),
        ),
        _("Open now: {open}, overdue: {overdue} ({rate})").format(
            open=metrics.open_now,
            overdue=metrics.overdue_now,
            rate=percent(metrics.overdue_rate),
        ),
    ]


def _duty_lines(duties: DutyMetrics, _: Translator) -> list[str]:
    """按时报送率 and 整改完成率 (see `db.duties.metrics` for what each counts)."""
    return [
        _("Submissions on time: {rate} ({count} of {due} due)").format(
            rate=percent(duties.submission_on_time_rate),
            count=duties.submissions_on_time,
            due=duties.submissions_due,
        ),
        _("Ledger completed: {rate} ({count} of {due} items due)").format(
            rate=percent(duties.ledger_completion_rate),
            count=duties.items_completed,
            due=duties.items_due,
        ),
    ]


def _service_rating_lines(figures: RatingFigures | None, _: Translator) -> list[str]:
    """Post-service ratings (公述民评): a separate source, shown only where there are some."""
    if figures is None or figures.ratings == 0:
        return []
    return [
        _(
            "Service ratings (scanned after the service, counted apart from the score): "
            "{rate} satisfied of {count}, {unsatisfied} unsatisfied"
        ).format(
            rate=percent(figures.satisfaction_rate),
            count=figures.ratings,
            unsatisfied=figures.unsatisfied,
        )
    ]


def department_message(digest: Digest, department_id: int, _: Translator) -> str:
    """What a department's liaisons and leader get: its own figures and overdue numbers."""
    figures = digest.department(department_id)
    lines = [_bold(month_title(digest, _)), _bold(figures.name), ""]
    lines += _figure_lines(figures.metrics, _)
    lines += _duty_lines(figures.duties, _)
    lines += _service_rating_lines(digest.service_ratings.get(department_id), _)
    if figures.overdue_numbers:
        lines += ["", _("Overdue reports:")]
        lines += [f"• <code>{esc(number)}</code>" for number in figures.overdue_numbers]
        more = figures.metrics.overdue_now - len(figures.overdue_numbers)
        if more > 0:
            lines.append(_("… and {count} more").format(count=more))
    lines.append("")
    if figures.rank is None:
        lines.append(_("Not ranked this month: no reports received and nothing due."))
    else:
        lines.append(
            _("Rank: {rank} of {ranked}, score {score}").format(
                rank=figures.rank, ranked=len(digest.ranked), score=f"{figures.score:.1f}"
            )
        )
    return _fit(lines)


def _board_line(figures: DepartmentFigures) -> str:
    return f"{figures.rank}. {esc(cut(figures.name, NAME_MAX))} — {figures.score:.1f}"


def office_message(digest: Digest, _: Translator) -> str:
    """What the office (作风办) gets: city totals, the ranking's top and bottom five."""
    lines = [_bold(month_title(digest, _)), _("City-wide totals"), ""]
    lines += _figure_lines(digest.totals, _)
    lines += _duty_lines(digest.duty_totals, _)
    lines += _service_rating_lines(digest.service_rating_totals, _)
    lines += [
        "",
        _("Units ranked: {ranked}; not ranked (nothing received or due): {unranked}").format(
            ranked=len(digest.ranked), unranked=len(digest.unranked)
        ),
    ]
    if digest.top:
        lines += ["", _bold(_("Top five (red list)"))]
        lines += [_board_line(figures) for figures in digest.top]
    if digest.bottom:
        lines += ["", _bold(_("Bottom five (black list)"))]
        lines += [_board_line(figures) for figures in digest.bottom]
    # The outbox sends a message's files before its text (so the text's buttons stay last).
    lines += ["", _("The chart and the workbook with every unit are above this message.")]
    return _fit(lines)


def _bold(text: str) -> str:
    return f"<b>{esc(text)}</b>"


def _fit(lines: list[str]) -> str:
    text = "\n".join(lines)
    if len(text) > MESSAGE_MAX:  # only with absurd settings; never cut inside a tag
        raise ValueError("digest message too long; lower digest.overdue_numbers_max")
    return text
