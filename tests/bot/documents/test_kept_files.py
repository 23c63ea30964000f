"""Files the outbox sends by path: a name per content, never rewritten, never seen half written."""

from __future__ import annotations

from pathlib import Path

from bot.documents.kept_files import keep_unique


def test_the_same_bytes_keep_one_file_and_other_bytes_get_another(tmp_path: Path) -> None:
    folder = tmp_path / "kept"
    first = keep_unique(folder, "bulletin-2026-Q1", "zh_CN", ".png", b"chart one")
    kept = folder / first
    inode = kept.stat().st_ino
    assert keep_unique(folder, "bulletin-2026-Q1", "zh_CN", ".png", b"chart one") == first
    assert kept.stat().st_ino == inode, "a queued file is not written again"
    other = keep_unique(folder, "bulletin-2026-Q1", "zh_CN", ".png", b"chart two")
    english = keep_unique(folder, "bulletin-2026-Q1", "en", ".png", b"chart one")
    assert len({first, other, english}) == 3
    assert kept.read_bytes() == b"chart one" and (folder / other).read_bytes() == b"chart two"
    assert sorted(p.name for p in folder.iterdir()) == sorted([first, other, english])
