"""The browser the page's tests drive: Debian's chromium through selenium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver

from tests.conftest import _running_in_ci
from tests.support.browser import CHROMEDRIVER, CHROMIUM, start_browser


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """A fresh headless chromium (skipped without the Debian packages, except under CI)."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            message = f"{binary} is missing (apt-get install chromium chromium-driver)"
            if _running_in_ci():
                pytest.fail(message)
            pytest.skip(message)
    driver = start_browser(tmp_path / "browser")
    yield driver
    driver.quit()
