"""A real browser for the operator's page: Debian's chromium driven by its chromedriver.

Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver through a Service, and
selenium-manager is told to stay offline, so nothing ever downloads a browser or a driver.
Each browser gets a fresh profile directory and no network beyond what the page asks for.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1440,900",
)


def start_browser(tmp_dir: Path) -> webdriver.Chrome:
    """A headless chromium with a fresh profile under `tmp_dir`."""
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never reach the network
    tmp_dir.mkdir(parents=True, exist_ok=True)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_dir / 'profile'}"):
        options.add_argument(flag)
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(tmp_dir / "chromedriver.log")
    )
    return webdriver.Chrome(service=service, options=options)


def send_basic_auth(driver: webdriver.Chrome, username: str, password: str) -> None:
    """Send `Authorization: Basic ...` with every request of the page (and its script)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}}
    )


def full_page_screenshot(driver: webdriver.Chrome, path: Path) -> Path:
    """The whole page, beyond the window's height, as a PNG."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
