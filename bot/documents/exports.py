"""Where an admin's export waits to be sent: a file under the data dir, sent by path.

The outbox sends documents from the data dir, so an export is written there first; the name
the admin sees is plain (`reports-2026-03.xlsx`), the stored one carries the time and the admin,
so two admins' exports of the same month never overwrite each other.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

EXPORT_DIR = "exports"
"""Under the data dir."""


def keep_export(
    data_dir: Path, stem: str, made_at: datetime, account_id: int | None, content: bytes
) -> tuple[str, str]:
    """Write the export; returns its path relative to the data dir and the name to show."""
    path = f"{EXPORT_DIR}/{stem}-{made_at:%Y%m%dT%H%M%S}-{account_id}.xlsx"
    (data_dir / EXPORT_DIR).mkdir(parents=True, exist_ok=True)
    (data_dir / path).write_bytes(content)
    return path, f"{stem}.xlsx"
