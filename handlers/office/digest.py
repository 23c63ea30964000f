"""/digest [YYYY-MM] for admins: the month's 情况通报 as the office will get it, at any time."""

from __future__ import annotations

from telegram.ext import CommandHandler, filters

from bot.documents.digest_bundle import build_digest_bundle, keep_files
from bot.runtime.admin import month_or_say, require_admin
from bot.runtime.services import Handler
from bot.runtime.turn import Outgoing, OutgoingFile, Turn, turn_handler


@turn_handler
async def digest(turn: Turn) -> None:
    """Build the digest of a month (default: last month) and send it with chart and workbook."""
    _ = turn._
    settings = turn.services.settings
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    usage = _("Please give the month as YYYY-MM, e.g. /digest {example}.")
    month = month_or_say(turn, args[0] if args else None, usage)
    if month is None:
        return
    bundle = await build_digest_bundle(turn.session, settings, month, turn.now, turn.language)
    chart, workbook = await keep_files(settings.data_dir, bundle)
    chat = turn.update.effective_chat
    assert chat is not None
    turn.notify(
        [
            Outgoing(
                chat.id,
                bundle.office_text,
                files=tuple(
                    OutgoingFile(kind=f.kind, path=f.path, name=f.name) for f in (chart, workbook)
                ),
                urgent=True,
            )
        ]
    )


def build_handlers() -> list[Handler]:
    return [CommandHandler("digest", digest, filters=filters.ChatType.PRIVATE)]
