"""Documents the outbox sends later by path: each kept under a name of its own.

A chart, a workbook or a poster is queued by its path and read when the outbox sends it, which
may be hours later (quiet hours, a backlog, a bot that was down). So a file once named is never
rewritten: its name carries the content's hash, a later preview (another language, figures not
yet frozen) gets another name, and the file appears whole (written aside, then renamed) or not
at all.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def keep_unique(folder: Path, stem: str, language: str, suffix: str, data: bytes) -> str:
    """Write `data` under `folder` as `stem-language-hash.suffix` and return the name; a file of
    that name already holds these bytes and is left as it is."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    name = f"{stem}-{language}-{digest}{suffix}"
    if (folder / name).is_file():
        return name
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return name
