"""Report categories for admins: /categories, /category_add, /category_rename,
/category_retire and /category_limits (per-category sign and reply days).

Categories are data (DESIGN.md): the office adds and retires them without a release. A retired
category is offered to no new reporter, but reports filed under it keep it, and its limits keep
applying to them (`db.cases.handling.limits_for`).
"""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.runtime.admin import audit, category_or_say, require_admin
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import Translator
from bot.runtime.render import MESSAGE_MAX, cut, esc
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.cases.categories import (
    LIMIT_DAYS_MAX,
    NAME_MAX,
    add_category,
    all_categories,
    rename_category,
    retire_category,
    set_category_limits,
)
from db.models import Category
from db.people.departments import valid_code

DEFAULT_WORDS = frozenset({"-", "default", "默认"})


def category_line(category: Category, _: Translator) -> str:
    """A category with both names, its own limits (or the defaults) and whether it is retired."""
    days = _("sign {sign}, reply {reply} working days").format(
        sign=category.sign_days if category.sign_days is not None else _("default"),
        reply=category.reply_days if category.reply_days is not None else _("default"),
    )
    line = f"<code>{esc(category.code)}</code> {esc(category.name_zh)} / {esc(category.name_en)}"
    line = f"{line} · {days}"
    return line if category.active else _("{category} (retired)").format(category=line)


async def say_categories(turn: Turn) -> None:
    _ = turn._
    lines = [_("<b>Report categories</b>")]
    lines += [category_line(c, _) for c in await all_categories(turn.session)]
    lines.append(
        _(
            "Change one: /category_add, /category_rename, /category_retire, /category_limits. "
            "Default limits come from the configuration."
        )
    )
    turn.say(cut("\n".join(lines), MESSAGE_MAX))


@turn_handler
async def categories(turn: Turn) -> None:
    """/categories: every category, retired ones too, with its limits."""
    if await require_admin(turn):
        await say_categories(turn)


def _name_ok(name: str) -> bool:
    return 0 < len(name) <= NAME_MAX


@turn_handler
async def category_add(turn: Turn) -> None:
    """/category_add CODE 中文名称 [English name]: a new category at the end of the menu."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    usage = _(
        "Usage: /category_add CODE 中文名称 [English name], e.g. /category_add C09 违反八项规定 "
        "Breach of the eight rules"
    )
    if len(args) < 2:
        turn.say(usage)
        return
    code, name_zh = args[0].strip(), args[1]
    name_en = " ".join(args[2:]) or name_zh
    if not valid_code(code) or not _name_ok(name_zh) or not _name_ok(name_en):
        turn.say(usage)
        return
    created = await add_category(turn.session, code, name_zh, name_en)
    if created is None:
        turn.say(
            _("The code {code} is already taken (/categories). Nothing was changed.").format(
                code=esc(code)
            )
        )
        return
    await audit(
        turn,
        "category.add",
        f"category:{created.code}",
        after={"name_zh": name_zh, "name_en": name_en},
    )
    turn.say(_("Added: {category}.").format(category=category_line(created, _)))


@turn_handler
async def category_rename(turn: Turn) -> None:
    """/category_rename CODE zh|en NAME: one of the two names."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    language = args[1].lower() if len(args) >= 3 else ""
    name = " ".join(args[2:])
    if language not in ("zh", "en") or not _name_ok(name):
        turn.say(_("Usage: /category_rename CODE zh|en NAME, e.g. /category_rename C01 执行力弱"))
        return
    category = await category_or_say(turn, args[0])
    if category is None:
        return
    field = "name_zh" if language == "zh" else "name_en"
    before = await rename_category(turn.session, category, language, name)
    await audit(
        turn, "category.rename", f"category:{category.code}", {field: before}, {field: name}
    )
    turn.say(_("Renamed: {category}.").format(category=category_line(category, _)))


@turn_handler
async def category_retire(turn: Turn) -> None:
    """/category_retire CODE: no longer offered; reports filed under it keep it."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) != 1:
        turn.say(_("Usage: /category_retire CODE, e.g. /category_retire C08"))
        return
    category = await category_or_say(turn, args[0])
    if category is None:
        return
    if not category.active:
        turn.say(_("{code} is already retired.").format(code=esc(category.code)))
        return
    await audit(
        turn, "category.retire", f"category:{category.code}", {"active": True}, {"active": False}
    )
    await retire_category(turn.session, category)
    turn.say(
        _("Retired: {category}. Reports filed under it keep it.").format(
            category=category_line(category, _)
        )
    )


def _days(word: str) -> int | str | None:
    """A number of working days, None for "the default", or the word itself when it is neither."""
    if word.lower() in DEFAULT_WORDS:
        return None
    if word.isascii() and word.isdigit() and 1 <= int(word) <= LIMIT_DAYS_MAX:
        return int(word)
    return word


@turn_handler
async def category_limits(turn: Turn) -> None:
    """/category_limits CODE SIGN REPLY: the category's own sign and reply days ("-": default).

    They apply to reports whose sign or reply clock starts from now on; running clocks keep the
    due time they were given, as a deadline once told to a unit must not move under it.
    """
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    usage = _(
        "Usage: /category_limits CODE SIGN_DAYS REPLY_DAYS in working days (1–{max}), "
        "- for the default, e.g. /category_limits C01 1 10"
    ).format(max=LIMIT_DAYS_MAX)
    if len(args) != 3:
        turn.say(usage)
        return
    sign, reply = _days(args[1]), _days(args[2])
    if isinstance(sign, str) or isinstance(reply, str):
        turn.say(usage)
        return
    category = await category_or_say(turn, args[0])
    if category is None:
        return
    await audit(
        turn,
        "category.limits",
        f"category:{category.code}",
        {"sign_days": category.sign_days, "reply_days": category.reply_days},
        {"sign_days": sign, "reply_days": reply},
    )
    await set_category_limits(turn.session, category, sign, reply)
    turn.say(_("Limits set: {category}.").format(category=category_line(category, _)))


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("categories", categories, filters=PRIVATE),
        CommandHandler("category_add", category_add, filters=PRIVATE),
        CommandHandler("category_rename", category_rename, filters=PRIVATE),
        CommandHandler("category_retire", category_retire, filters=PRIVATE),
        CommandHandler("category_limits", category_limits, filters=PRIVATE),
    ]
