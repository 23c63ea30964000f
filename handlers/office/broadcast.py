"""/broadcast for admins: a notice to liaisons, previewed with its recipient count, then sent
through the outbox.

Flow: audience (buttons, or arguments: `/broadcast all`, `/broadcast class 执法监督`,
`/broadcast D011`) → the text → a preview with Send / Cancel. The draft (audience, text and a
nonce) is kept in the conversation-state table, so it survives a restart. The Send button
carries the nonce: a button of an older draft, of a draft already sent or cancelled, or a
forged one is refused and sends nothing. Every step checks again that the person is an admin.
The delivery report comes later from `scheduler.delivery.broadcast_report`.

```mermaid
flowchart LR
    start["/broadcast [audience]"] --> AUDIENCE -- button or code --> TEXT
    start -- audience given --> TEXT -- text --> preview
    preview -- Send --> outbox
    preview -- Cancel --> done
```
"""

from __future__ import annotations

import secrets
from enum import IntEnum
from typing import Any

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.runtime import callbacks as cb
from bot.runtime.admin import audit, require_admin
from bot.runtime.conversation import END, PRIVATE, TEXT, conversation, stay_in
from bot.runtime.flow_state import chat_key
from bot.runtime.i18n import gettext_for
from bot.runtime.render import esc
from bot.runtime.services import BotContext
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.conversations import load_states, store_state
from db.delivery.broadcasts import (
    TEXT_MAX,
    Audience,
    AudienceKind,
    active_department,
    audience_liaisons,
    department_classes,
    resolve_audience,
    send_broadcast,
)
from db.validation import clean_text

CONVERSATION = "broadcast"
DRAFTS = "broadcast.draft"
"""Conversation-state rows (same table) holding an admin's draft: audience, text, nonce."""
NONE = "-"


class State(IntEnum):
    AUDIENCE = 1
    TEXT = 2


async def _draft(turn: Turn) -> dict[str, Any]:
    stored = (await load_states(turn.session, DRAFTS)).get(chat_key(turn))
    return stored if isinstance(stored, dict) else {}


async def _set_draft(turn: Turn, draft: dict[str, str] | None) -> None:
    await store_state(turn.session, DRAFTS, chat_key(turn), draft)


def render_notice(language: str, text: str) -> str:
    """The notice as a liaison reads it, heading in their language."""
    _ = gettext_for(language)
    return _("<b>Notice from the campaign office</b>\n\n{text}").format(text=esc(text))


async def _describe(turn: Turn, audience: Audience) -> str:
    _ = turn._
    if audience.kind is AudienceKind.all:
        return _("all liaisons")
    if audience.kind is AudienceKind.dept_class:
        return _("the liaisons of the class {name}").format(name=esc(audience.value))
    department = await active_department(turn.session, audience.value or "")
    name = department.name if department is not None else audience.value
    return _("the liaisons of {unit}").format(unit=esc(name))


async def _audience_keyboard(turn: Turn) -> Keyboard:
    _ = turn._
    rows: Keyboard = [[(_("All liaisons"), cb.BROADCAST_AUDIENCE.pack("all", NONE))]]
    for name in await department_classes(turn.session):
        try:
            data = cb.BROADCAST_AUDIENCE.pack("class", name)
        except ValueError:
            # Over Telegram's 64 bytes (or with a ':'): `/broadcast class NAME` still works.
            continue
        rows.append([(name, data)])
    rows.append([(_("One unit (type its code)"), cb.BROADCAST_AUDIENCE.pack("dept", NONE))])
    return rows


async def _ask_audience(turn: Turn, intro: str | None = None) -> int:
    _ = turn._
    question = _("Who should get the notice? Choose, or type a unit code such as D011.")
    turn.say(f"{intro}\n\n{question}" if intro else question, await _audience_keyboard(turn))
    return State.AUDIENCE


async def _ask_text(turn: Turn, audience: Audience) -> int:
    """Remember the audience and ask for the text; an audience without liaisons is refused."""
    _ = turn._
    described = await _describe(turn, audience)
    count = len(await audience_liaisons(turn.session, audience))
    if count == 0:
        await _set_draft(turn, None)
        return await _ask_audience(
            turn,
            _("There is no liaison among {audience}; nothing can be sent.").format(
                audience=described
            ),
        )
    await _set_draft(turn, {"audience": audience.encode()})
    turn.say(
        _(
            "Type the notice for {audience} ({count} liaisons), 1 to {max} characters. Or /cancel."
        ).format(audience=described, count=count, max=TEXT_MAX)
    )
    return State.TEXT


@turn_handler
async def broadcast(turn: Turn) -> int:
    """Start a broadcast: take the audience from the arguments, or offer the choices."""
    _ = turn._
    await _set_draft(turn, None)
    if not await require_admin(turn):
        return END
    args = turn.context.args or []
    if not args:
        return await _ask_audience(turn)
    audience: Audience | None = None
    if len(args) == 1 and args[0].lower() == "all":
        audience = Audience(AudienceKind.all)
    elif len(args) == 2 and args[0].lower() == "class":
        audience = Audience(AudienceKind.dept_class, args[1])
    elif len(args) == 1:
        audience = Audience(AudienceKind.department, args[0])
    resolved = await resolve_audience(turn.session, audience) if audience else None
    if resolved is None:
        return await _ask_audience(
            turn,
            _(
                "Usage: /broadcast all, /broadcast class 执法监督, or /broadcast D011 "
                "(a unit code); or choose below."
            ),
        )
    return await _ask_text(turn, resolved)


@turn_handler
async def choose_audience(turn: Turn) -> int:
    """An audience button: check it still names something, then ask for the text."""
    _ = turn._
    turn.clear_keyboard = True
    if not await require_admin(turn):
        return END
    fields = cb.BROADCAST_AUDIENCE.unpack(turn.callback_data)
    if fields is None:
        turn.toast = _("This button is no longer valid.")
        return END
    if fields["kind"] == AudienceKind.department.value and fields["value"] == NONE:
        await _set_draft(turn, None)
        turn.say(_("Type the unit's code, e.g. D011 (or /cancel)."))
        return State.AUDIENCE
    encoded = fields["kind"] if fields["value"] == NONE else f"{fields['kind']}:{fields['value']}"
    audience = Audience.decode(encoded)
    resolved = await resolve_audience(turn.session, audience) if audience else None
    if resolved is None:
        turn.toast = _("This button is no longer valid.")
        return await _ask_audience(turn)
    return await _ask_text(turn, resolved)


@turn_handler
async def type_code(turn: Turn) -> int:
    """A typed department code as the audience."""
    _ = turn._
    if not await require_admin(turn):
        return END
    code = clean_text(turn.text)
    department = await active_department(turn.session, code) if 0 < len(code) <= 32 else None
    if department is None:
        turn.say(
            _("No active unit has the code {code}. Please check the code.").format(code=esc(code))
        )
        return State.AUDIENCE
    return await _ask_text(turn, Audience(AudienceKind.department, department.code))


@turn_handler
async def take_text(turn: Turn) -> int:
    """Check the text and show the preview with the recipient count and Send / Cancel."""
    _ = turn._
    if not await require_admin(turn):
        await _set_draft(turn, None)
        return END
    draft = await _draft(turn)
    audience = Audience.decode(str(draft.get("audience", "")))
    resolved = await resolve_audience(turn.session, audience) if audience else None
    if resolved is None:
        await _set_draft(turn, None)
        turn.say(_("That step is no longer open. Send /broadcast to start again."))
        return END
    text = clean_text(turn.text)
    if not text:
        turn.say(_("The notice is empty. Please type its text, or /cancel."))
        return State.TEXT
    if len(text) > TEXT_MAX:
        turn.say(
            _(
                "The notice is {length} characters long; at most {max} fit. Please shorten it, "
                "or /cancel."
            ).format(length=len(text), max=TEXT_MAX)
        )
        return State.TEXT
    liaisons = await audience_liaisons(turn.session, resolved)
    blocked = sum(1 for a in liaisons if a.unreachable)
    nonce = secrets.token_hex(4)
    await _set_draft(turn, {"audience": resolved.encode(), "text": text, "nonce": nonce})
    lines = [
        _("<b>Preview</b> of the notice to {audience}: {count} liaisons.").format(
            audience=await _describe(turn, resolved), count=len(liaisons)
        )
    ]
    if blocked:
        lines.append(
            _("{count} of them blocked the bot and will not get it.").format(count=blocked)
        )
    lines += ["", render_notice(turn.language, text)]
    turn.say(
        "\n".join(lines),
        [
            [
                (_("Send"), cb.BROADCAST_SEND.pack("send", nonce)),
                (_("Cancel"), cb.BROADCAST_SEND.pack("cancel", nonce)),
            ]
        ],
    )
    return END


@turn_handler
async def send(turn: Turn) -> int:
    """Send or cancel the previewed draft, if the button belongs to the current one."""
    _ = turn._
    turn.clear_keyboard = True
    if not await require_admin(turn):
        return END
    fields = cb.BROADCAST_SEND.unpack(turn.callback_data)
    draft = await _draft(turn)
    stale = _(
        "This preview is no longer valid: the notice was sent or cancelled, or a newer one "
        "replaced it. Nothing was sent."
    )
    if fields is not None and draft.get("sent") and draft.get("nonce") == fields["draft"]:
        # This very preview was sent already; its answer may have been lost on the way back.
        already = _(
            "Broadcast #{id} was already sent from this preview to {count} liaisons; it was not "
            "sent again."
        ).format(id=draft["sent"], count=draft.get("recipients", "?"))
        turn.toast = already
        turn.say(already)
        return END
    if fields is None or not draft.get("text") or draft.get("nonce") != fields["draft"]:
        turn.toast = stale
        return END
    await _set_draft(turn, None)
    text = str(draft["text"])
    if fields["action"] != "send":
        turn.say(_("Cancelled. Nothing was sent."))
        return END
    audience = Audience.decode(str(draft.get("audience", "")))
    resolved = await resolve_audience(turn.session, audience) if audience else None
    if resolved is None:
        turn.toast = stale
        return END
    sent = await send_broadcast(
        turn.session,
        author_account_id=turn.account.id,
        audience=resolved,
        text=text,
        now=turn.now,
        render=render_notice,
    )
    await audit(
        turn,
        "broadcast.send",
        f"broadcast:{sent.id}",
        after={
            "audience": sent.audience,
            "recipients": sent.recipients,
            "unreachable": sent.unreachable,
            "text": text,
        },
    )
    # Remember what this preview became, so a second press of its Send tells the truth.
    await _set_draft(
        turn,
        {"nonce": str(fields["draft"]), "sent": str(sent.id), "recipients": str(sent.recipients)},
    )
    turn.pressed_becomes = render_notice(turn.language, text)
    turn.say(
        _(
            "Broadcast #{id} is on its way to {count} liaisons. You will get a report when "
            "delivery is done."
        ).format(id=sent.id, count=sent.recipients)
    )
    return END


@turn_handler
async def cancel(turn: Turn) -> int:
    """Leave the broadcast; nothing is sent."""
    await _set_draft(turn, None)
    turn.say(turn._("Cancelled. Nothing was sent."))
    return END


def build_handler() -> ConversationHandler[BotContext]:
    return conversation(
        entry_points=[
            CommandHandler("broadcast", broadcast, filters=PRIVATE),
            CallbackQueryHandler(choose_audience, pattern=cb.BROADCAST_AUDIENCE.pattern),
            CallbackQueryHandler(send, pattern=cb.BROADCAST_SEND.pattern),
        ],
        states={
            State.AUDIENCE: [
                MessageHandler(TEXT, type_code),
                CallbackQueryHandler(choose_audience, pattern=cb.BROADCAST_AUDIENCE.pattern),
                stay_in(State.AUDIENCE),
            ],
            State.TEXT: [MessageHandler(TEXT, take_text), stay_in(State.TEXT)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CallbackQueryHandler(send, pattern=cb.BROADCAST_SEND.pattern),
        ],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
