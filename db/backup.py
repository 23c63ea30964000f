"""`zhengfeng backup`: a consistent copy of the SQLite database while the bot keeps running.

SQLite's online backup API copies page by page and restarts when another connection writes in
between, so the copy is a snapshot of one moment even in WAL mode, unlike copying the file (which
may catch half a transaction and misses what still sits in the `-wal` file). The copy is written
under a temporary name and renamed, so a crash never leaves a half backup under the real name.
PostgreSQL has `pg_dump` for this; the command says so rather than doing it half as well.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

PAGES_PER_STEP = 1024
"""Pages copied per step (4 MB with SQLite's default page size); between steps the bot writes."""


class NotSqlite(ValueError):
    """The database is not SQLite (PostgreSQL: use pg_dump)."""


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL; NotSqlite for any other database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        raise NotSqlite(parsed.get_backend_name())
    return Path(parsed.database)


def backup_sqlite(
    source: Path, target: Path, on_progress: Callable[[int, int], None] | None = None
) -> None:
    """Copy `source` to `target` with the online backup API; `on_progress(done, total)` pages."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    # mode=rw: a missing database is an error here, not a new empty file.
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:

            def progress(_status: int, remaining: int, total: int) -> None:
                if on_progress is not None:
                    on_progress(total - remaining, total)

            src.backup(dst, pages=PAGES_PER_STEP, progress=progress)
            # The copy is a standalone file: no -wal beside it to forget when moving it.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, target)
