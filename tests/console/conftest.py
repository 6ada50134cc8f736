"""The console in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven by Selenium.

The system runs in the test's event loop (`tests/e2e/world.py`: both sandboxes, the API on a real socket, a
worker); Selenium blocks, so every browser step runs in a thread (`Browser.run`) while the loop serves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
# Generous: a loaded 2-core machine runs the browser, the API, a worker and both sandboxes at once.
DEADLINE_SECONDS = 45.0
T = TypeVar("T")
# Selenium logs every WebDriver call (screenshots whole): a failure's report would drown in them.
for _name in ("selenium", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass
class Browser:
    driver: Any
    screenshots: Path

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.screenshots / f"{name}.png"))

    async def run(self, step: Callable[..., T], *args: Any) -> T:
        """A blocking browser step, in a thread: the event loop keeps serving the API meanwhile."""
        return await asyncio.to_thread(step, self, *args)

    def errors(self) -> list[str]:
        """What the page logged as errors since the last call (CSP violations, failed scripts)."""
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture(scope="session")
def chromium_driver() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(DEADLINE_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium_driver: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Browser]:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    chromium_driver.delete_all_cookies()
    the_browser = Browser(chromium_driver, folder)
    yield the_browser
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        the_browser.shot("on-failure")
        print(f"console screenshots: {folder}")  # pytest shows it with the failure
        print(json.dumps(chromium_driver.get_log("browser"), indent=1)[:5000])
    # The next test starts signed out, on a blank page.
    chromium_driver.get("about:blank")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
