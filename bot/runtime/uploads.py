"""Receiving a photo or a file from a person: what it is, whether it is allowed, keeping it.

Evidence in the report flow, attachments of a liaison's answer, filed duties and ledger evidence
follow the same rules (types and size from `[report]` in the config), and all are kept under the
data dir by SHA-256.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from telegram import Message

from bot.runtime.render import esc
from bot.runtime.turn import Turn
from db.cases.drafts import DraftFile
from db.files import store_bytes


@dataclass(frozen=True)
class Incoming:
    kind: str
    """`photo` or `document`."""
    file_id: str
    size: int
    mime_type: str
    file_name: str | None


@dataclass(frozen=True)
class Kept:
    incoming: Incoming
    size: int
    sha256: str
    path: str


def incoming_file(message: Message) -> Incoming | None:
    """The largest photo size, or the document; None for any other message."""
    if message.photo:
        photo = message.photo[-1]
        return Incoming("photo", photo.file_id, photo.file_size or 0, "image/jpeg", None)
    document = message.document
    if document is None:
        return None
    mime = document.mime_type or (
        mimetypes.guess_type(document.file_name or "")[0] or "application/octet-stream"
    )
    name = (document.file_name or "")[:255] or None
    return Incoming("document", document.file_id, document.file_size or 0, mime, name)


def refusal_of(turn: Turn, incoming: Incoming) -> str | None:
    """Why this file cannot be accepted, as the person reads it; None when it can."""
    _ = turn._
    limits = turn.services.settings.report
    if incoming.mime_type not in limits.allowed_document_types:
        return _(
            "Files of this type ({type}) cannot be accepted. Please send a photo, PDF, "
            "Word, Excel or text file."
        ).format(type=esc(incoming.mime_type))
    if incoming.size > limits.max_attachment_bytes:
        return _(
            "This file is {size:.1f} MB; the limit is {max} MB. Please send a smaller one."
        ).format(size=incoming.size / 2**20, max=limits.max_attachment_bytes // 2**20)
    return None


async def keep(turn: Turn, incoming: Incoming) -> Kept | None:
    """Download and store the file; None when it turned out larger than allowed (a client can
    announce a smaller size than it sends)."""
    limits = turn.services.settings.report
    telegram_file = await turn.context.bot.get_file(incoming.file_id)
    content = bytes(await telegram_file.download_as_bytearray())
    if len(content) > limits.max_attachment_bytes:
        return None
    sha, path = store_bytes(turn.services.settings.attachments_dir, content)
    return Kept(incoming, len(content), sha, path)


async def receive(turn: Turn, incoming: Incoming) -> DraftFile | str:
    """The file checked and kept, as a draft holds it; or the answer refusing it, when nothing
    was kept."""
    problem = refusal_of(turn, incoming)
    if problem is not None:
        return problem
    kept = await keep(turn, incoming)
    if kept is None:
        return turn._("This file is larger than allowed. Please send a smaller one.")
    return DraftFile(
        kind=incoming.kind,
        mime_type=incoming.mime_type,
        size=kept.size,
        sha256=kept.sha256,
        path=kept.path,
        file_name=incoming.file_name,
    )
