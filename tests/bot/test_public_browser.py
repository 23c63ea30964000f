"""The public page in a real browser: Debian's chromium, headless, driven by Selenium through
chromium-driver, against uvicorn serving the page with a published quarter. A person opens the
list of quarters, follows the quarter to its ranking, follows a unit's link, and sees the unit's
name, its rank, the chart with its alt text, and nothing of the reporter.

Skipped with the reason when chromium or chromedriver is missing; under `CI=true` that is a
failure instead, since `.ci/run` installs them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
import uvicorn

from bot.web import public_app
from tests.bot.test_public_page import free_port, published_quarter
from tests.handlers.cases.test_case_loop import NUMBER, SECRETS
from tests.handlers.cases.test_report_flow import DESCRIPTION
from tests.harness import Harness
from tests.scheduler.delivery.test_outbox import office

__all__ = ["office"]

CHROMIUM = os.environ.get("ZHENGFENG_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ZHENGFENG_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


def _browser_or_skip() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    if not missing:
        return
    reason = (
        f"no browser for the public page's test: {', '.join(missing)} missing "
        "(apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; .ci/run should have installed them")
    pytest.skip(reason)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own signals
        pass


def _walk(base: str, screenshot: Path) -> dict[str, object]:
    """What a person sees, step by step (runs in a thread: Selenium blocks)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=412,915",
    ):  # a phone's width
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(30)
        seen: dict[str, object] = {}
        driver.get(base + "/")
        seen["index_lang"] = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
        seen["index_h1"] = driver.find_element(By.TAG_NAME, "h1").text
        driver.find_element(By.LINK_TEXT, "2026年第1季度作风建设季度通报").click()
        seen["quarter_h1"] = driver.find_element(By.TAG_NAME, "h1").text
        first = driver.find_element(By.CSS_SELECTOR, "tbody tr")
        seen["first_row"] = first.text
        first.find_element(By.LINK_TEXT, "市公安局").click()
        seen["unit_url"] = driver.current_url
        seen["unit_h1"] = driver.find_element(By.TAG_NAME, "h1").text
        seen["rank_row"] = driver.find_element(By.CSS_SELECTOR, "table tbody tr").text
        chart = driver.find_element(By.CSS_SELECTOR, "img.chart")
        seen["chart_alt"] = chart.get_attribute("alt")
        seen["chart_width"] = driver.execute_script("return arguments[0].naturalWidth", chart)
        seen["overflow"] = driver.execute_script(
            "const e = document.documentElement; return e.scrollWidth - e.clientWidth"
        )
        seen["unit_text"] = driver.find_element(By.TAG_NAME, "body").text
        seen["unit_source"] = driver.page_source
        driver.save_screenshot(str(screenshot))
        return seen
    finally:
        driver.quit()


async def test_a_person_follows_the_quarter_to_a_unit(office: Harness, tmp_path: Path) -> None:
    _browser_or_skip()
    await published_quarter(office)
    port = free_port()
    server = _Server(
        uvicorn.Config(
            public_app(office.settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):  # 10 s at most
            if server.started or serving.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        seen = await asyncio.to_thread(_walk, f"http://127.0.0.1:{port}", tmp_path / "unit.png")
    finally:
        server.should_exit = True
        await serving

    assert seen["index_lang"] == "zh-CN" and seen["index_h1"] == "评议结果公示"
    assert seen["quarter_h1"] == "2026年第1季度作风建设季度通报"
    assert str(seen["first_row"]).startswith("1 市公安局")
    assert str(seen["unit_url"]).endswith("/unit/D011")
    assert seen["unit_h1"] == "市公安局"
    assert str(seen["rank_row"]).startswith("2026年第1季度作风建设季度通报 1"), seen["rank_row"]
    assert "市公安局各月按时办结率和满意率图表" in str(seen["chart_alt"])
    assert int(str(seen["chart_width"])) > 0, "the chart image loaded"
    assert int(str(seen["overflow"])) <= 0, "no sideways scrolling on a phone's width"
    for secret in (*SECRETS, DESCRIPTION[:10], NUMBER):
        assert secret not in str(seen["unit_source"]), secret
    assert (tmp_path / "unit.png").stat().st_size > 0
