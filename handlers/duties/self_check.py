"""Filing a self-check (自查自纠): for each active category the unit answers found / not found;
for a problem found, its description, the measure (整改措施), the responsible person (责任人) and
the due date; then a summary to file, start over or cancel. Each problem becomes an item of the
rectification ledger.

```mermaid
stateDiagram-v2
    [*] --> FOUND: DUTY_OPEN (one per category)
    FOUND --> FOUND: not found
    FOUND --> DESCRIPTION: found
    DESCRIPTION --> MEASURE
    MEASURE --> OWNER
    OWNER --> DUE
    DUE --> FOUND: next category
    DUE --> SUMMARY: last category
    SUMMARY --> FOUND: start over
    SUMMARY --> [*]: file / cancel
```
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum

from telegram.ext import CallbackQueryHandler, MessageHandler

from bot.runtime import callbacks as cb
from bot.runtime.conversation import TEXT
from bot.runtime.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator, gettext_for
from bot.runtime.period_text import period_label
from bot.runtime.render import esc
from bot.runtime.turn import Keyboard, Turn
from db.calendar.date_input import DateProblem, parse_due_date
from db.calendar.workdays import local_date
from db.cases.categories import active_categories, category_name
from db.duties.filing import Filed, Finding, file_self_check, official_units
from db.duties.filing_drafts import FindingDraft
from db.models import Category
from handlers.duties.filing import (
    Filing,
    States,
    Step,
    announce,
    cancel_from_summary,
    due_line,
    fit_lines,
    heading,
    introduce,
    save_draft,
    shown,
    stale_or_wrong,
    step,
    typed,
    with_reasks,
)


class State(IntEnum):
    FOUND = 11
    DESCRIPTION = 12
    MEASURE = 13
    OWNER = 14
    DUE = 15
    SUMMARY = 16


OWNER_MAX = 50
"""`RectificationItem.owner_name` holds 50 characters."""


def _open(filing: Filing) -> FindingDraft | None:
    return next((f for f in filing.draft.findings if not f.complete()), None)


def resume_state(filing: Filing) -> State:
    finding = _open(filing)
    if finding is None:
        return State.SUMMARY
    if finding.found is None:
        return State.FOUND
    if not finding.description:
        return State.DESCRIPTION
    if not finding.measure:
        return State.MEASURE
    if not finding.owner_name:
        return State.OWNER
    return State.DUE


async def _name(turn: Turn, category_id: int, language: str) -> str:
    category = await turn.session.get(Category, category_id)
    return category_name(category, language) if category is not None else "—"


async def fresh_findings(turn: Turn) -> list[FindingDraft]:
    return [FindingDraft(c.id) for c in await active_categories(turn.session) if c.id is not None]


async def ask(turn: Turn, filing: Filing, state: State) -> State:
    """Say the question of `state` with its buttons and return it as the next state."""
    _ = turn._
    maximum = turn.services.settings.duties.max_text_chars
    finding = _open(filing)
    if state is State.SUMMARY or finding is None:
        await save_draft(turn, filing)
        turn.say(await _summary(turn, filing), _summary_keyboard(turn, filing))
        return State.SUMMARY
    name = esc(await _name(turn, finding.category_id, turn.language))
    if state is State.FOUND:
        number = filing.draft.findings.index(finding) + 1
        turn.say(
            _(
                "<b>Category {number} of {total}: {name}</b>\n"
                "Did your unit find problems of this kind?"
            ).format(number=number, total=len(filing.draft.findings), name=name),
            [
                [
                    (_("Problems found"), cb.DUTY_STEP.pack("found")),
                    (_("None found"), cb.DUTY_STEP.pack("clean")),
                ]
            ],
        )
    elif state is State.DESCRIPTION:
        turn.say(
            _("{name}: describe the problem found (at most {max} characters).").format(
                name=name, max=maximum
            )
        )
    elif state is State.MEASURE:
        turn.say(
            _("{name}: what will the unit do to rectify it (at most {max} characters)?").format(
                name=name, max=maximum
            )
        )
    elif state is State.OWNER:
        turn.say(
            _(
                "{name}: who is responsible? Type a name or a post (at most {max} characters)."
            ).format(name=name, max=OWNER_MAX)
        )
    elif state is State.DUE:
        turn.say(
            _(
                "{name}: by which date will it be rectified? For example 2026-12-31, 2026/12/31 "
                "or 12月31日."
            ).format(name=name)
        )
    return state


async def content_lines(turn: Turn, filing: Filing, _: Translator, language: str) -> list[str]:
    lines = []
    for finding in filing.draft.findings:
        name = esc(await _name(turn, finding.category_id, language))
        if not finding.found:
            lines.append(_("✓ {category}: none found").format(category=name))
            continue
        lines.append(
            _("⚠ {category}: {description}").format(
                category=name, description=shown(finding.description)
            )
        )
        lines.append(
            _("Measure: {measure}; responsible: {owner}; due {due}").format(
                measure=shown(finding.measure),
                owner=shown(finding.owner_name),
                due=finding.due_on or "—",
            )
        )
    found = sum(1 for f in filing.draft.findings if f.found)
    lines.append(
        _("Problems found in {found} of {total} categories.").format(
            found=found, total=len(filing.draft.findings)
        )
    )
    return lines


async def _summary(turn: Turn, filing: Filing) -> str:
    _ = turn._
    head = [_("<b>Please check the self-check before filing</b>"), heading(turn, filing)]
    tail = [
        "",
        _("Each problem found becomes an item of your unit's rectification ledger. File it now?"),
    ]
    return fit_lines(head, [*await content_lines(turn, filing, _, turn.language), *tail])


def _summary_keyboard(turn: Turn, filing: Filing) -> Keyboard:
    _ = turn._
    rev = filing.draft.rev
    return [
        [(_("File"), cb.DUTY_CONFIRM.pack("confirm", rev))],
        [
            (_("Start over"), cb.DUTY_CONFIRM.pack("restart", rev)),
            (_("Cancel"), cb.DUTY_CONFIRM.pack("cancel", rev)),
        ],
    ]


async def begin(turn: Turn, filing: Filing, resumed: bool) -> State:
    """The first message: what it is, the office's comment after a return, the first open
    question."""
    _ = turn._
    if not filing.draft.findings:
        filing.draft.findings = await fresh_findings(turn)
    intro = _(
        "Self-check “{title}” ({period}), due {due}: for each of the {count} categories, say "
        "whether your unit found problems of that kind. Send /cancel at any time to stop."
    ).format(
        title=esc(filing.obligation.title),
        period=period_label(filing.submission.period, _),
        due=due_line(turn, filing.submission),
        count=len(filing.draft.findings),
    )
    state = await ask(turn, filing, resume_state(filing))
    await introduce(turn, filing, intro, resumed)
    return state


# --- steps -------------------------------------------------------------------------------------


async def choose_found(turn: Turn, filing: Filing) -> int:
    """Found or not found, for the category asked."""
    fields = cb.DUTY_STEP.unpack(turn.callback_data)
    action = fields["action"] if fields else None
    finding = _open(filing)
    if finding is None or finding.found is not None or action not in ("found", "clean"):
        return await _reask(State.FOUND)(turn, filing)
    finding.found = action == "found"
    name = esc(await _name(turn, finding.category_id, turn.language))
    label = turn._("Problems found") if finding.found else turn._("None found")
    turn.pressed_becomes = turn._("{category}: {answer}").format(category=name, answer=label)
    return await ask(turn, filing, resume_state(filing))


def _typed_into(field: str, state: State, maximum: int | None = None) -> Step:
    async def take(turn: Turn, filing: Filing) -> int:
        finding = _open(filing)
        text = typed(turn)
        if text is not None and maximum is not None and len(text) > maximum:
            turn.say(turn._("Please type at most {max} characters.").format(max=maximum))
            text = None
        if text is None or finding is None:
            return state if finding is not None else await ask(turn, filing, State.SUMMARY)
        setattr(finding, field, text)
        return await ask(turn, filing, resume_state(filing))

    take.__name__ = f"take_{field}"
    take.__doc__ = f"The finding's {field}."
    return take


async def take_due(turn: Turn, filing: Filing) -> int:
    """The due date; a past or unreadable one is refused and asked again."""
    _ = turn._
    finding = _open(filing)
    if finding is None:
        return await ask(turn, filing, State.SUMMARY)
    today = local_date(turn.now, turn.services.settings.tz)
    day = parse_due_date(turn.text[:40], today)
    if day is DateProblem.past:
        turn.say(
            _(
                "{date} is in the past. Please type a date from today on ({today}); add the "
                "year if you mean next year, e.g. {example}."
            ).format(
                date=esc(turn.text[:40]),
                today=today.isoformat(),
                example=date(today.year + 1, 1, 31).isoformat(),
            )
        )
        return State.DUE
    if isinstance(day, DateProblem):
        turn.say(
            _(
                "“{text}” is not a date I can read. Please type it like 2026-12-31, 2026/12/31 or "
                "12月31日."
            ).format(text=esc(turn.text[:40]))
        )
        return State.DUE
    finding.due_on = day.isoformat()
    return await ask(turn, filing, resume_state(filing))


async def summary_action(turn: Turn, filing: Filing) -> int:
    """File, start over or cancel from the summary; an outdated summary is shown again."""
    _ = turn._
    fields = cb.DUTY_CONFIRM.unpack(turn.callback_data)
    turn.clear_keyboard = True
    if fields is None or fields["rev"] != str(filing.draft.rev) or _open(filing) is not None:
        turn.toast = _("That summary is out of date; here is the current one.")
        return await ask(turn, filing, resume_state(filing))
    action = fields["action"]
    if action == "restart":
        filing.draft.findings = await fresh_findings(turn)
        return await ask(turn, filing, resume_state(filing))
    if action == "cancel":
        return await cancel_from_summary(turn, filing)
    if action != "confirm":
        return await _reask(State.SUMMARY)(turn, filing)
    units = await official_units(turn.session, turn.account_id)
    filed = await file_self_check(
        turn.session,
        filing.submission_id,
        department_ids=sorted(units.liaison_of),
        findings=[
            Finding(
                category_id=f.category_id,
                found=bool(f.found),
                description=f.description,
                measure=f.measure,
                owner_name=f.owner_name,
                due_on=date.fromisoformat(f.due_on) if f.due_on else None,
            )
            for f in filing.draft.findings
        ],
        actor_account_id=turn.account_id,
        now=turn.now,
        tz=turn.services.settings.tz,
    )
    # The notices' lines are rendered now, while the session is open, in each reader's language.
    rendered = {
        language: await content_lines(turn, filing, gettext_for(language), language)
        for language in LANGUAGES
    }
    state = await announce(
        turn, filing, filed, lambda _t, language: rendered.get(language, rendered[DEFAULT_LANGUAGE])
    )
    if isinstance(filed, Filed):
        turn.say(
            _(
                "{added} item(s) were added to your unit's rectification ledger; /ledger lists "
                "them."
            ).format(added=len(filed.added))
        )
        if filed.kept:
            turn.say(
                _(
                    "{kept} item(s) from the earlier round were already being worked on; they "
                    "stay in the ledger as they are."
                ).format(kept=len(filed.kept))
            )
    return state


def _reask(state: State) -> Step:
    async def reask(turn: Turn, filing: Filing) -> int:
        """Answer input of the wrong kind by asking the question again."""
        stale_or_wrong(turn, state in (State.FOUND, State.SUMMARY))
        return await ask(turn, filing, state)

    reask.__name__ = f"reask_{state.name.lower()}"
    return reask


def states() -> States:
    """This flow's steps, merged into the filing conversation by `handlers.duties.unit_duties`."""
    return with_reasks(
        {
            State.FOUND: [CallbackQueryHandler(step(choose_found), pattern=cb.DUTY_STEP.pattern)],
            State.DESCRIPTION: [
                MessageHandler(TEXT, step(_typed_into("description", State.DESCRIPTION)))
            ],
            State.MEASURE: [MessageHandler(TEXT, step(_typed_into("measure", State.MEASURE)))],
            State.OWNER: [
                MessageHandler(TEXT, step(_typed_into("owner_name", State.OWNER, OWNER_MAX)))
            ],
            State.DUE: [MessageHandler(TEXT, step(take_due))],
            State.SUMMARY: [
                CallbackQueryHandler(step(summary_action), pattern=cb.DUTY_CONFIRM.pattern)
            ],
        },
        _reask,
    )
