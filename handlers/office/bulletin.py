"""/bulletin [YYYY-Qn] previews a quarter's 季度通报 for admins; /publish YYYY-Qn puts it on
the public page (freezing it if not yet), /publish alone lists the quarters and /unpublish
takes one off."""

from __future__ import annotations

from telegram.ext import CommandHandler, filters

from bot.documents.bulletin_files import bulletin_of, keep_files
from bot.documents.bulletin_text import office_message, quarter_title
from bot.runtime.admin import audit, require_admin
from bot.runtime.render import esc
from bot.runtime.services import Handler
from bot.runtime.turn import Outgoing, OutgoingFile, Turn, turn_handler
from db.bulletin.bulletin import all_bulletins, freeze, set_published, stored_bulletin
from db.bulletin.quarters import Quarter, last_finished_quarter, parse_quarter, quarter_of
from db.calendar.workdays import local_date


def _quarter_or_say(turn: Turn, word: str | None, command: str) -> Quarter | None:
    """The quarter `word` names (none: the last finished one), or None after saying why not."""
    _ = turn._
    tz = turn.services.settings.tz
    last = last_finished_quarter(turn.now, tz)
    if word is None:
        return last
    try:
        quarter = parse_quarter(word)
    except ValueError:
        turn.say(
            _("Please give the quarter as YYYY-Qn, e.g. {command} {example}.").format(
                command=command, example=last.key
            )
        )
        return None
    if quarter > quarter_of(local_date(turn.now, tz)):
        turn.say(_("Quarter {quarter} has not started yet.").format(quarter=esc(quarter.key)))
        return None
    return quarter


@turn_handler
async def bulletin(turn: Turn) -> None:
    """Send the quarter's bulletin (frozen if sent or published, else computed now) with files."""
    settings = turn.services.settings
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    quarter = _quarter_or_say(turn, args[0] if args else None, "/bulletin")
    if quarter is None:
        return
    result = await bulletin_of(turn.session, settings, quarter, turn.now)
    chart, workbook = await keep_files(
        settings.data_dir,
        result,
        turn.language,
        separate_process=settings.digest.separate_process,
    )
    chat = turn.update.effective_chat
    assert chat is not None
    turn.notify(
        [
            Outgoing(
                chat.id,
                office_message(result, turn._),
                files=tuple(
                    OutgoingFile(kind=f.kind, path=f.path, name=f.name) for f in (chart, workbook)
                ),
                urgent=True,
            )
        ]
    )


@turn_handler
async def publish(turn: Turn) -> None:
    """Publish a quarter on the public page, or list the quarters and whether each is published."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if not args:
        rows = await all_bulletins(turn.session)
        if not rows:
            turn.say(_("No quarterly bulletin has been sent or published yet."))
            return
        heading = _("Quarterly bulletins")
        lines = [f"<b>{esc(heading)}</b>"]
        for row in rows:
            state = _("published") if row.published_at is not None else _("not published")
            lines.append(f"{esc(quarter_title(row.quarter, _))} ({row.quarter}): {esc(state)}")
        turn.say("\n".join(lines))
        return
    quarter = _quarter_or_say(turn, args[0], "/publish")
    if quarter is None:
        return
    if quarter >= quarter_of(local_date(turn.now, turn.services.settings.tz)):
        turn.say(_("Quarter {quarter} is not over yet.").format(quarter=quarter.key))
        return
    stored = await stored_bulletin(turn.session, quarter.key)
    if stored is not None and stored.published_at is not None:
        turn.say(_("{quarter} is already published.").format(quarter=quarter.key))
        return
    if stored is None:
        result = await bulletin_of(turn.session, turn.services.settings, quarter, turn.now)
        stored = await freeze(turn.session, result, turn.now)
    await set_published(turn.session, stored, turn.account.id, turn.now)
    await audit(turn, "bulletin.publish", quarter.key, after={"published": True})
    turn.say(
        _("{quarter} is published: its ranking is now on the public page.").format(
            quarter=quarter.key
        )
    )


@turn_handler
async def unpublish(turn: Turn) -> None:
    """Take a published quarter off the public page (its frozen figures stay)."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if not args:
        turn.say(_("Please give the quarter as YYYY-Qn, e.g. /unpublish 2026-Q4."))
        return
    quarter = _quarter_or_say(turn, args[0], "/unpublish")
    if quarter is None:
        return
    row = await stored_bulletin(turn.session, quarter.key)
    if row is None or row.published_at is None:
        turn.say(_("{quarter} is not published; nothing changed.").format(quarter=quarter.key))
        return
    await set_published(turn.session, row, None, None)
    await audit(turn, "bulletin.unpublish", quarter.key, after={"published": False})
    turn.say(_("{quarter} is no longer on the public page.").format(quarter=quarter.key))


def build_handlers() -> list[Handler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("bulletin", bulletin, filters=private),
        CommandHandler("publish", publish, filters=private),
        CommandHandler("unpublish", unpublish, filters=private),
    ]
