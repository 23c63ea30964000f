"""The round form an office clerk types in one message (`/round`), read into a `RoundForm`.

    标题：2026年第4季度百家企业评政风
    期间：2026年第4季度          （季度 2026-Q4 is read from it; or a line 季度：2026-Q4）
    评议组：QY WS               （or 全部）
    单位：全部                  （all active units of kind department; or 类别 执法监督; or
                                 单位 D001 D002）
    评议项目：服务态度 办事效率 依法行政 廉洁自律 总体满意   （optional: these are the default）
    截止：2026-12-25            （the round closes at the end of that local day）

English keys work too (title, period, quarter, groups, units, dimensions, closes). Reading the
form is a plain function so that every wording is tested without Telegram; group and unit codes
are looked up afterwards, because only the database knows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum, StrEnum

from db.calendar.date_input import read_date

DEFAULT_DIMENSIONS: tuple[str, ...] = ("服务态度", "办事效率", "依法行政", "廉洁自律", "总体满意")
SCALE_MAX = 5
"""Every dimension is scored 1 to 5 (the seeds' paper forms)."""
MAX_DIMENSIONS = 8
DIMENSION_MAX = 20
TITLE_MAX = 200
PERIOD_MAX = 40

KEYS: dict[str, str] = {
    "标题": "title",
    "名称": "title",
    "title": "title",
    "期间": "period",
    "评议期间": "period",
    "时段": "period",
    "period": "period",
    "季度": "quarter",
    "quarter": "quarter",
    "评议组": "groups",
    "组别": "groups",
    "groups": "groups",
    "group": "groups",
    "单位": "units",
    "范围": "units",
    "被评议单位": "units",
    "units": "units",
    "评议项目": "dimensions",
    "项目": "dimensions",
    "dimensions": "dimensions",
    "截止": "closes",
    "截止日期": "closes",
    "截止时间": "closes",
    "closes": "closes",
    "close": "closes",
}
ALL_WORDS = frozenset({"全部", "所有", "所有单位", "全部单位", "全部评议组", "all"})
CLASS_WORDS = ("类别", "class")
UNIT_WORDS = ("单位", "units", "unit")

_LINE = re.compile(r"^\s*([^:：]{1,12}?)\s*[:：]\s*(.*)$")
_SPLIT = re.compile(r"[\s,，、;；]+")
_CODE = re.compile(r"^[A-Za-z0-9_-]+$")
_QUARTER_CODE = re.compile(r"^(\d{4})\s*-?\s*Q([1-4])$", re.IGNORECASE)
_ZH_QUARTER = re.compile(r"(\d{4})\s*年\s*(?:第\s*)?([1-4一二三四])\s*季度?")
_ZH_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4}


class FormProblem(Enum):
    """What is wrong with a typed form; the handler words each one. (A plain Enum: a member is
    named `title`, which a str enum would shadow `str.title` with.)"""

    empty = "empty"
    unknown_line = "unknown_line"
    title = "title"
    period = "period"
    quarter = "quarter"
    groups = "groups"
    units = "units"
    dimensions = "dimensions"
    closes = "closes"


class UnitScope(StrEnum):
    all = "all"
    """Every active unit of kind department."""
    dept_class = "dept_class"
    """The active units of kind department in one class."""
    listed = "listed"
    """Units by code, of any kind (a window, a key position)."""


@dataclass(frozen=True)
class RoundForm:
    """What the clerk typed; `groups` empty with `all_groups` False means it was left out."""

    title: str | None = None
    period: str | None = None
    quarter: str | None = None
    all_groups: bool = False
    groups: tuple[str, ...] = ()
    units: UnitScope | None = None
    unit_class: str | None = None
    unit_codes: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS
    closes_on: date | None = None


@dataclass(frozen=True)
class FormError:
    problem: FormProblem
    line: str = ""


def quarter_of(text: str) -> str | None:
    """`2026-Q4` for 2026-Q4, 2026Q4, 2026年第4季度, 2026年第四季度 or 2026年4季度; else None."""
    text = text.strip()
    match = _QUARTER_CODE.match(text)
    if match:
        return f"{match.group(1)}-Q{match.group(2)}"
    match = _ZH_QUARTER.search(text)
    if match:
        number = match.group(2)
        quarter = _ZH_NUMBERS.get(number) or int(number)
        return f"{match.group(1)}-Q{quarter}"
    return None


def _groups(text: str) -> tuple[bool, tuple[str, ...]] | None:
    if text.lower() in ALL_WORDS:
        return True, ()
    words = tuple(w for w in _SPLIT.split(text) if w)
    return (False, words) if words else None


def _units(text: str) -> tuple[UnitScope, str | None, tuple[str, ...]] | None:
    if text.lower() in ALL_WORDS:
        return UnitScope.all, None, ()
    for word in CLASS_WORDS:
        if text.lower().startswith(word):
            name = text[len(word) :].strip()
            return (UnitScope.dept_class, name, ()) if name else None
    for word in UNIT_WORDS:
        if text.lower().startswith(word):
            text = text[len(word) :]
            break
    codes = tuple(c for c in _SPLIT.split(text.strip()) if c)
    if codes and all(_CODE.match(c) for c in codes):
        return UnitScope.listed, None, tuple(dict.fromkeys(c.upper() for c in codes))
    if len(codes) == 1:
        # A bare class name such as 执法监督.
        return UnitScope.dept_class, codes[0], ()
    return None


def _dimensions(text: str) -> tuple[str, ...] | None:
    names = tuple(n for n in _SPLIT.split(text) if n)
    if not names or len(names) > MAX_DIMENSIONS or len(set(names)) != len(names):
        return None
    if any(len(n) > DIMENSION_MAX for n in names):
        return None
    return names


def parse_round_form(text: str) -> RoundForm | FormError:
    """Read `key: value` lines into a form; the first line it cannot read is the error."""
    form = RoundForm()
    seen = False
    quarter_given = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        key = KEYS.get(match.group(1).strip().lower()) if match else None
        if key is None or match is None:
            return FormError(FormProblem.unknown_line, line)
        seen = True
        value = match.group(2).strip()
        if key == "title":
            if not value or len(value) > TITLE_MAX:
                return FormError(FormProblem.title, value)
            form = replace(form, title=value)
        elif key == "period":
            if not value or len(value) > PERIOD_MAX:
                return FormError(FormProblem.period, value)
            form = replace(form, period=value)
            if not quarter_given:
                form = replace(form, quarter=quarter_of(value))
        elif key == "quarter":
            quarter = quarter_of(value)
            if quarter is None:
                return FormError(FormProblem.quarter, value)
            form, quarter_given = replace(form, quarter=quarter), True
        elif key == "groups":
            groups = _groups(value)
            if groups is None:
                return FormError(FormProblem.groups, value)
            form = replace(form, all_groups=groups[0], groups=groups[1])
        elif key == "units":
            units = _units(value)
            if units is None:
                return FormError(FormProblem.units, value)
            form = replace(form, units=units[0], unit_class=units[1], unit_codes=units[2])
        elif key == "dimensions":
            dimensions = _dimensions(value)
            if dimensions is None:
                return FormError(FormProblem.dimensions, value)
            form = replace(form, dimensions=dimensions)
        else:
            closes_on = read_date(value, None)
            if closes_on is None:
                return FormError(FormProblem.closes, value)
            form = replace(form, closes_on=closes_on)
    if not seen:
        return FormError(FormProblem.empty)
    return form


def missing_keys(form: RoundForm) -> list[str]:
    """The keys a new round still needs (评议项目 and 季度 are optional)."""
    wanted = {
        "标题": form.title,
        "期间": form.period,
        "评议组": form.all_groups or form.groups or None,
        "单位": form.units,
        "截止": form.closes_on,
    }
    return [key for key, value in wanted.items() if value is None]
