"""`zhengfeng invite evaluator GROUP`: a single-use link into an evaluator group."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import app
from tests.bot.test_cli_commands import _query, _sample, runner, workdir

__all__ = ["workdir"]


def test_an_evaluator_invite_names_its_group(workdir: Path) -> None:
    _sample(workdir)
    result = runner.invoke(app, ["invite", "evaluator", "ws", "--bot-username", "zf_bot"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("https://t.me/zf_bot?start=")
    assert "外商代表" in result.stderr
    assert _query(
        workdir,
        "select i.role, g.code, i.department_id from invite i "
        "join evaluator_group g on g.id = i.group_id",
    ) == [("evaluator", "WS", None)]
    by_name = runner.invoke(app, ["invite", "评议代表", "企业代表", "--bot-username", "zf_bot"])
    assert by_name.exit_code == 0, by_name.output
    assert _query(workdir, "select count(*) from invite where group_id is not null") == [(2,)]


@pytest.mark.parametrize(
    "args",
    [
        ["invite", "evaluator", "--bot-username", "b"],
        ["invite", "evaluator", "NOPE", "--bot-username", "b"],
    ],
)
def test_an_evaluator_invite_needs_a_known_group(workdir: Path, args: list[str]) -> None:
    _sample(workdir)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.startswith("zhengfeng: ")
    assert _query(workdir, "select count(*) from invite") == [(0,)]
