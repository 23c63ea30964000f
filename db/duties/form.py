"""The duty form an office clerk types in one message (`/duty`), read into a `DutySpec`.

A clerk copies the form the bot shows, fills it in Chinese and sends it back:

    类型：季度报送
    标题：2026年作风建设季度工作报告
    范围：全部              （或：类别 执法监督；或：单位 D011 D012）
    期限：每季度结束后5个工作日 （或：2026-04-20；每月/每半年结束后N个工作日）
    问题：
    本季度开展了哪些工作？
    发现了哪些问题，如何整改？

A periodic duty asks for the period it is created in and the ones after; an optional line
`起始：2026-Q3` (a period, or a date inside it) asks for earlier periods too.
English keys and words work too (kind, title, scope, due, from, questions). Reading the form is a
plain function, so every wording a clerk might use is tested without Telegram; unit codes are
looked up afterwards (`resolve_units`), because only the database knows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.date_input import read_date
from db.duties.rules import DueRule, parse_period
from db.models import Department, DuePeriod, DutyScope, ObligationKind

KEYS: dict[str, str] = {
    "类型": "kind",
    "种类": "kind",
    "kind": "kind",
    "标题": "title",
    "名称": "title",
    "title": "title",
    "范围": "scope",
    "单位": "scope",
    "scope": "scope",
    "期限": "due",
    "截止": "due",
    "时限": "due",
    "due": "due",
    "起始": "from",
    "起始期": "from",
    "from": "from",
    "问题": "questions",
    "questions": "questions",
}
KIND_WORDS: dict[str, ObligationKind] = {
    "自查自纠": ObligationKind.self_check,
    "自查": ObligationKind.self_check,
    "self_check": ObligationKind.self_check,
    "self-check": ObligationKind.self_check,
    "工作方案": ObligationKind.plan,
    "实施方案": ObligationKind.plan,
    "方案": ObligationKind.plan,
    "plan": ObligationKind.plan,
    "季度报送": ObligationKind.quarterly,
    "季度报告": ObligationKind.quarterly,
    "季报": ObligationKind.quarterly,
    "quarterly": ObligationKind.quarterly,
    "总结": ObligationKind.summary,
    "工作总结": ObligationKind.summary,
    "summary": ObligationKind.summary,
    "其他": ObligationKind.other,
    "other": ObligationKind.other,
}
KIND_NAMES: dict[ObligationKind, str] = {
    ObligationKind.self_check: "自查自纠",
    ObligationKind.plan: "工作方案",
    ObligationKind.quarterly: "季度报送",
    ObligationKind.summary: "总结",
    ObligationKind.other: "其他",
}
"""The words the form is written back with (`form_text`)."""
PERIOD_WORDS: dict[str, DuePeriod] = {
    "月": DuePeriod.month,
    "季度": DuePeriod.quarter,
    "季": DuePeriod.quarter,
    "半年": DuePeriod.half_year,
    "month": DuePeriod.month,
    "quarter": DuePeriod.quarter,
    "half-year": DuePeriod.half_year,
    "half year": DuePeriod.half_year,
    "half_year": DuePeriod.half_year,
}
PERIOD_NAMES: dict[DuePeriod, str] = {
    DuePeriod.month: "月",
    DuePeriod.quarter: "季度",
    DuePeriod.half_year: "半年",
}
ALL_WORDS = frozenset({"全部", "所有单位", "全部单位", "all"})
CLASS_WORDS = ("类别", "class")
UNIT_WORDS = ("单位", "units", "unit")

_LINE = re.compile(r"^\s*([^:：]{1,12}?)\s*[:：]\s*(.*)$")
_ZH_PERIODIC = re.compile(
    r"^每?(月|季度|季|半年)(?:度)?(?:结束|末)?(?:后|之后|以后)?\s*(\d{1,2})\s*个?工作日(?:内)?$"
)
_EN_PERIODIC = re.compile(
    r"^(\d{1,2})\s*working\s+days?\s+after\s+(?:each|every|the)?\s*"
    r"(month|quarter|half[-_ ]year)$",
    re.IGNORECASE,
)
_CODES = re.compile(r"[A-Za-z0-9_-]+")
_SPLIT = re.compile(r"[\s,，、;；]+")


class FormProblem(Enum):
    """What is wrong with a typed form; the handler words each one. (A plain Enum: a member is
    named `title`, which a str enum would shadow `str.title` with.)"""

    empty = "empty"
    unknown_line = "unknown_line"
    kind = "kind"
    title = "title"
    scope = "scope"
    due = "due"
    start = "start"


@dataclass(frozen=True)
class DutyForm:
    """What the clerk typed; fields left out are None (an edit keeps the duty's own)."""

    kind: ObligationKind | None = None
    title: str | None = None
    scope: DutyScope | None = None
    scope_class: str | None = None
    unit_codes: tuple[str, ...] = ()
    rule: DueRule | None = None
    questions: tuple[str, ...] | None = None
    starts_on: date | None = None
    """From which period a new periodic duty is owed (`起始`); None: the current one."""


@dataclass(frozen=True)
class FormError:
    problem: FormProblem
    line: str = ""
    """The offending line or value, to quote back."""


def parse_due(text: str) -> DueRule | None:
    """A fixed date (2026-04-20, 2026年4月20日) or "每季度结束后5个工作日" / "5 working days
    after each quarter"; None when it reads neither way (or the date does not exist)."""
    text = text.strip()
    day = read_date(text, None)
    if day is not None:
        return DueRule(DuePeriod.once, due_on=day)
    match = _ZH_PERIODIC.match(text.replace(" ", ""))
    if match:
        return DueRule(PERIOD_WORDS[match.group(1)], days_after=int(match.group(2)))
    match = _EN_PERIODIC.match(text)
    if match:
        period = PERIOD_WORDS[re.sub(r"[-_ ]", "-", match.group(2).lower())]
        return DueRule(period, days_after=int(match.group(1)))
    return None


def parse_start(text: str) -> date | None:
    """`2026-Q3`, `2026-H2`, `2026-07` or a date: the first day it names."""
    text = text.strip()
    day = read_date(text, None)
    if day is not None:
        return day
    period = parse_period(text.upper())
    return period.start if period is not None else None


def _scope(text: str) -> tuple[DutyScope, str | None, tuple[str, ...]] | None:
    text = text.strip()
    if text.lower() in ALL_WORDS:
        return DutyScope.all, None, ()
    for word in CLASS_WORDS:
        if text.lower().startswith(word):
            name = text[len(word) :].strip()
            return (DutyScope.dept_class, name, ()) if name else None
    for word in UNIT_WORDS:
        if text.lower().startswith(word):
            text = text[len(word) :]
            break
    codes = tuple(c for c in _SPLIT.split(text.strip()) if c)
    if codes and all(_CODES.fullmatch(c) for c in codes):
        return DutyScope.listed, None, tuple(c.upper() for c in codes)
    if codes and len(codes) == 1:
        # A bare class name such as 执法监督.
        return DutyScope.dept_class, codes[0], ()
    return None


def parse_form(text: str) -> DutyForm | FormError:
    """Read `key: value` lines; after `问题:` every further line is one question."""
    form = DutyForm()
    questions: list[str] | None = None
    seen = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        key = KEYS.get(match.group(1).strip().lower()) if match else None
        if key is None or match is None:
            if questions is not None:
                questions.append(line)
                continue
            return FormError(FormProblem.unknown_line, line)
        seen = True
        value = match.group(2).strip()
        if key == "questions":
            questions = [value] if value else []
            continue
        if key == "kind":
            kind = KIND_WORDS.get(value.lower())
            if kind is None:
                return FormError(FormProblem.kind, value)
            form = replace(form, kind=kind)
        elif key == "title":
            if not value:
                return FormError(FormProblem.title, value)
            form = replace(form, title=value)
        elif key == "scope":
            scope = _scope(value)
            if scope is None:
                return FormError(FormProblem.scope, value)
            form = replace(form, scope=scope[0], scope_class=scope[1], unit_codes=scope[2])
        elif key == "from":
            starts_on = parse_start(value)
            if starts_on is None:
                return FormError(FormProblem.start, value)
            form = replace(form, starts_on=starts_on)
        else:
            rule = parse_due(value)
            if rule is None:
                return FormError(FormProblem.due, value)
            form = replace(form, rule=rule)
    if not seen:
        return FormError(FormProblem.empty)
    if questions is not None:
        form = replace(form, questions=tuple(questions))
    return form


def missing_for_new(form: DutyForm) -> list[str]:
    """The keys a new duty still needs (kind, title, scope and due; questions are optional)."""
    wanted = {"类型": form.kind, "标题": form.title, "范围": form.scope, "期限": form.rule}
    return [key for key, value in wanted.items() if value is None]


def due_text(rule: DueRule) -> str:
    if rule.period is DuePeriod.once:
        return f"{rule.due_on:%Y-%m-%d}"
    return f"每{PERIOD_NAMES[rule.period]}结束后{rule.days_after}个工作日"


def scope_text(scope: DutyScope, scope_class: str | None, codes: list[str]) -> str:
    if scope is DutyScope.all:
        return "全部"
    if scope is DutyScope.dept_class:
        return f"类别 {scope_class or ''}".strip()
    return "单位 " + " ".join(codes)


def form_text(
    kind: ObligationKind,
    title: str,
    scope: str,
    rule: DueRule,
    questions: list[str],
) -> str:
    """The form as the clerk would type it, e.g. to copy and change an existing duty."""
    lines = [
        f"类型：{KIND_NAMES[kind]}",
        f"标题：{title}",
        f"范围：{scope}",
        f"期限：{due_text(rule)}",
    ]
    if questions:
        lines += ["问题：", *questions]
    return "\n".join(lines)


async def resolve_units(
    session: AsyncSession, codes: tuple[str, ...]
) -> tuple[list[int], list[str]]:
    """The ids of the active units with these codes, and the codes that name none."""
    if not codes:
        return [], []
    rows = (
        await session.exec(
            select(Department).where(col(Department.code).in_(list(codes)), col(Department.active))
        )
    ).all()
    found = {d.code.upper(): d.id for d in rows if d.id is not None}
    return [found[c] for c in codes if c in found], [c for c in codes if c not in found]
