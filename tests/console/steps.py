"""Browser steps the console tests share: each blocks (Selenium) and runs through `Browser.run`, in a thread.
Every wait is on a condition, with a generous deadline; never a fixed sleep."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.conftest import DEADLINE_SECONDS, Browser

# What a page may be re-drawn under us with: try again at the next poll.
PASSING = (NoSuchElementException, StaleElementReferenceException)


def wait(b: Browser, condition: Callable[[Any], Any], what: str, seconds: float = DEADLINE_SECONDS) -> Any:
    return WebDriverWait(b.driver, seconds, poll_frequency=0.2, ignored_exceptions=PASSING).until(
        condition, message=f"waiting for {what}"
    )


def element(b: Browser, css: str) -> Any:
    return wait(b, ec.presence_of_element_located((By.CSS_SELECTOR, css)), css)


def text_of(b: Browser, css: str) -> str:
    """The element's text, read again when the page re-drew it meanwhile."""
    text: str = wait(b, lambda driver: str(driver.find_element(By.CSS_SELECTOR, css).text) or True, css)
    return "" if text is True else text


def text_shows(b: Browser, css: str, needle: str, seconds: float = DEADLINE_SECONDS) -> str:
    """Waits until the element's text contains `needle`; returns that text."""

    def seen(driver: Any) -> str | bool:
        text = str(driver.find_element(By.CSS_SELECTOR, css).text)
        return text if needle in text else False

    found: str = wait(b, seen, f"{needle!r} in {css}", seconds)
    return found


def click(b: Browser, css: str) -> None:
    """Clicks once the element is there and enabled (found again if the page re-drew it)."""

    def clicked(driver: Any) -> bool:
        target = driver.find_element(By.CSS_SELECTOR, css)
        if not target.is_displayed() or not target.is_enabled():
            return False
        target.click()
        return True

    wait(b, clicked, f"a clickable {css}")


def click_and_confirm(b: Browser, css: str) -> str:
    """Clicks an action that asks first, accepts the question and returns its text."""
    click(b, css)
    alert = wait(b, ec.alert_is_present(), "the confirmation")
    question = str(alert.text)
    alert.accept()
    return question


def sign_in(b: Browser, url: str, token: str) -> None:
    b.driver.get(url)
    field = element(b, "#token")
    field.clear()
    field.send_keys(token)
    click(b, "#sign-in-button")
    element(b, "#connections")


def sign_out(b: Browser) -> None:
    click(b, "#sign-out")
    element(b, "#token")


def go(b: Browser, url: str) -> None:
    b.driver.get(url)


def notice(b: Browser, needle: str) -> str:
    return text_shows(b, "#notice", needle)


def css_count(b: Browser, css: str) -> int:
    return len(b.driver.find_elements(By.CSS_SELECTOR, css))


def attribute_becomes(b: Browser, css: str, name: str, value: str, seconds: float = DEADLINE_SECONDS) -> None:
    def there(driver: Any) -> bool:
        return bool(driver.find_element(By.CSS_SELECTOR, css).get_attribute(name) == value)

    wait(b, there, f"{css} with {name}={value!r}", seconds)


def download(b: Browser, css: str, folder: Path) -> str:
    """Clicks a download link as a person would and returns the file's text once Chromium wrote it."""
    b.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    click(b, css)

    def written(_: Any) -> Path | bool:
        done = [path for path in folder.iterdir() if not path.name.endswith(".crdownload")]
        return done[0] if done else False

    path: Path = wait(b, written, f"the download of {css} in {folder}")
    return path.read_text(encoding="utf-8")
