"""The office clerk's duty form, read as a plain function: the wordings it accepts, what it
refuses, and that a duty written back as a form reads back the same."""

from __future__ import annotations

from datetime import date

import pytest

from db.duties.form import (
    DutyForm,
    FormError,
    FormProblem,
    form_text,
    missing_for_new,
    parse_due,
    parse_form,
)
from db.duties.rules import DueRule
from db.models import DuePeriod, DutyScope, ObligationKind


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("2026-04-20", DueRule(DuePeriod.once, due_on=date(2026, 4, 20))),
        ("2026年4月20日", DueRule(DuePeriod.once, due_on=date(2026, 4, 20))),
        ("2026/4/20", DueRule(DuePeriod.once, due_on=date(2026, 4, 20))),
        ("每季度结束后5个工作日", DueRule(DuePeriod.quarter, days_after=5)),
        ("每季度后 5 个工作日内", DueRule(DuePeriod.quarter, days_after=5)),
        ("每月结束后3个工作日", DueRule(DuePeriod.month, days_after=3)),
        ("每半年结束后10个工作日", DueRule(DuePeriod.half_year, days_after=10)),
        ("5 working days after each quarter", DueRule(DuePeriod.quarter, days_after=5)),
        ("10 working days after every half-year", DueRule(DuePeriod.half_year, days_after=10)),
    ],
)
def test_due_rules_a_clerk_writes(text: str, rule: DueRule) -> None:
    assert parse_due(text) == rule


@pytest.mark.parametrize(
    "text", ["2026-02-30", "下周五", "每季度", "quarterly", "每年结束后5个工作日"]
)
def test_due_rules_that_do_not_read(text: str) -> None:
    assert parse_due(text) is None


def test_a_whole_form_with_questions() -> None:
    form = parse_form(
        "类型：季度报送\n标题： 季度工作报告 \n范围：类别 执法监督\n期限：每季度结束后5个工作日\n"
        "问题：\n本季度开展了哪些工作？\n\n问题1：发现了哪些问题？"
    )
    assert form == DutyForm(
        kind=ObligationKind.quarterly,
        title="季度工作报告",
        scope=DutyScope.dept_class,
        scope_class="执法监督",
        rule=DueRule(DuePeriod.quarter, days_after=5),
        questions=("本季度开展了哪些工作？", "问题1：发现了哪些问题？"),
    )
    assert isinstance(form, DutyForm) and missing_for_new(form) == []


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("全部", (DutyScope.all, None, ())),
        ("all", (DutyScope.all, None, ())),
        ("单位 D011、d012，D013", (DutyScope.listed, None, ("D011", "D012", "D013"))),
        ("D011 D012", (DutyScope.listed, None, ("D011", "D012"))),
        ("执法监督", (DutyScope.dept_class, "执法监督", ())),
        ("class 经济管理", (DutyScope.dept_class, "经济管理", ())),
    ],
)
def test_scopes(scope: str, expected: tuple[object, ...]) -> None:
    form = parse_form(f"范围：{scope}")
    assert isinstance(form, DutyForm)
    assert (form.scope, form.scope_class, form.unit_codes) == expected


@pytest.mark.parametrize(
    ("text", "problem", "quoted"),
    [
        ("", FormProblem.empty, ""),
        ("请尽快报送", FormProblem.unknown_line, "请尽快报送"),
        ("类型：周报", FormProblem.kind, "周报"),
        ("标题：", FormProblem.title, ""),
        ("范围：市里各单位 和 区县", FormProblem.scope, "市里各单位 和 区县"),
        ("期限：尽快", FormProblem.due, "尽快"),
    ],
)
def test_what_a_form_refuses(text: str, problem: FormProblem, quoted: str) -> None:
    assert parse_form(text) == FormError(problem, quoted)


def test_missing_keys_of_a_new_duty() -> None:
    form = parse_form("类型：总结\n标题：年度总结")
    assert isinstance(form, DutyForm)
    assert missing_for_new(form) == ["范围", "期限"]


def test_a_duty_written_as_a_form_reads_back_the_same() -> None:
    rule = DueRule(DuePeriod.month, days_after=3)
    text = form_text(ObligationKind.other, "月度台账", "单位 D011 D012", rule, ["进展？"])
    assert parse_form(text) == DutyForm(
        kind=ObligationKind.other,
        title="月度台账",
        scope=DutyScope.listed,
        unit_codes=("D011", "D012"),
        rule=rule,
        questions=("进展？",),
    )
