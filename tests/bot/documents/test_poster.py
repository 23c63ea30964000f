"""The rating poster: an A4 PNG whose printed QR code is the unit's link, and a PDF that
embeds the CJK font with the glyphs of the unit's name."""

from __future__ import annotations

import re
import zlib
from io import BytesIO
from pathlib import Path

import segno
from PIL import Image

from bot.documents.poster import Poster, poster_paths, render_poster
from bot.runtime.i18n import gettext_for

ZH = gettext_for("zh_CN")
LINK = "https://t.me/zhengfeng_test_bot?start=rate-AbCdEfGhIjKlMnOpQrStUvWx"
NAME = "道里区行政服务中心"


def printed_modules(poster: Poster) -> list[list[bool]]:
    """Read the code back from the PNG: dark or light at the centre of every module.

    No QR decoder is installed, so the test reads the modules where the poster says it drew
    them and compares them with segno's own matrix of the link: a wrong link, a shifted or
    scaled code, or text drawn over it all show up as differing modules.
    """
    image = Image.open(BytesIO(poster.png)).convert("L")
    left, top, right, bottom = poster.qr_box
    step_x = (right - left) / poster.qr_size
    step_y = (bottom - top) / poster.qr_size
    return [
        [
            image.getpixel((int(left + (col + 0.5) * step_x), int(top + (row + 0.5) * step_y)))
            < 128
            for col in range(poster.qr_size)
        ]
        for row in range(poster.qr_size)
    ]


def pdf_unicode_chars(data: bytes) -> set[str]:
    """Every character the PDF's ToUnicode maps name: the glyphs of its embedded font subsets."""
    chars: set[str] = set()
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            text = zlib.decompress(raw)
        except zlib.error:
            continue
        if b"/Ordering (UCS)" not in text:
            continue
        for body in re.findall(rb"\[([^\]]*)\]", text):
            for code in re.findall(rb"<([0-9a-fA-F]+)>", body):
                chars.add(bytes.fromhex(code.decode()).decode("utf-16-be"))
        for code in re.findall(rb"^<[0-9a-fA-F]+>\s*<([0-9a-fA-F]+)>\s*$", text, re.M):
            chars.add(bytes.fromhex(code.decode()).decode("utf-16-be"))
    return chars


def test_the_printed_code_is_the_units_link() -> None:
    poster = render_poster(unit_name=NAME, duties=None, link=LINK, _=ZH)
    image = Image.open(BytesIO(poster.png))
    assert image.format == "PNG"
    width, height = image.size
    assert 2400 <= width <= 2500 and 3450 <= height <= 3550, "A4 portrait at 300 dpi"
    wanted = [[bool(m) for m in row] for row in segno.make(LINK, error="m").matrix]
    assert poster.qr_size == len(wanted)
    assert printed_modules(poster) == wanted
    other = [[bool(m) for m in row] for row in segno.make(LINK + "x", error="m").matrix]
    assert printed_modules(poster) != other, "the comparison can fail"


def test_long_names_and_duties_stay_clear_of_the_code() -> None:
    poster = render_poster(
        unit_name="市政府行政服务中心(各工作部门进驻中心的行政审批办公室、接待受理窗口、综合代办窗口)",
        duties="\n".join(["一次性告知办事所需材料，在承诺时限内办结，不让群众多跑腿。"] * 20),
        link=LINK,
        _=ZH,
    )
    wanted = [[bool(m) for m in row] for row in segno.make(LINK, error="m").matrix]
    assert printed_modules(poster) == wanted


def test_the_pdf_embeds_the_font_with_the_units_name() -> None:
    poster = render_poster(unit_name=NAME, duties="受理咨询，一次告知。", link=LINK, _=ZH)
    assert poster.pdf.startswith(b"%PDF")
    assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+NotoSansSC", poster.pdf), "font embedded"
    chars = pdf_unicode_chars(poster.pdf)
    assert set(NAME) <= chars
    assert set("服务评价") <= chars and set("受理咨询") <= chars
    assert not set("市公安局") <= chars, "only the glyphs drawn are embedded"


def test_poster_paths() -> None:
    assert poster_paths(Path("out/w002")) == (Path("out/w002.png"), Path("out/w002.pdf"))
    assert poster_paths(Path("w002.pdf")) == (Path("w002.png"), Path("w002.pdf"))
    assert poster_paths(Path("a.b")) == (Path("a.b.png"), Path("a.b.pdf"))
