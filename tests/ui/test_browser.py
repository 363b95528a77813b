"""The operator's page in a real browser: Debian's chromium, driven by selenium.

Notifications come from the real Alertmanager (group_wait 1s), the Clanker emulator
answers for the model and recording servers stand in for destinations. Every test writes
screenshots under its tmp dir (screenshots/), as artefacts to look at when one fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import AlertmanagerFactory, ServiceFactory
from tests.support.alertmanager import AlertmanagerProcess, ReceiverSpec
from tests.support.browser import (
    full_page_screenshot,
    send_basic_auth,
)
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordingServer, Reply
from tests.support.service import ServiceProcess

pytestmark = pytest.mark.alertmanager

PLANTED = "hunter2-planted-7730"
HOSTILE = {
    "summary": "<script>window.pwned = 1; alert(1)</script> disk almost full",
    "description": '<img src=x onerror="window.pwned = 2; alert(2)"> on /var',
    "runbook_url": "javascript:window.pwned=3;alert(3)",
    "dashboard": '<a href="javascript:alert(4)">graph</a>',
}


class Shots:
    """Numbered full-page screenshots in the test's tmp dir."""

    def __init__(self, driver: WebDriver, directory: Path) -> None:
        self._driver = driver
        self._directory = directory
        self.taken: list[Path] = []

    def __call__(self, name: str) -> Path:
        path = self._directory / f"{len(self.taken) + 1:02d}-{name}.png"
        self.taken.append(full_page_screenshot(self._driver, path))
        return path


@pytest.fixture
def shots(browser: WebDriver, tmp_path: Path) -> Shots:
    return Shots(browser, tmp_path / "screenshots")


def through_alertmanager(
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    config: dict[str, Any],
) -> tuple[ServiceProcess, AlertmanagerProcess]:
    service = service_factory(config)
    receivers = {"explainer": ReceiverSpec(url=service.webhook_url())}
    return service, alertmanager_factory(receivers)


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 20) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def rows(driver: WebDriver) -> list[dict[str, str]]:
    """The list's rows as {column: text}, read in one step (the page replaces them live)."""
    found: list[dict[str, str]] = driver.execute_script(
        """
        const headers = Array.from(document.querySelectorAll("table.list thead th"),
                                   (th) => th.innerText.trim());
        return Array.from(document.querySelectorAll("#rows tr"))
          .map((tr) => Array.from(tr.children, (td) => td.innerText.trim()))
          .filter((cells) => cells.length === headers.length)
          .map((cells) => Object.fromEntries(cells.map((text, i) => [headers[i], text])));
        """
    )
    return found


def assert_inert(driver: WebDriver) -> None:
    """Nothing hostile ran or exists: no dialog, no flag set, no injected element."""
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - raises when no dialog is open
    assert driver.execute_script("return typeof window.pwned") == "undefined"
    scripts = driver.execute_script(
        "return Array.from(document.scripts).map(s => s.getAttribute('src'))"
    )
    assert (
        scripts == ["ui/static/ui.js"]
        or scripts == ["../../ui/static/ui.js"]
        or scripts == ["../ui/static/ui.js"]
    )
    assert driver.find_elements(By.TAG_NAME, "img") == []
    assert driver.find_elements(By.CSS_SELECTOR, "[onerror], [onload], [onclick]") == []
    assert driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript' i]") == []


def test_the_list_shows_what_alertmanager_sent_with_each_outcome_and_updates_itself(
    browser: WebDriver,
    shots: Shots,
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
) -> None:
    team, pager = make_recorder(), make_recorder()
    pager.default = Reply(status=404, body=b"no_such_integration")
    routes = [
        {"name": "storage", "sinks": ["pager"], "matchers": ['team="storage"']},
        {
            "name": "info",
            "sinks": ["team"],
            "matchers": ['severity="info"'],
            "explain": ['severity=~"warning|critical"'],
        },
        {"name": "default", "sinks": ["team"]},
    ]
    config = explainer_config(clanker.url, {"team": team.url, "pager": pager.url}, routes=routes)
    service, am = through_alertmanager(service_factory, alertmanager_factory, config)
    browser.get(f"{service.base_url}/ui")
    assert "No notifications yet" in browser.find_element(By.ID, "rows").text

    am.fire(
        "HighLatency",
        {"severity": "warning", "team": "web", "instance": "web-1"},
        {"summary": "p99 latency above 2s on web-1"},
    )
    am.fire(
        "DiskAlmostFull",
        {"severity": "critical", "team": "storage", "instance": "db-1"},
        {"summary": "/var on db-1 is 97% full"},
    )
    am.fire(
        "KubeJobFailed",
        {"severity": "warning", "team": "web", "job_name": "backup"},
        {"summary": "Job web/backup failed"},
    )
    am.fire(
        "NodeClockSkew",
        {"severity": "info", "team": "web", "instance": "web-2"},
        {"summary": "clock on web-2 is 0.6s off"},
    )

    def groups(d: WebDriver) -> dict[str, dict[str, str]]:
        return {r["Group"].split(" ×")[0]: r for r in rows(d) if r["Outcome"] != "in progress"}

    def outcome(row: dict[str, str]) -> str:
        return row["Outcome"].split("\n")[0]  # without the "N retries" line

    # No reload anywhere in this test: the page's own script brings every row in.
    wait(browser, lambda d: len(groups(d)) == 4)
    am.resolve("KubeJobFailed", {"severity": "warning", "team": "web", "job_name": "backup"})
    wait(browser, lambda d: any(r["Status"] == "resolved" for r in rows(d)), timeout=30)
    by_group = groups(browser)
    assert (by_group["HighLatency"]["Outcome"], by_group["HighLatency"]["Explanation"]) == (
        "delivered",
        "explained",
    )
    (disk,) = [r for r in rows(browser) if r["Group"].startswith("DiskAlmostFull")]
    assert disk["Route"] == "storage"
    assert outcome(disk) in ("failed", "in progress")  # Alertmanager keeps retrying it...
    assert disk["Outcome"].endswith(" retries")  # ...in the same row
    assert by_group["NodeClockSkew"]["Explanation"] == "no call needed"
    resolved = next(r for r in rows(browser) if r["Status"] == "resolved")
    assert (resolved["Group"].split(" ×")[0], resolved["Explanation"]) == (
        "KubeJobFailed",
        "no call needed",
    )
    failed = browser.find_element(By.CSS_SELECTOR, "#rows .dest.failed")
    assert "404" in (failed.get_attribute("title") or "")
    shots("list")  # the README's screenshot

    Select(browser.find_element(By.NAME, "outcome")).select_by_value("failed")  # submits
    wait(browser, lambda d: "outcome=failed" in d.current_url)
    assert [r["Group"].split(" ×")[0] for r in rows(browser)] == ["DiskAlmostFull"]
    shots("list-failed")


def test_a_notifications_page_shows_the_redacted_prompt_and_the_answer(
    browser: WebDriver,
    shots: Shots,
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    clanker.default = Behaviour.ok(
        content="Headline: payments cannot log in to the database\n"
        "What is happening: the api pods fail their database login.\n"
        "Likely cause: a rotated password.\nFirst checks:\n- the db credentials secret"
    )
    config = explainer_config(clanker.url, {"team": recorder.url})
    service, am = through_alertmanager(service_factory, alertmanager_factory, config)
    am.fire(
        "DatabaseLoginFailing",
        {"severity": "critical", "namespace": "payments"},
        {"summary": "logins fail", "description": f"connect as api password={PLANTED}"},
    )
    recorder.wait_for(1, timeout=20)

    browser.get(f"{service.base_url}/ui")
    wait(browser, lambda d: rows(d) and rows(d)[0]["Outcome"] == "delivered")
    browser.find_element(By.CSS_SELECTOR, "#rows a").click()
    wait(browser, lambda d: d.find_elements(By.ID, "prompt"))

    prompt = browser.find_element(By.ID, "prompt").text
    assert "[REDACTED:secret_pair]" in prompt
    assert "These messages left the cluster" in prompt
    assert "× secret_pair" in prompt
    answer = browser.find_element(By.ID, "answer").text
    assert "payments cannot log in to the database" in answer
    destinations = browser.find_element(By.ID, "destinations").text
    assert "team" in destinations
    assert "delivered" in destinations
    assert PLANTED not in browser.page_source
    shots("notification")


def test_the_preview_renders_a_pasted_payload_and_sends_nothing(
    browser: WebDriver,
    shots: Shots,
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    browser.get(f"{service.base_url}/ui/preview")

    browser.find_element(By.ID, "payload").send_keys(json.dumps(sample_payload))
    Select(browser.find_element(By.NAME, "route")).select_by_visible_text("default")
    browser.find_element(By.CSS_SELECTOR, "form.preview button").click()
    wait(browser, lambda d: d.find_elements(By.ID, "result"))

    result = browser.find_element(By.ID, "result").text
    assert "Route default selected" in result
    assert "Alert 1 of 2: KubePodCrashLooping [firing]" in result  # the user message
    browser.find_element(By.XPATH, "//summary[text()='The whole request body']").click()
    body = browser.find_element(By.ID, "result").text
    assert '"model": "gemini-3.5-flash"' in body  # the inference request body
    assert "Pod payments/api-7d9f is crash looping" in result
    assert "Preview: the model's explanation appears here" in result  # team's webhook body
    shots("preview")
    browser.find_element(By.LINK_TEXT, "load the sample").click()
    wait(
        browser,
        lambda d: (
            "KubePodCrashLooping" in (d.find_element(By.ID, "payload").get_attribute("value") or "")
        ),
    )
    assert clanker.requests == []
    assert recorder.received == []


def test_hostile_alert_text_executes_nothing_on_any_page(
    browser: WebDriver,
    shots: Shots,
    service_factory: ServiceFactory,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    clanker.default = Behaviour.ok(
        content="Headline: <script>window.pwned = 5; alert(5)</script> see "
        '<img src=x onerror="alert(6)"> [runbook](javascript:alert(7))'
    )
    config = explainer_config(clanker.url, {"team": recorder.url})
    service, am = through_alertmanager(service_factory, alertmanager_factory, config)
    alert = am.fire(
        'DiskFull<img src=x onerror="alert(8)">',  # alert names are shown in the list
        {"severity": "critical", "team": "<script>alert(10)</script>"},
        HOSTILE,
        generator_url="javascript:alert(9)",
    )
    recorder.wait_for(1, timeout=20)

    browser.get(f"{service.base_url}/ui")
    wait(browser, lambda d: rows(d) and rows(d)[0]["Outcome"] == "delivered")
    assert_inert(browser)
    time.sleep(6)  # one refresh by the page's script: new markup must stay inert too
    assert_inert(browser)
    assert 'DiskFull<img src=x onerror="alert(8)">' in browser.find_element(By.ID, "rows").text
    shots("hostile-list")

    browser.find_element(By.CSS_SELECTOR, "#rows a").click()
    wait(browser, lambda d: d.find_elements(By.ID, "answer"))
    assert_inert(browser)
    page = browser.find_element(By.TAG_NAME, "main").text
    assert HOSTILE["summary"] in page  # shown as text
    assert "<script>window.pwned = 5; alert(5)</script>" in page  # the answer as received
    shots("hostile-notification")

    browser.get(f"{service.base_url}/ui/preview")
    payload = {
        "status": "firing",
        "receiver": "x",
        "alerts": [{"status": "firing", "labels": alert["labels"], "annotations": HOSTILE}],
    }
    browser.find_element(By.ID, "payload").send_keys(json.dumps(payload))
    browser.find_element(By.CSS_SELECTOR, "form.preview button").click()
    wait(browser, lambda d: d.find_elements(By.ID, "result"))
    assert_inert(browser)
    shots("hostile-preview")


def test_the_page_needs_credentials_when_auth_is_on(
    browser: WebDriver,
    shots: Shots,
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        ui={"auth": {"basic_auth": [{"username": "ops", "password": "s3cret-page"}]}},
    )
    service = service_factory(config)
    status = "return performance.getEntriesByType('navigation')[0].responseStatus"

    browser.get(f"{service.base_url}/ui")
    assert browser.execute_script(status) == 401
    assert "Notifications" not in browser.page_source

    send_basic_auth(browser, "ops", "s3cret-page")
    browser.get(f"{service.base_url}/ui")
    assert browser.execute_script(status) == 200
    assert browser.find_element(By.TAG_NAME, "h1").text == "Notifications"
    shots("with-credentials")
