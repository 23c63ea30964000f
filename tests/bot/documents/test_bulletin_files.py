"""`bot.documents.bulletin_files.keep_files`: the files the outbox sends later by path."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bot.documents.bulletin_files import keep_files
from db.bulletin.bulletin import Bulletin


def _bulletin(bottom_count: int) -> Bulletin:
    return Bulletin(
        quarter="2026-Q1",
        first_day=date(2026, 1, 1),
        last_day=date(2026, 3, 31),
        computed_at=datetime(2026, 4, 1, tzinfo=UTC),
        weights={"appraisal": 0.2},
        bottom_count=bottom_count,
        units=(),
    )


async def test_a_later_preview_never_rewrites_a_queued_file(tmp_path: Path) -> None:
    """A preview in another language, or of other figures, gets files of its own names (the same
    bytes may share one): what the outbox queued earlier is sent as it was."""
    queued = await keep_files(tmp_path, _bulletin(1), "zh_CN")
    queued_bytes = [(tmp_path / f.path).read_bytes() for f in queued]
    english = await keep_files(tmp_path, _bulletin(1), "en")
    other = await keep_files(tmp_path, _bulletin(3), "zh_CN")
    assert [f.name for f in queued] == ["bulletin-2026-Q1.png", "bulletin-2026-Q1.xlsx"]
    assert {f.path for f in queued}.isdisjoint({f.path for f in english})
    assert queued[1].path != other[1].path, "other figures, another workbook"
    assert [(tmp_path / f.path).read_bytes() for f in queued] == queued_bytes
    assert not list((tmp_path / "bulletins").glob(".*")), "no temporary file left behind"


async def test_files_drawn_in_a_child_process_are_the_same(tmp_path: Path) -> None:
    """In the bot the chart and workbook are drawn in a process of their own."""
    here = await keep_files(tmp_path, _bulletin(1), "zh_CN")
    there = await keep_files(tmp_path, _bulletin(1), "zh_CN", separate_process=True)
    assert here[0].path == there[0].path, "the same chart, so the same name"
    assert (tmp_path / there[1].path).read_bytes().startswith(b"PK")
