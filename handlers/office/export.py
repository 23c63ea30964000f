"""/export [YYYY-MM] for admins: the month's reports as an XLSX workbook, sent as a document.

The rows are the digest's (`db.office.digest.month_report_rows`): a reporter's name and phone only
for real-name reports, never an account or a Telegram id. A month without reports gives the headers
alone. Each export is an audit event, in the transaction that queues the file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from telegram.ext import CommandHandler, filters

from bot.documents.exports import keep_export
from bot.documents.report_workbook import month_reports, render_reports_workbook
from bot.runtime.admin import audit, month_or_say, require_admin
from bot.runtime.i18n import gettext_for
from bot.runtime.services import Handler
from bot.runtime.turn import Outgoing, OutgoingFile, Turn, turn_handler
from db.calendar.months import month_span
from db.office.digest import ReportRow


@turn_handler
async def export(turn: Turn) -> None:
    """Write the month's workbook (default: last month) and send it to the admin."""
    _ = turn._
    settings = turn.services.settings
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    usage = _("Please give the month as YYYY-MM, e.g. /export {example}.")
    month = month_or_say(turn, " ".join(args) or None, usage)  # two words are no month
    if month is None:
        return
    span = month_span(month, turn.now, settings.tz)
    count = 0

    async def rows() -> AsyncIterator[ReportRow]:
        nonlocal count
        async for row in month_reports(turn.session, settings, span, turn.language):
            count += 1
            yield row

    _ = gettext_for(turn.language)
    title = _("Reports {month}").format(month=f"{month:%Y-%m}")
    workbook = await render_reports_workbook(rows(), title, _, settings.tz)
    path, name = keep_export(
        settings.data_dir, f"reports-{month:%Y-%m}", turn.now, turn.account.id, workbook
    )
    await audit(
        turn, "export.reports", f"export:{month:%Y-%m}", after={"reports": count, "file": name}
    )
    chat = turn.update.effective_chat
    assert chat is not None
    turn.notify(
        [
            Outgoing(
                chat.id,
                _("Reports filed in {month}: {count}.").format(month=f"{month:%Y-%m}", count=count),
                files=(OutgoingFile(kind="document", path=path, name=name),),
                urgent=True,
            )
        ]
    )


def build_handlers() -> list[Handler]:
    return [CommandHandler("export", export, filters=filters.ChatType.PRIVATE)]
