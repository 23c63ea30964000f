"""What admins and a unit's liaisons hand out for service ratings: `/poster CODE` (the printable
poster with the unit's QR code), `/ratelink CODE [LABEL]` (a single-use link for one service) and,
for admins, `/unit_duties CODE TEXT` (the duties the poster publishes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from telegram.ext import CommandHandler

from bot.documents.kept_files import keep_unique
from bot.documents.poster import POSTER_LANGUAGE, Poster, draw_poster, poster_stem
from bot.documents.worker import drawn
from bot.runtime.admin import audit, require_admin, unit_or_say
from bot.runtime.conversation import PRIVATE
from bot.runtime.input import command_body
from bot.runtime.render import cut, esc
from bot.runtime.services import Handler
from bot.runtime.turn import Outgoing, OutgoingFile, Turn, turn_handler
from db.models import Department
from db.people.roles import is_admin
from db.ratings.links import poster_token, rating_deep_link
from db.ratings.service import (
    DUTIES_MAX,
    LABEL_MAX,
    PosterProblem,
    create_single_link,
    is_unit_liaison,
    poster_unit,
    set_duties,
)
from db.validation import clean_text

CODE_SHOWN = 40
"""A mistyped code is echoed back at most this long."""
POSTER_DIR = "posters"
"""Under the data dir: the files the outbox sends by path."""


async def _unit_for_rating(turn: Turn, usage: str) -> tuple[Department, list[str]] | None:
    """The unit named first in the command, when this person may hand out its rating links:
    an admin, or a liaison of that unit. Says why not otherwise."""
    _ = turn._
    words = command_body(turn).split(maxsplit=1)
    if not words:
        turn.say(usage)
        return None
    unit = await poster_unit(turn.session, words[0])
    if isinstance(unit, PosterProblem):
        messages = {
            PosterProblem.unknown: _("No unit has the code {code}. /units lists them."),
            PosterProblem.inactive: _("{code} is inactive: it takes no service ratings."),
            PosterProblem.wrong_kind: _(
                "{code} is no service window or key position: rating posters and links are "
                "for those."
            ),
        }
        turn.say(messages[unit].format(code=esc(cut(words[0], CODE_SHOWN))))
        return None
    assert unit.id is not None
    admin = await is_admin(turn.session, turn.account, turn.services.settings.admin_ids)
    if not admin and not await is_unit_liaison(turn.session, turn.account_id, unit.id):
        turn.say(
            _(
                "Sorry, only the campaign office and the liaisons of {unit} can do this. "
                "Nothing was changed."
            ).format(unit=esc(unit.name))
        )
        return None
    return unit, words[1:]


def _write(directory: Path, code: str, poster: Poster) -> tuple[str, str]:
    # Each by a name of its own (`keep_unique`): the outbox sends them later by path.
    stem = poster_stem(code)
    return (
        keep_unique(directory, stem, POSTER_LANGUAGE, ".png", poster.png),
        keep_unique(directory, stem, POSTER_LANGUAGE, ".pdf", poster.pdf),
    )


@turn_handler
async def poster(turn: Turn) -> None:
    """/poster CODE: the unit's rating poster as a PNG and a PDF to print."""
    _ = turn._
    found = await _unit_for_rating(turn, _("Usage: /poster CODE, e.g. /poster W002"))
    if found is None:
        return
    unit, _rest = found
    assert unit.id is not None
    # A unit's first poster writes its token: committed (with the audit) before the drawing,
    # so no write transaction is held open while drawing; every later print only reads.
    token = await poster_token(turn.session, unit.id, turn.now, created_by=turn.account_id)
    await audit(turn, "rating.poster", unit.code)
    await turn.session.commit()
    link = rating_deep_link(turn.context.bot.username, token)
    settings = turn.services.settings
    # An A4 poster at 300 dpi is about two seconds of drawing.
    drawing = await drawn(
        settings.digest.separate_process, draw_poster, unit.name, unit.duties, link
    )
    png, pdf = await asyncio.to_thread(_write, settings.data_dir / POSTER_DIR, unit.code, drawing)
    chat = turn.update.effective_chat
    assert chat is not None
    text = "\n".join(
        [
            _("Rating poster of {unit}: print the PDF on A4, or post the picture.").format(
                unit=esc(unit.name)
            ),
            _("Its link, the same on every print of this poster:"),
            esc(link),
        ]
    )
    turn.notify(
        [
            Outgoing(
                chat.id,
                text,
                files=(
                    OutgoingFile(
                        kind="document",
                        path=f"{POSTER_DIR}/{png}",
                        name=f"{poster_stem(unit.code)}.png",
                    ),
                    OutgoingFile(
                        kind="document",
                        path=f"{POSTER_DIR}/{pdf}",
                        name=f"{poster_stem(unit.code)}.pdf",
                    ),
                ),
                urgent=True,
            )
        ]
    )


@turn_handler
async def ratelink(turn: Turn) -> None:
    """/ratelink CODE [LABEL]: a single-use rating link for one service of the unit."""
    _ = turn._
    found = await _unit_for_rating(
        turn, _("Usage: /ratelink CODE [LABEL], e.g. /ratelink W002 ZF2026-000123")
    )
    if found is None:
        return
    unit, rest = found
    assert unit.id is not None
    label = " ".join(clean_text(rest[0]).split()) if rest else None
    if label is not None and len(label) > LABEL_MAX:
        turn.say(
            _("The label may have at most {max} characters. Nothing was changed.").format(
                max=LABEL_MAX
            )
        )
        return
    link, token = await create_single_link(
        turn.session,
        department_id=unit.id,
        label=label or None,
        created_by=turn.account_id,
        now=turn.now,
    )
    await audit(turn, "rating.link", f"rating_link:{link.id}", after={"unit": unit.code})
    lines = [
        _(
            "Single-use rating link for {unit}: send it to the person served; it counts once."
        ).format(unit=esc(unit.name))
    ]
    if label:
        lines.append(_("For: {label}").format(label=esc(label)))
    lines.append(esc(rating_deep_link(turn.context.bot.username, token)))
    turn.say("\n".join(lines))


@turn_handler
async def unit_duties(turn: Turn) -> None:
    """/unit_duties CODE TEXT (admins): the duties printed on the unit's poster; `off` clears."""
    _ = turn._
    if not await require_admin(turn):
        return
    words = command_body(turn).split(maxsplit=1)
    if not words:
        turn.say(
            _(
                "Usage: /unit_duties CODE followed by the unit's published duties (公开岗位职责), "
                "one commitment a line; /unit_duties CODE off prints the standard commitments."
            )
        )
        return
    unit = await unit_or_say(turn, cut(words[0], CODE_SHOWN))
    if unit is None:
        return
    if len(words) == 1:
        current = unit.duties or _("none: the poster prints the standard commitments")
        turn.say(
            _("Published duties of {unit}:\n{text}").format(unit=esc(unit.name), text=esc(current))
        )
        return
    text = "\n".join(clean_text(line) for line in words[1].splitlines() if clean_text(line))
    value = None if text.lower() == "off" else text
    if value is not None and len(value) > DUTIES_MAX:
        turn.say(
            _(
                "The duties may have at most {max} characters, so the poster can print them. "
                "Nothing was changed."
            ).format(max=DUTIES_MAX)
        )
        return
    await audit(turn, "department.duties", unit.code, {"duties": unit.duties}, {"duties": value})
    await set_duties(turn.session, unit, value)
    turn.say(
        _("Published duties of {unit} saved; /poster {code} prints them.").format(
            unit=esc(unit.name), code=unit.code
        )
    )


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("poster", poster, filters=PRIVATE),
        CommandHandler("ratelink", ratelink, filters=PRIVATE),
        CommandHandler("unit_duties", unit_duties, filters=PRIVATE),
    ]
