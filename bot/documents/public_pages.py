"""The public page's HTML (公示页面): server-rendered, Chinese first (`lang` of the campaign's
language), headings and tables with `<th scope>` for screen readers, alt text on every image,
one small stylesheet that reflows for phones, and no script at all.

Everything shown comes from a published `Bulletin` or a `PublicUnit`: figures, unit names and
codes, a window's published duties and its poster's QR code; nothing that could identify a
reporter or show a report's content is ever passed in. Every value is escaped with
`html.escape`, a unit's name included.
"""

from __future__ import annotations

import base64
import io
from html import escape
from urllib.parse import quote

from bot.documents.bulletin_text import quarter_title, score_text
from bot.documents.digest_text import percent
from bot.runtime.i18n import Translator
from db.bulletin.bulletin import Bulletin
from db.bulletin.public import MonthFigures, PublicUnit

STYLE = """
body{font-family:"Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
color:#1f2933;background:#f7f7f5;line-height:1.6}
header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}
header{border-bottom:3px solid #b03a2e}
h1{font-size:1.5rem;margin:.8rem 0}
h2{font-size:1.2rem;margin-top:1.6rem}
a{color:#1d4e89}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d5d5d0;padding:.4rem .5rem;text-align:left}
thead th{background:#eceae4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bottom td,tr.bottom th{background:#fbe9e7}
.mark{color:#b03a2e;font-weight:bold}
img.chart{max-width:100%;height:auto;background:#fff}
img.qr{width:10rem;height:10rem}
footer{color:#666;font-size:.85rem;margin-top:2rem;padding-bottom:2rem}
@media (max-width:40rem){body{font-size:15px}th,td{padding:.3rem}h1{font-size:1.25rem}}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def page(title: str, body: str, _: Translator, language: str = "zh-CN") -> str:
    """A whole document around `body` (already escaped HTML)."""
    site = _("Work-style campaign: public results")
    note = _("Published by the campaign office. Figures only: no report or reporter is shown.")
    return (
        f'<!DOCTYPE html>\n<html lang="{_e(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)} — {_e(site)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<header><p><a href="/">{_e(site)}</a></p></header>\n'
        f'<main id="main">\n<h1>{_e(title)}</h1>\n{body}\n</main>\n'
        f"<footer><p>{_e(note)}</p></footer>\n"
        "</body>\n</html>\n"
    )


def index_page(bulletins: list[Bulletin], _: Translator, language: str = "zh-CN") -> str:
    none_yet = _("No quarter has been published yet.")
    heading = _("Published quarters")
    ranked = _("{count} units ranked")
    if not bulletins:
        body = f"<p>{_e(none_yet)}</p>"
    else:
        items = "\n".join(
            f'<li><a href="/q/{quote(b.quarter)}">{_e(quarter_title(b.quarter, _))}</a> '
            f"({_e(ranked.format(count=len(b.ranked)))})</li>"
            for b in bulletins
        )
        body = f"<h2>{_e(heading)}</h2>\n<ul>\n{items}\n</ul>"
    return page(_("Public results of the appraisals"), body, _, language)


def quarter_page(bulletin: Bulletin, _: Translator, language: str = "zh-CN") -> str:
    bottom_word = _("bottom place")
    caption = _("Ranking by quarterly score (out of 100)")
    rank_word = _("Rank")
    unit_word = _("Unit")
    score_word = _("Score")
    rows = []
    for unit in bulletin.units:
        mark = f' <span class="mark">{_e(bottom_word)}</span>' if unit.bottom else ""
        link = f'<a href="/unit/{quote(unit.code)}">{_e(unit.name)}</a>'
        rank = _e(unit.rank) if unit.rank is not None else _e(_("not ranked"))
        css = ' class="bottom"' if unit.bottom else ""
        rows.append(
            f'<tr{css}><td class="num">{rank}</td><th scope="row">{link}{mark}</th>'
            f'<td class="num">{_e(score_text(unit.score))}</td></tr>'
        )
    table = (
        f"<table>\n<caption>{_e(caption)}</caption>\n"
        f'<thead><tr><th scope="col">{_e(rank_word)}</th><th scope="col">{_e(unit_word)}</th>'
        f'<th scope="col">{_e(score_word)}</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )
    note = _e(
        _(
            "The score combines the handling of reports, duties, the appraisal and the "
            "service ratings of the quarter. Units with equal scores share a rank."
        )
    )
    body = f"<p>{note}</p>\n{table}"
    return page(quarter_title(bulletin.quarter, _), body, _, language)


def months_chart_svg(months: tuple[MonthFigures, ...], _: Translator) -> str:
    """Bars of the answered-on-time and satisfaction rates per month, as an SVG document."""
    answered_word = _("Answered on time rate")
    satisfaction_word = _("Satisfaction rate")
    width, height, left, bottom = 640, 240, 40, 40
    step = (width - left - 10) / max(len(months), 1)
    bar = step / 3
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    top = 20
    scale = height - bottom - top
    for tick in (0, 50, 100):
        y = top + scale * (1 - tick / 100)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}%</text>'
        )
    for index, month in enumerate(months):
        x = left + index * step + bar / 2
        for offset, rate, color in (
            (0, month.answered_on_time_rate, "#3b6ea8"),
            (bar, month.satisfaction_rate, "#d68910"),
        ):
            if rate is not None:
                h = scale * min(rate, 1.0)
                parts.append(
                    f'<rect x="{x + offset:.1f}" y="{top + scale - h:.1f}" width="{bar:.1f}" '
                    f'height="{h:.1f}" fill="{color}"/>'
                )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{month.month:%Y-%m}</text>"
        )
    legend_y = height - 8
    parts.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#3b6ea8"/>')
    parts.append(f'<text x="{left + 14}" y="{legend_y}">{_e(answered_word)}</text>')
    parts.append(
        f'<rect x="{left + 200}" y="{legend_y - 9}" width="10" height="10" fill="#d68910"/>'
    )
    parts.append(f'<text x="{left + 214}" y="{legend_y}">{_e(satisfaction_word)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def unit_page(unit: PublicUnit, qr_svg: str | None, _: Translator, language: str = "zh-CN") -> str:
    """A unit's ranks, its monthly figures with a chart and, for a window or key position, its
    published duties and the QR code of its poster (`qr_svg`, None: not shown)."""
    bottom_word = _("bottom place")
    rank_word = _("Rank")
    score_word = _("Score")
    answered_word = _("Answered on time rate")
    satisfaction_word = _("Satisfaction rate")
    code_word = _("Unit code")
    ranks_heading = _("Rank by quarter")
    quarter_word = _("Quarter")
    months_heading = _("Monthly figures")
    month_word = _("Month")
    received_word = _("Reports received")
    duties_heading = _("Published duties and service rating")
    sections = [f"<p>{_e(code_word)}: {_e(unit.code)}</p>"]
    rank_rows = []
    for quarter, rank, score, bottom in unit.ranks:
        mark = f' <span class="mark">{_e(bottom_word)}</span>' if bottom else ""
        shown = _e(rank) if rank is not None else _e(_("not ranked"))
        rank_rows.append(
            f'<tr><th scope="row"><a href="/q/{quote(quarter)}">'
            f"{_e(quarter_title(quarter, _))}</a></th>"
            f'<td class="num">{shown}{mark}</td><td class="num">{_e(score_text(score))}</td></tr>'
        )
    sections.append(
        f"<h2>{_e(ranks_heading)}</h2>\n<table>\n"
        f'<thead><tr><th scope="col">{_e(quarter_word)}</th><th scope="col">{_e(rank_word)}</th>'
        f'<th scope="col">{_e(score_word)}</th></tr></thead>\n<tbody>\n'
        + "\n".join(rank_rows)
        + "\n</tbody>\n</table>"
    )
    month_rows = "\n".join(
        f'<tr><th scope="row">{m.month:%Y-%m}</th><td class="num">{m.received}</td>'
        f'<td class="num">{_e(percent(m.answered_on_time_rate))}</td>'
        f'<td class="num">{_e(percent(m.satisfaction_rate))}</td></tr>'
        for m in unit.months
    )
    alt = _(
        "Chart of {unit}'s monthly answered-on-time and satisfaction rates: the same figures "
        "as the table below."
    ).format(unit=unit.name)
    sections.append(
        f"<h2>{_e(months_heading)}</h2>\n"
        f'<p><img class="chart" src="{_data_uri(months_chart_svg(unit.months, _))}" '
        f'alt="{_e(alt)}" width="640" height="240"></p>\n<table>\n'
        f'<thead><tr><th scope="col">{_e(month_word)}</th>'
        f'<th scope="col">{_e(received_word)}</th>'
        f'<th scope="col">{_e(answered_word)}</th>'
        f'<th scope="col">{_e(satisfaction_word)}</th></tr></thead>\n<tbody>\n'
        f"{month_rows}\n</tbody>\n</table>"
    )
    if unit.duties is not None or qr_svg is not None:
        sections.append(f"<h2>{_e(duties_heading)}</h2>")
        duties = unit.duties if unit.duties is not None else unit.name
        sections.append("".join(f"<p>{_e(line)}</p>" for line in duties.splitlines() if line))
        if qr_svg is not None:
            qr_alt = _("QR code: scan it with Telegram to rate the service of {unit}.").format(
                unit=unit.name
            )
            sections.append(f'<p><img class="qr" src="{_data_uri(qr_svg)}" alt="{_e(qr_alt)}"></p>')
    return page(unit.name, "\n".join(sections), _, language)


def not_found_page(_: Translator, language: str = "zh-CN") -> str:
    missing = _("This page does not exist, or the quarter has not been published.")
    back = _("Back to the published quarters")
    body = f'<p>{_e(missing)}</p><p><a href="/">{_e(back)}</a></p>'
    return page(_("Page not found"), body, _, language)


def error_page(_: Translator, language: str = "zh-CN") -> str:
    sorry = _("Something went wrong on our side. Please try again later.")
    body = f"<p>{_e(sorry)}</p>"
    return page(_("Server error"), body, _, language)


def qr_svg(link: str) -> str:
    """The QR code of `link` as an SVG document (segno), dark on white with its quiet zone."""
    import segno

    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode("utf-8")
