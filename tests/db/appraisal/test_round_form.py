"""The /round form read as a clerk may type it, without Telegram."""

from __future__ import annotations

from datetime import date

import pytest

from db.appraisal.form import (
    DEFAULT_DIMENSIONS,
    FormError,
    FormProblem,
    RoundForm,
    UnitScope,
    missing_keys,
    parse_round_form,
    quarter_of,
)

FULL = """标题：2026年第4季度百家企业评政风
期间：2026年第4季度
评议组：QY WS
单位：全部
截止：2026-12-25"""


def read(text: str) -> RoundForm:
    form = parse_round_form(text)
    assert isinstance(form, RoundForm), form
    return form


def test_the_full_form_with_defaults() -> None:
    form = read(FULL)
    assert form.title == "2026年第4季度百家企业评政风"
    assert (form.period, form.quarter) == ("2026年第4季度", "2026-Q4")
    assert (form.all_groups, form.groups) == (False, ("QY", "WS"))
    assert (form.units, form.unit_class, form.unit_codes) == (UnitScope.all, None, ())
    assert form.dimensions == DEFAULT_DIMENSIONS
    assert form.closes_on == date(2026, 12, 25)
    assert missing_keys(form) == []


@pytest.mark.parametrize(
    ("text", "quarter"),
    [
        ("2026年第4季度", "2026-Q4"),
        ("2026年第四季度", "2026-Q4"),
        ("2026年1季度", "2026-Q1"),
        ("2026 年 第 2 季度", "2026-Q2"),
        ("2026-Q3", "2026-Q3"),
        ("2026q3", "2026-Q3"),
        ("2026年上半年", None),
        ("2026年度", None),
        ("2026-Q5", None),
    ],
)
def test_the_quarter_is_read_from_the_period(text: str, quarter: str | None) -> None:
    assert quarter_of(text) == quarter


def test_a_quarter_line_wins_over_the_period_in_either_order() -> None:
    base = FULL.replace("期间：2026年第4季度", "期间：2026年下半年")
    assert read(base).quarter is None
    assert read(base + "\n季度：2026-Q4").quarter == "2026-Q4"
    assert read("季度：2026年第3季度\n" + FULL).quarter == "2026-Q3"


@pytest.mark.parametrize(
    ("line", "scope", "klass", "codes"),
    [
        ("单位：全部", UnitScope.all, None, ()),
        ("单位：all", UnitScope.all, None, ()),
        ("单位：类别 执法监督", UnitScope.dept_class, "执法监督", ()),
        ("单位：执法监督", UnitScope.dept_class, "执法监督", ()),
        ("单位：单位 D001 D002", UnitScope.listed, None, ("D001", "D002")),
        ("单位：d001，D002、d001", UnitScope.listed, None, ("D001", "D002")),
        ("units: class 经济管理", UnitScope.dept_class, "经济管理", ()),
        ("范围：W001 W002", UnitScope.listed, None, ("W001", "W002")),
    ],
)
def test_unit_wordings(
    line: str, scope: UnitScope, klass: str | None, codes: tuple[str, ...]
) -> None:
    form = read(FULL.replace("单位：全部", line))
    assert (form.units, form.unit_class, form.unit_codes) == (scope, klass, codes)


def test_group_and_dimension_wordings_and_english_keys() -> None:
    form = read(
        "title: Foreign investors rate 2026 Q4\nperiod: 2026-Q4\ngroups: all\nunits: D001\n"
        "dimensions: 服务态度, 办事效率、总体满意\ncloses: 2026/12/31"
    )
    assert form.all_groups and form.groups == ()
    assert form.dimensions == ("服务态度", "办事效率", "总体满意")
    assert form.quarter == "2026-Q4" and form.closes_on == date(2026, 12, 31)
    assert read(FULL.replace("评议组：QY WS", "评议组：企业代表，外商代表")).groups == (
        "企业代表",
        "外商代表",
    )
    assert read(FULL.replace("截止：2026-12-25", "截止：2026年12月25日")).closes_on == date(
        2026, 12, 25
    )


@pytest.mark.parametrize(
    ("text", "problem", "quoted"),
    [
        ("", FormProblem.empty, ""),
        ("   \n  ", FormProblem.empty, ""),
        (FULL + "\n随便写点什么", FormProblem.unknown_line, "随便写点什么"),
        (FULL + "\n备注：无", FormProblem.unknown_line, "备注：无"),
        (FULL.replace("标题：2026年第4季度百家企业评政风", "标题："), FormProblem.title, ""),
        (FULL + "\n标题：" + "长" * 201, FormProblem.title, "长" * 201),
        (FULL.replace("期间：2026年第4季度", "期间："), FormProblem.period, ""),
        (FULL + "\n季度：第五季度", FormProblem.quarter, "第五季度"),
        (FULL.replace("评议组：QY WS", "评议组："), FormProblem.groups, ""),
        (FULL.replace("单位：全部", "单位：类别"), FormProblem.units, "类别"),
        (
            FULL.replace("单位：全部", "单位：市公安局 市城管局"),
            FormProblem.units,
            "市公安局 市城管局",
        ),
        (FULL + "\n评议项目：服务态度 服务态度", FormProblem.dimensions, "服务态度 服务态度"),
        (FULL + "\n评议项目：" + " ".join("abcdefghi"), FormProblem.dimensions, None),
        (FULL + "\n评议项目：" + "长" * 21, FormProblem.dimensions, None),
        (FULL + "\n评议项目：", FormProblem.dimensions, ""),
        (FULL.replace("截止：2026-12-25", "截止：下周五"), FormProblem.closes, "下周五"),
        (FULL.replace("截止：2026-12-25", "截止：2026-02-30"), FormProblem.closes, "2026-02-30"),
        (FULL.replace("截止：2026-12-25", "截止：12月25日"), FormProblem.closes, "12月25日"),
    ],
)
def test_bad_forms_say_what_is_wrong(text: str, problem: FormProblem, quoted: str | None) -> None:
    error = parse_round_form(text)
    assert isinstance(error, FormError)
    assert error.problem is problem
    if quoted is not None:
        assert error.line == quoted


def test_missing_keys_are_named() -> None:
    assert missing_keys(read("标题：评议")) == ["期间", "评议组", "单位", "截止"]
    assert missing_keys(read("评议组：全部")) == ["标题", "期间", "单位", "截止"]
