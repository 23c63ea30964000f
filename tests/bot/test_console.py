"""`zhengfeng chat`: a scripted person drives the console through a whole report."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from bot.console import console_settings, run_chat
from bot.runtime.i18n import gettext_for
from bot.runtime.settings import Settings
from db.engine import create_engine, session_factory
from db.models import Report, ReportState
from tests.conftest import NOW

ZH = gettext_for("zh_CN")
NUMBER = re.compile(r"ZF\d{4}-\d{6}")

Step = str | Callable[[str], str]


def pick(label: str, *, pattern: str | None = None) -> Callable[[str], str]:
    """Type the number the console shows in front of the button `label` (the newest one), or of
    the newest button whose label matches `pattern`."""

    def choose(screen: str) -> str:
        wanted = pattern if pattern is not None else re.escape(label)
        found = re.findall(rf"^  \[(\d+)\] {wanted}$", screen, re.M)
        assert found, f"no button {label!r} on screen:\n{screen[-1500:]}"
        return found[-1]

    return choose


class ScriptedPerson(io.TextIOBase):
    """A stream of typed lines that can look at the screen before typing, like a person."""

    def __init__(self, screen: io.StringIO, steps: list[Step]) -> None:
        self.screen = screen
        self.steps = list(steps)

    def readline(self, size: int | None = -1) -> str:
        if not self.steps:
            return ""
        step = self.steps.pop(0)
        line = step if isinstance(step, str) else step(self.screen.getvalue())
        return line + "\n"


async def _console(tmp_path: Path, steps: list[Step]) -> tuple[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path}/chat.db"
    settings = console_settings(Settings(), url, tmp_path / "data")
    screen = io.StringIO()
    await run_chat(settings, ScriptedPerson(screen, steps), screen, clock=lambda: NOW, echo=True)
    return screen.getvalue(), url


async def _state(url: str) -> ReportState:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        [report] = (await session.exec(select(Report))).all()
    await engine.dispose()
    return ReportState(report.state)


async def test_a_report_goes_round_citizen_admin_liaison_and_back(tmp_path: Path) -> None:
    answer = "已核实，窗口人员已批评教育并当场办结。"
    steps: list[Step] = [
        "/report",
        pick("推诿扯皮"),
        "公安",
        pick("市公安局"),
        "窗口工作人员推诿，要求反复提交同一份材料。",
        pick(ZH("Skip")),
        pick(ZH("Done")),
        pick(ZH("Anonymous")),
        pick(ZH("Submit")),
        ":as admin",
        "/inbox",
        pick("the report", pattern=r"ZF\d{4}-\d{6} · 市公安局"),
        pick(ZH("Assign to {unit}").format(unit="市公安局")),
        ":as liaison",
        pick(ZH("Sign")),
        pick(ZH("Reply")),
        answer,
        ":as citizen",
        ":quit",
    ]
    screen, url = await _console(tmp_path, steps)
    parts = screen.split("> :as ")
    citizen, admin, liaison, back = parts[0], parts[1], parts[2], parts[3]
    [number] = set(NUMBER.findall(citizen))
    assert number in admin
    assert re.search(r"[(（]:as liaison[)）]", admin)  # the assignment notice is announced
    assert number in liaison.split("> ")[1]  # shown on switching, before typing anything
    # The liaison never sees who reported; the citizen sees the answer and can rate it.
    assert "张三" not in liaison and "100001" not in liaison
    assert answer in back
    assert re.search(rf"^  \[\d+\] {ZH('Satisfied')}$", back, re.M)
    assert await _state(url) == ReportState.replied


async def test_console_commands_and_bad_input_get_answers(tmp_path: Path) -> None:
    screen, _url = await _console(
        tmp_path, [":help", ":as mayor", ":frob", "/start", "99", ":as admin"]
    )
    assert "citizen" in screen and "liaison" in screen and "admin" in screen
    assert "mayor" in screen and ":frob" in screen
    assert "1" in screen and ZH("File a report") in screen
    assert screen.rstrip().endswith("admin>")  # the stream ended: the console left by itself


def test_chat_refuses_an_unknown_persona(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["chat", "--as", "mayor"])
    assert result.exit_code == 2 and "mayor" in result.output
