"""Evidence files under the data dir, named by their SHA-256.

Content addressing makes a second upload of the same photo free and lets a restart find every file
from the database alone.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Attachment, DutyDraft, DutyFile, ReportDraft


def relative_path(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}"


def store_bytes(root: Path, content: bytes) -> tuple[str, str]:
    """Write atomically (temp file + rename) so a crash never leaves half a file under its hash."""
    sha = hashlib.sha256(content).hexdigest()
    rel = relative_path(sha)
    target = root / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{sha}.{os.getpid()}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, target)
    return sha, rel


async def remove_if_unreferenced(session: AsyncSession, root: Path, paths: list[str]) -> int:
    """Delete files that no report, submission, ledger update or draft points at (drafts must be
    saved first).

    Identical bytes share one file, so another person's draft may hold the same path.
    """
    removed = 0
    for rel in set(paths):
        if not await _referenced(session, rel):
            target = root / rel
            if target.is_file():
                target.unlink()
                removed += 1
    return removed


async def _referenced(session: AsyncSession, rel: str) -> bool:
    """Whether a stored file (report evidence, a duty's file) or a draft names this path."""
    checks = (
        select(Attachment.id).where(Attachment.path == rel),
        select(DutyFile.id).where(DutyFile.path == rel),
        select(ReportDraft.account_id).where(col(ReportDraft.data).contains(rel)),
        select(DutyDraft.account_id).where(col(DutyDraft.data).contains(rel)),
    )
    for check in checks:
        if (await session.exec(check.limit(1))).first() is not None:
            return True
    return False
