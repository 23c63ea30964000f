"""/round for the office: open a rating round from a short form, list rounds, their turnout, and
close one early.

The form is one message a clerk can copy, fill in and send back (`db.appraisal.form`); `/round`
alone shows it. Opening a round asks every evaluator of its groups through the outbox, once per
round and person (the key says so), with a button into the ballot. Every change is an audit
event in the same transaction.
"""

from __future__ import annotations

from sqlmodel import col, select
from telegram.ext import CommandHandler

from bot.documents.round_invitation import invitation, invitation_key
from bot.documents.round_results import result_messages, turnout_line
from bot.runtime import callbacks as cb
from bot.runtime.admin import audit, require_admin
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import N_
from bot.runtime.input import command_body
from bot.runtime.render import MESSAGE_MAX, cut, esc, fit_lines, local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Outgoing, Turn, turn_handler
from db.appraisal.form import FormError, FormProblem, missing_keys, parse_round_form
from db.appraisal.results import dimensions_of
from db.appraisal.rounds import (
    Refusal,
    RoundProblem,
    close_round,
    create_round,
    round_evaluators,
    round_groups,
    round_units,
    turnout,
)
from db.models import AppraisalRound, RoundState
from db.people.roles import admin_recipients

FORM_HELP = N_(
    "<b>New appraisal round</b>: send /round followed by the form, one item a line, e.g.:\n"
    "<pre>/round\n"
    "标题：2026年第4季度百家企业评政风\n"
    "期间：2026年第4季度\n"
    "评议组：QY\n"
    "单位：全部\n"
    "截止：2026-12-25</pre>\n"
    "期间: the period rated; a quarter such as 2026年第4季度 also names the quarterly bulletin "
    "the round counts for (or add a line 季度：2026-Q4).\n"
    "评议组: group codes or names (/groups), or 全部.\n"
    "单位: 全部 (all units but windows, key positions, projects and districts), 类别 执法监督 "
    "(those of one class), or 单位 D001 D002 (any units, windows too).\n"
    "评议项目 (optional): the dimensions, each scored 1 to 5; by default 服务态度 办事效率 "
    "依法行政 廉洁自律 总体满意.\n"
    "截止: the last day of rating; the round closes at the end of that day.\n\n"
    "/round list — the rounds; /round status ID — turnout per group; /round close ID — close "
    "a round now."
)
FORM_PROBLEMS: dict[FormProblem, str] = {
    FormProblem.empty: FORM_HELP,
    FormProblem.unknown_line: N_(
        "I could not read the line “{value}”. Each line is 名称：内容 with 标题, 期间, 季度, "
        "评议组, 单位, 评议项目 or 截止. Nothing was changed."
    ),
    FormProblem.title: N_("The title is empty or longer than 200 characters. Nothing was changed."),
    FormProblem.period: N_(
        "The period is empty or longer than 40 characters. Nothing was changed."
    ),
    FormProblem.quarter: N_(
        "I could not read the quarter “{value}”: write it like 2026-Q4 or 2026年第4季度. Nothing "
        "was changed."
    ),
    FormProblem.groups: N_(
        "Please name the evaluator groups by code or name, e.g. 评议组：QY WS, or 全部. Nothing "
        "was changed."
    ),
    FormProblem.units: N_(
        "I could not read the units “{value}”: write 全部, 类别 执法监督, or 单位 D001 D002. "
        "Nothing was changed."
    ),
    FormProblem.dimensions: N_(
        "I could not read the dimensions “{value}”: 1 to 8 different names of up to 20 "
        "characters, separated by spaces. Nothing was changed."
    ),
    FormProblem.closes: N_(
        "I could not read the closing day “{value}”: write a date such as 2026-12-25. Nothing "
        "was changed."
    ),
}
ROUND_PROBLEMS: dict[RoundProblem, str] = {
    RoundProblem.unknown_groups: N_(
        "No active evaluator group has the code or name {words}. /groups lists them. Nothing "
        "was changed."
    ),
    RoundProblem.unknown_units: N_(
        "No active unit has the code(s) {words}. /units lists them. Nothing was changed."
    ),
    RoundProblem.no_groups: N_("There is no active evaluator group. Nothing was changed."),
    RoundProblem.no_units: N_("No active unit is in that scope. Nothing was changed."),
    RoundProblem.past_close: N_("The closing day must be today or later. Nothing was changed."),
}
QUOTE_MAX = 100


async def _create(turn: Turn, body: str) -> None:
    _ = turn._
    form = parse_round_form(body)
    if isinstance(form, FormError):
        turn.say(_(FORM_PROBLEMS[form.problem]).format(value=esc(cut(form.line, QUOTE_MAX))))
        return
    missing = missing_keys(form)
    if missing:
        turn.say(_("The form lacks {keys}. Nothing was changed.").format(keys="、".join(missing)))
        return
    settings = turn.services.settings
    made = await create_round(
        turn.session, form, created_by=turn.account.id, now=turn.now, tz=settings.tz
    )
    if isinstance(made, Refusal):
        turn.say(
            _(ROUND_PROBLEMS[made.problem]).format(words=esc(cut(" ".join(made.words), QUOTE_MAX)))
        )
        return
    assert made.id is not None
    units = await round_units(turn.session, made.id)
    groups = await round_groups(turn.session, made.id)
    await audit(
        turn,
        "round.create",
        f"round:{made.id}",
        after={
            "title": made.title,
            "period": made.period,
            "quarter": made.quarter,
            "groups": [g.code for g in groups],
            "units": [u.code for u in units],
            "dimensions": dimensions_of(made),
            "closes_on": f"{made.closes_on:%Y-%m-%d}",
        },
    )
    close = local_time(made.closes_at, settings.tz)
    people = [p for p in await round_evaluators(turn.session, made.id) if not p.account.unreachable]
    for person in people:
        assert person.account.id is not None
        text, keyboard = invitation(made, len(units), close, person.account.language)
        turn.notify(
            [
                Outgoing(
                    person.account.telegram_id,
                    text,
                    keyboard,
                    key=invitation_key(made.id, person.account.id),
                    expires_at=made.closes_at,
                )
            ]
        )
    turn.say(
        _(
            "Appraisal round #{id} opened: <b>{title}</b> ({period}{quarter}), {units} units, "
            "groups {groups}, closes {close}. {people} evaluators were asked to rate."
        ).format(
            id=made.id,
            title=esc(made.title),
            period=esc(made.period),
            quarter=_(", counted in {quarter}").format(quarter=made.quarter)
            if made.quarter
            else "",
            units=len(units),
            groups=esc(" ".join(g.code for g in groups)),
            close=close,
            people=len(people),
        )
    )


async def _list(turn: Turn) -> None:
    _ = turn._
    rounds = (
        await turn.session.exec(select(AppraisalRound).order_by(col(AppraisalRound.id).desc()))
    ).all()
    if not rounds:
        turn.say(_("No appraisal rounds yet. Send /round to see the form for a new one."))
        return
    tz = turn.services.settings.tz
    lines = [
        _("#{id} {title} · {period} · {state} · closes {close}").format(
            id=r.id,
            title=esc(r.title),
            period=esc(r.period),
            state=_("rating open") if r.state is RoundState.open else _("rating closed"),
            close=local_time(r.closes_at, tz),
        )
        for r in rounds
    ]
    turn.say(
        fit_lines(
            _("<b>Appraisal rounds</b> (/round status ID shows the turnout):"),
            lines,
            lambda left: _("… and {count} more.").format(count=left),
            lambda text: len(text) <= MESSAGE_MAX,
        )
    )


async def _round_or_say(turn: Turn, word: str) -> AppraisalRound | None:
    round_id = cb.as_int(word.lstrip("#"))
    round_ = await turn.session.get(AppraisalRound, round_id) if round_id else None
    if round_ is None:
        turn.say(
            turn._("No appraisal round has the number {id}. /round list shows them.").format(
                id=esc(cut(word, QUOTE_MAX))
            )
        )
    return round_


async def _status(turn: Turn, word: str) -> None:
    _ = turn._
    round_ = await _round_or_say(turn, word)
    if round_ is None or round_.id is None:
        return
    tz = turn.services.settings.tz
    units = await round_units(turn.session, round_.id)
    head = _(
        "<b>Appraisal round #{id}</b>: {title} ({period}), {units} units, {state}, closes {close}"
    ).format(
        id=round_.id,
        title=esc(round_.title),
        period=esc(round_.period),
        units=len(units),
        state=_("rating open") if round_.state is RoundState.open else _("rating closed"),
        close=local_time(round_.closes_at, tz),
    )
    lines = [turnout_line(row, _) for row in await turnout(turn.session, round_.id)]
    turn.say("\n".join([head, *lines]))


async def _close(turn: Turn, word: str) -> None:
    round_ = await _round_or_say(turn, word)
    if round_ is None or round_.id is None:
        return
    results = await close_round(turn.session, round_, turn.now)
    if results is None:
        turn.say(turn._("Appraisal round #{id} is closed already.").format(id=round_.id))
        return
    await audit(
        turn,
        "round.close",
        f"round:{round_.id}",
        before={"state": RoundState.open.value},
        after={"state": RoundState.closed.value, "early": True},
    )
    settings = turn.services.settings
    admins = await admin_recipients(turn.session, settings.admin_ids, settings.default_language)
    for key, person, text in await result_messages(turn.session, round_, results, admins):
        turn.notify([Outgoing(person.telegram_id, text, key=key)])
    turn.say(
        turn._(
            "Appraisal round #{id} is closed; its results are frozen and the admins get them."
        ).format(id=round_.id)
    )


@turn_handler
async def round_command(turn: Turn) -> None:
    """One command, four uses: the form (open a round), list, status ID, close ID."""
    if not await require_admin(turn):
        return
    body = command_body(turn)
    words = body.split()
    verb = words[0].lower() if words else ""
    if not body:
        turn.say(turn._(FORM_HELP))
    elif verb in ("list", "列表") and len(words) == 1:
        await _list(turn)
    elif verb in ("status", "情况") and len(words) == 2:
        await _status(turn, words[1])
    elif verb in ("close", "结束") and len(words) == 2:
        await _close(turn, words[1])
    elif verb in ("status", "情况", "close", "结束"):
        turn.say(turn._("Please add the round's number, e.g. /round {verb} 3.").format(verb=verb))
    else:
        await _create(turn, body)


def build_handlers() -> list[Handler]:
    return [CommandHandler("round", round_command, filters=PRIVATE)]
