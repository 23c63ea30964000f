"""/duty for the office: create a duty from a short form, list, edit and switch duties off.

The form is one message a clerk can copy, fill in Chinese and send back (`db.duties.form`);
`/duty` alone shows it. Creating a duty opens its submissions at once, so units see it in
`/duties` and their liaisons are told (non-urgent, through the outbox). Every change is an
audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlmodel import col, select
from telegram.ext import CommandHandler, filters

from bot.runtime.admin import audit, require_admin
from bot.runtime.callbacks import as_int
from bot.runtime.duty_labels import kind_label
from bot.runtime.i18n import N_, Translator
from bot.runtime.input import command_body
from bot.runtime.notices import notify_unit
from bot.runtime.period_text import period_label
from bot.runtime.render import MESSAGE_MAX, cut, esc, guess_warning, local_time, marked_due
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.calendar.workdays import deadline_is_guessed, guessed_span, load_calendar
from db.duties.form import (
    DutyForm,
    FormError,
    FormProblem,
    due_text,
    form_text,
    missing_for_new,
    parse_form,
    resolve_units,
    scope_text,
)
from db.duties.obligations import (
    MAX_QUESTION_LENGTH,
    MAX_QUESTIONS,
    DutyProblem,
    DutySpec,
    create_obligation,
    duty_overviews,
    edit_obligation,
    open_submissions,
    questions_of,
    rule_of,
    switch_off,
)
from db.models import DuePeriod, DutyScope, Obligation, Submission
from db.office.campaign_edit import active_campaign
from handlers.duties.filing import file_button

FORM_HELP = N_(
    "<b>New duty</b>: send /duty followed by the form, one item a line, for example:\n"
    "<pre>/duty\n"
    "类型：季度报送\n"
    "标题：2026年作风建设季度工作报告\n"
    "范围：全部\n"
    "期限：每季度结束后5个工作日\n"
    "问题：\n"
    "本季度开展了哪些工作？\n"
    "发现了哪些问题，如何整改？</pre>\n"
    "类型: 自查自纠, 工作方案, 季度报送, 总结 or 其他.\n"
    "范围: 全部; 类别 执法监督; or 单位 D011 D012.\n"
    "期限: a date such as 2026-04-20, or 每月/每季度/每半年结束后N个工作日.\n"
    "问题 (optional): one question a line.\n\n"
    "/duty list — the duties; /duty edit ID — change one; /duty off ID — switch one off."
)
FORM_PROBLEMS: dict[FormProblem, str] = {
    FormProblem.empty: FORM_HELP,
    FormProblem.unknown_line: N_(
        "I could not read the line “{value}”. Each line is 名称：内容 with 类型, 标题, 范围, "
        "期限 or 问题. Nothing was changed."
    ),
    FormProblem.kind: N_(
        "Unknown kind “{value}”: use 自查自纠, 工作方案, 季度报送, 总结 or 其他. Nothing was "
        "changed."
    ),
    FormProblem.title: N_("The title is empty. Nothing was changed."),
    FormProblem.scope: N_(
        "I could not read the scope “{value}”: write 全部, 类别 执法监督, or 单位 D011 D012. "
        "Nothing was changed."
    ),
    FormProblem.due: N_(
        "I could not read the due rule “{value}”: write a date such as 2026-04-20, or "
        "每季度结束后5个工作日 (also 每月, 每半年). Nothing was changed."
    ),
    FormProblem.start: N_(
        "I could not read the first period “{value}”: write a period such as 2026-Q3, 2026-H2 "
        "or 2026-07, or a date inside it. Nothing was changed."
    ),
}
DUTY_PROBLEMS: dict[DutyProblem, str] = {
    DutyProblem.no_units: N_("No active unit is in that scope. Nothing was changed."),
    DutyProblem.past_due: N_("The due date has already passed. Nothing was changed."),
    DutyProblem.bad_rule: N_(
        "That due rule cannot be used: at most 60 working days after a period, and a title is "
        "needed. Nothing was changed."
    ),
    DutyProblem.bad_questions: N_(
        "At most {count} questions of at most {length} characters each, please. Nothing was "
        "changed."
    ),
    DutyProblem.unknown: N_("No duty has the number {id}. /duty list shows them."),
}
FILE_LABEL = N_("File it")
QUOTE_MAX = 100
"""Of a typed line or word quoted back: a whole message typed as one line must not make the
answer longer than Telegram takes."""
FORM_SHOWN_MAX = MESSAGE_MAX - 300
"""Twenty long questions make a form longer than one message; its end is cut when shown."""


def _form_problem(turn: Turn, error: FormError) -> str:
    return turn._(FORM_PROBLEMS[error.problem]).format(value=esc(cut(error.line, QUOTE_MAX)))


def _duty_problem(turn: Turn, problem: DutyProblem, duty_id: int | str = "") -> str:
    return turn._(DUTY_PROBLEMS[problem]).format(
        count=MAX_QUESTIONS, length=MAX_QUESTION_LENGTH, id=esc(cut(str(duty_id), QUOTE_MAX))
    )


async def _units_of(turn: Turn, form: DutyForm) -> list[int] | None:
    """The listed units' ids, or None after naming the codes no active unit has."""
    ids, unknown = await resolve_units(turn.session, form.unit_codes)
    if unknown:
        turn.say(
            turn._(
                "No active unit has the code(s) {codes}. /units lists them. Nothing was changed."
            ).format(codes=esc(cut(" ".join(unknown), QUOTE_MAX)))
        )
        return None
    return ids


@dataclass(frozen=True)
class _Opened:
    units: int
    """How many units owe the duty now."""
    first_due: datetime | None
    guessed: tuple[date, date] | None
    """The days the first due time was counted over that the calendar only guesses."""


async def _open_and_announce(turn: Turn, obligation: Obligation) -> _Opened:
    """Open the submissions now and tell each unit's liaisons."""
    settings = turn.services.settings
    calendar = await load_calendar(turn.session)
    await open_submissions(turn.session, turn.now, calendar, settings.tz)
    submissions = (
        await turn.session.exec(
            select(Submission)
            .where(Submission.obligation_id == obligation.id)
            .order_by(col(Submission.due_at), col(Submission.id))
        )
    ).all()
    title, kind = obligation.title, obligation.kind
    for submission in submissions:
        assert submission.id is not None
        submission_id, period = submission.id, submission.period
        due = local_time(submission.due_at, settings.tz)
        guessed = deadline_is_guessed(turn.now, submission.due_at, calendar, settings.tz)

        def build(
            _: Translator,
            sid: int = submission_id,
            p: str = period,
            d: str = due,
            g: bool = guessed,
        ) -> tuple[str, Keyboard]:
            text = _(
                "New duty for your unit: <b>{title}</b> ({kind}), period {period}, due {due}. "
                "/duties lists what your unit owes."
            ).format(
                title=esc(title),
                kind=kind_label(kind, _),
                period=period_label(p, _),
                due=marked_due(d, g, _),
            )
            return text, file_button(_, sid, FILE_LABEL)

        await notify_unit(turn, submission.department_id, build)
    first_due = submissions[0].due_at if submissions else None
    return _Opened(
        units=len({s.department_id for s in submissions}),
        first_due=first_due,
        guessed=(
            guessed_span(turn.now, first_due, calendar, settings.tz)
            if first_due is not None
            else None
        ),
    )


async def _create(turn: Turn, body: str) -> None:
    form = parse_form(body)
    if isinstance(form, FormError):
        turn.say(_form_problem(turn, form))
        return
    missing = missing_for_new(form)
    if missing:
        turn.say(
            turn._("The form lacks {keys}. Nothing was changed.").format(keys="、".join(missing))
        )
        return
    unit_ids = await _units_of(turn, form)
    if unit_ids is None:
        return
    assert form.kind and form.title and form.scope and form.rule
    campaign = await active_campaign(turn.session)
    spec = DutySpec(
        kind=form.kind,
        title=form.title,
        scope=form.scope,
        rule=replace(form.rule, starts_on=form.starts_on) if form.starts_on else form.rule,
        scope_class=form.scope_class,
        unit_ids=tuple(unit_ids),
        questions=form.questions or (),
        campaign_id=campaign.id if campaign else None,
    )
    settings = turn.services.settings
    made = await create_obligation(
        turn.session, spec, actor_account_id=turn.account.id, now=turn.now, tz=settings.tz
    )
    if isinstance(made, DutyProblem):
        turn.say(_duty_problem(turn, made))
        return
    assert made.id is not None
    await audit(turn, "duty.create", f"duty:{made.id}", after=_audit_fields(made, form.unit_codes))
    opened = await _open_and_announce(turn, made)
    first = "—"
    if opened.first_due is not None:
        first = marked_due(
            local_time(opened.first_due, settings.tz), opened.guessed is not None, turn._
        )
    turn.say(
        turn._(
            "Duty #{id} created: <b>{title}</b> ({kind}), {due}. {units} units owe it now; the "
            "first is due {first}. Their liaisons were told."
        ).format(
            id=made.id,
            title=esc(made.title),
            kind=kind_label(made.kind, turn._),
            due=esc(due_text(rule_of(made))),
            units=opened.units,
            first=first,
        )
    )
    if opened.guessed is not None:
        turn.say(guess_warning(opened.guessed, turn._))


def _audit_fields(obligation: Obligation, codes: tuple[str, ...] | list[str]) -> dict[str, object]:
    return {
        "kind": obligation.kind,
        "title": obligation.title,
        "scope": scope_text(DutyScope(obligation.scope), obligation.scope_class, list(codes)),
        "due": due_text(rule_of(obligation)),
        "questions": questions_of(obligation),
        "active": obligation.active,
    }


async def _list(turn: Turn) -> None:
    _ = turn._
    obligations = (
        await turn.session.exec(
            select(Obligation).order_by(col(Obligation.active).desc(), col(Obligation.id).desc())
        )
    ).all()
    if not obligations:
        turn.say(_("No duties yet. Send /duty to see the form for a new one."))
        return
    lines = [_("<b>Duties</b> (/duties status ID shows who filed):")]
    overviews = await duty_overviews(turn.session, obligations)
    shown = 0
    for obligation in obligations:
        assert obligation.id is not None
        overview = overviews[obligation.id]
        line = _("#{id} {title} · {kind} · {due} · {scope} ({units} units) · {filed} filed").format(
            id=obligation.id,
            title=esc(obligation.title),
            kind=kind_label(obligation.kind, _),
            due=esc(due_text(rule_of(obligation))),
            scope=esc(
                scope_text(
                    DutyScope(obligation.scope),
                    obligation.scope_class,
                    overview.listed_codes,
                )
            ),
            units=overview.units,
            filed=overview.filed,
        )
        if not obligation.active:
            line = _("{duty} (switched off)").format(duty=line)
        if len("\n".join([*lines, line])) > MESSAGE_MAX - 100:
            break
        lines.append(line)
        shown += 1
    if shown < len(obligations):
        lines.append(_("… and {count} more.").format(count=len(obligations) - shown))
    turn.say("\n".join(lines))


async def _duty_of(turn: Turn, word: str) -> Obligation | None:
    duty_id = as_int(word.lstrip("#"))
    obligation = await turn.session.get(Obligation, duty_id) if duty_id else None
    if obligation is None:
        turn.say(_duty_problem(turn, DutyProblem.unknown, word))
    return obligation


async def _edit(turn: Turn, word: str, body: str) -> None:
    obligation = await _duty_of(turn, word)
    if obligation is None:
        return
    assert obligation.id is not None
    codes = (await duty_overviews(turn.session, [obligation]))[obligation.id].listed_codes
    current = form_text(
        obligation.kind,
        obligation.title,
        scope_text(DutyScope(obligation.scope), obligation.scope_class, codes),
        rule_of(obligation),
        questions_of(obligation),
    )
    if not body:
        turn.say(
            turn._(
                "Duty #{id} now reads as below. To change it, send /duty edit {id} followed by "
                "the lines to change (the others stay):\n<pre>{form}</pre>"
            ).format(id=obligation.id, form=esc(cut(current, FORM_SHOWN_MAX)))
        )
        return
    form = parse_form(body)
    if isinstance(form, FormError):
        turn.say(_form_problem(turn, form))
        return
    unit_ids = await _units_of(turn, form)
    if unit_ids is None:
        return
    before = _audit_fields(obligation, codes)
    scope_given = form.scope is not None
    if not scope_given:
        unit_ids = (await resolve_units(turn.session, tuple(codes)))[0]
    spec = DutySpec(
        kind=form.kind or obligation.kind,
        title=form.title or obligation.title,
        scope=form.scope or DutyScope(obligation.scope),
        rule=form.rule or rule_of(obligation),
        scope_class=form.scope_class if scope_given else obligation.scope_class,
        unit_ids=tuple(unit_ids),
        questions=form.questions if form.questions is not None else tuple(questions_of(obligation)),
        campaign_id=obligation.campaign_id,
    )
    settings = turn.services.settings
    calendar = await load_calendar(turn.session)
    result = await edit_obligation(
        turn.session, obligation.id, spec, now=turn.now, calendar=calendar, tz=settings.tz
    )
    if isinstance(result, DutyProblem):
        turn.say(_duty_problem(turn, result, obligation.id))
        return
    await audit(
        turn,
        "duty.edit",
        f"duty:{obligation.id}",
        before=before,
        after={
            **_audit_fields(result.obligation, form.unit_codes if scope_given else codes),
            "future_only": result.future_only,
        },
    )
    await open_submissions(turn.session, turn.now, calendar, settings.tz)
    if result.future_only and result.obligation.period is DuePeriod.once:
        turn.say(
            turn._(
                "Duty #{id} changed. Units have already filed for this one-off duty, so every "
                "submission already open keeps its due time and questions; only units added to "
                "it follow the new ones."
            ).format(id=obligation.id)
        )
    elif result.future_only:
        turn.say(
            turn._(
                "Duty #{id} changed. Units have already filed for it, so the change applies to "
                "future periods only: submissions already open keep their due time and "
                "questions."
            ).format(id=obligation.id)
        )
    else:
        turn.say(
            turn._(
                "Duty #{id} changed. Nothing was filed yet, so the open submissions follow the "
                "new duty."
            ).format(id=obligation.id)
        )


async def _off(turn: Turn, word: str) -> None:
    obligation = await _duty_of(turn, word)
    if obligation is None:
        return
    if not obligation.active:
        turn.say(turn._("Duty #{id} is already switched off.").format(id=obligation.id))
        return
    await switch_off(turn.session, obligation, turn.now)
    await audit(
        turn, "duty.off", f"duty:{obligation.id}", before={"active": True}, after={"active": False}
    )
    turn.say(
        turn._(
            "Duty #{id} ({title}) is switched off: no new periods open for it. What units "
            "already filed stays."
        ).format(id=obligation.id, title=esc(obligation.title))
    )


@turn_handler
async def duty(turn: Turn) -> None:
    """One command, four uses: the form (create), list, edit ID, off ID."""
    if not await require_admin(turn):
        return
    body = command_body(turn)
    words = body.split(maxsplit=2)
    verb = words[0].lower() if words else ""
    if not body:
        turn.say(turn._(FORM_HELP))
    elif verb in ("list", "列表"):
        await _list(turn)
    elif verb in ("edit", "修改") and len(words) >= 2:
        await _edit(turn, words[1], words[2] if len(words) > 2 else "")
    elif verb in ("off", "停用") and len(words) == 2:
        await _off(turn, words[1])
    elif verb in ("edit", "修改", "off", "停用"):
        turn.say(turn._("Please add the duty's number, e.g. /duty {verb} 3.").format(verb=verb))
    else:
        await _create(turn, body)


def build_handlers() -> list[Handler]:
    return [CommandHandler("duty", duty, filters=filters.ChatType.PRIVATE)]
