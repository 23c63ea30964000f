"""/export duties FROM TO for the office: submissions and the ledger of a period as a workbook.

Only calls whose first argument is `duties` come here; `/export [YYYY-MM]` (reports) stays with
`handlers.office.export`. The export is an audit event in the transaction that queues the file.
"""

from __future__ import annotations

import re

from telegram.ext import CommandHandler, filters

from bot.documents.duty_workbook import duties_workbook
from bot.documents.exports import keep_export
from bot.runtime.admin import audit, require_admin
from bot.runtime.render import esc
from bot.runtime.services import Handler
from bot.runtime.turn import Outgoing, OutgoingFile, Turn, turn_handler
from db.calendar.date_input import read_date

DUTIES_TEXT = re.compile(r"^\s*/export(@\w+)?\s+duties\b", re.IGNORECASE)
MAX_DAYS = 3 * 366
"""Three years at most: a bigger file is a job for the command line."""


@turn_handler
async def export_duties(turn: Turn) -> None:
    """Write the workbook of the period and send it to the admin."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = (turn.context.args or [])[1:]
    dates = [read_date(a, None) for a in args]
    if len(args) != 2 or None in dates:
        turn.say(
            _(
                "Please give the period as two dates, e.g. /export duties 2026-10-01 2026-12-31. "
                "Nothing was exported."
            )
        )
        return
    first, last = dates
    assert first is not None and last is not None
    if last < first or (last - first).days > MAX_DAYS:
        turn.say(
            _(
                "The period must run forward and cover at most three years ({first} – {last} "
                "does not). Nothing was exported."
            ).format(first=esc(args[0]), last=esc(args[1]))
        )
        return
    settings = turn.services.settings
    data, filed, items = await duties_workbook(
        turn.session, first, last, _, turn.language, settings.tz
    )
    path, name = keep_export(
        settings.data_dir, f"duties-{first:%Y%m%d}-{last:%Y%m%d}", turn.now, turn.account.id, data
    )
    await audit(
        turn,
        "export.duties",
        f"export:{first}:{last}",
        after={"submissions": filed, "ledger": items, "file": name},
    )
    chat = turn.update.effective_chat
    assert chat is not None
    turn.notify(
        [
            Outgoing(
                chat.id,
                _("Duties {first} – {last}: {filed} submissions, {items} ledger items.").format(
                    first=first, last=last, filed=filed, items=items
                ),
                files=(OutgoingFile(kind="document", path=path, name=name),),
                urgent=True,
            )
        ]
    )


def build_handlers() -> list[Handler]:
    return [
        CommandHandler(
            "export",
            export_duties,
            filters=filters.ChatType.PRIVATE & filters.Regex(DUTIES_TEXT),
        )
    ]
