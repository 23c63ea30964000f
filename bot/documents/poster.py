"""A window's or key position's rating poster (评价海报, seed 004's 公述民评): the unit's name, its
published duties and a QR code of the deep link into the bot's rating, on one A4 page, as a PNG
to print or post and a PDF with the font embedded.

The QR code comes from segno; the page is drawn with matplotlib in the digest chart's CJK font
(Noto Sans SC), imported inside the functions as the digest does, so a process that never draws
a poster never loads them.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from bot.documents.digest_files import cjk_font_path
from bot.runtime.i18n import N_, Translator, gettext_for

A4_INCHES = (8.27, 11.69)
PNG_DPI = 300
"""Print resolution: A4 at 300 dpi is 2481 × 3508 pixels."""
QUIET_ZONE = 4
"""Light modules around the code, as the QR standard asks for."""
QR_SIDE_INCHES = 3.4
QR_BOTTOM = 0.21
"""Figure fraction of the code's lower edge (quiet zone included)."""
MARGIN = 0.1
NAME_WIDTH = 16
NAME_LINES = 3
DUTY_WIDTH = 34
DUTY_LINES = 8
"""The duties fill the band between the name and the code, whose place is fixed."""

STANDARD_DUTIES = N_(
    "Serve every person warmly, patiently and fairly.\n"
    "Tell in one go what is needed; handle matters within the promised time.\n"
    "Charge only the fees the rules allow, and show them openly.\n"
    "Take nothing from the people served: no gifts, no favours, no invitations."
)
"""The commitments printed when the unit has no published duties of its own."""


POSTER_LANGUAGE = "zh_CN"
"""A poster hangs on a wall in the city: it speaks Chinese whatever the asker's language."""


def poster_stem(code: str) -> str:
    """How a unit's poster files are named (before the language, hash and suffix)."""
    return f"rating-poster-{code}"


@dataclass(frozen=True)
class Poster:
    png: bytes
    pdf: bytes
    qr_box: tuple[int, int, int, int]
    """Left, top, right and bottom pixel of the code's modules in the PNG (quiet zone
    excluded), so a test can read the printed code back module by module."""
    qr_size: int
    """Modules per side."""


def _font_family() -> str:
    """Register the digest's CJK font with matplotlib and return its family name."""
    os.environ.setdefault("MPLCONFIGDIR", str(Path(tempfile.gettempdir()) / "zhengfeng-matplotlib"))
    from matplotlib import font_manager

    path = str(cjk_font_path())
    font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def _wrap(text: str, width: int) -> list[str]:
    """Chinese lines cut at `width` characters (textwrap counts each character once, which is
    right for CJK text and generous for Latin)."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        lines.extend(textwrap.wrap(paragraph.strip(), width) or [""])
    return lines


def render_poster(*, unit_name: str, duties: str | None, link: str, _: Translator) -> Poster:
    """Draw the poster of a unit whose rating deep link is `link`."""
    import numpy as np
    import segno

    family = _font_family()
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    code = segno.make(link, error="m", micro=False)
    matrix = np.array(
        [list(row) for row in code.matrix_iter(border=QUIET_ZONE)], dtype=float
    ).astype(bool)
    size = int(code.symbol_size(border=0)[0])

    width_in, height_in = A4_INCHES
    line = 1 / (height_in * 72)
    """One point, as a fraction of the page's height."""
    with rc_context({"font.family": [family], "axes.unicode_minus": False, "pdf.fonttype": 42}):
        figure = Figure(figsize=A4_INCHES)
        FigureCanvasAgg(figure)
        figure.patch.set_facecolor("white")

        figure.text(0.5, 0.935, _("Service rating"), ha="center", va="center", fontsize=36)
        name_lines = _wrap(unit_name, NAME_WIDTH)
        if len(name_lines) > NAME_LINES:
            name_lines = [*name_lines[: NAME_LINES - 1], name_lines[NAME_LINES - 1][:-1] + "…"]
        top = 0.88
        figure.text(
            0.5, top, "\n".join(name_lines), ha="center", va="top", fontsize=22, linespacing=1.4
        )
        top -= len(name_lines) * 22 * 1.4 * line + 0.025
        figure.text(MARGIN, top, _("Duties and service commitments"), fontsize=15, va="top")
        top -= 15 * 1.8 * line
        duty_lines = _wrap(duties or _(STANDARD_DUTIES), DUTY_WIDTH)[:DUTY_LINES]
        figure.text(MARGIN, top, "\n".join(duty_lines), fontsize=12, va="top", linespacing=1.6)

        side_w, side_h = QR_SIDE_INCHES / width_in, QR_SIDE_INCHES / height_in
        left = 0.5 - side_w / 2
        axes = figure.add_axes((left, QR_BOTTOM, side_w, side_h))
        axes.imshow(~matrix, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
        axes.set_axis_off()
        figure.text(
            0.5,
            QR_BOTTOM - 0.01,
            _("Scan with Telegram to rate the service you received"),
            ha="center",
            va="top",
            fontsize=16,
        )
        figure.text(0.5, QR_BOTTOM - 0.045, link, ha="center", va="top", fontsize=9)
        figure.text(
            0.5,
            0.07,
            "\n".join(
                [
                    _("One rating a day counts; the unit does not see who rated it."),
                    _(
                        "The campaign office reads the ratings; an unsatisfied rating can "
                        "become a report."
                    ),
                ]
            ),
            ha="center",
            va="center",
            fontsize=11,
            linespacing=1.6,
            color="#444444",
        )
        png, pdf = BytesIO(), BytesIO()
        figure.savefig(png, format="png", dpi=PNG_DPI, facecolor="white")
        figure.savefig(pdf, format="pdf", facecolor="white")

    full_w, full_h = round(width_in * PNG_DPI), round(height_in * PNG_DPI)
    module = QR_SIDE_INCHES * PNG_DPI / (size + 2 * QUIET_ZONE)
    x0 = left * full_w + QUIET_ZONE * module
    y0 = (1 - QR_BOTTOM - side_h) * full_h + QUIET_ZONE * module
    box = (
        round(x0),
        round(y0),
        round(x0 + size * module),
        round(y0 + size * module),
    )
    return Poster(png.getvalue(), pdf.getvalue(), box, size)


def draw_poster(unit_name: str, duties: str | None, link: str) -> Poster:
    """The unit's poster in `POSTER_LANGUAGE` (a plain function of plain values: it may run in
    a process of its own)."""
    return render_poster(
        unit_name=unit_name, duties=duties, link=link, _=gettext_for(POSTER_LANGUAGE)
    )


def poster_paths(out: Path) -> tuple[Path, Path]:
    """FILE → FILE.png and FILE.pdf; a FILE already ending in .png or .pdf loses that suffix."""
    base = out.with_suffix("") if out.suffix.lower() in (".png", ".pdf") else out
    return base.with_name(base.name + ".png"), base.with_name(base.name + ".pdf")
