"""The operator's page lists the dead letters and replays them, behind its auth.

The service runs as a real process in async mode; a recording server plays a destination
that refuses for good (404) and is then fixed. A real browser clicks Replay in the last test.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alert_explainer.openapi import openapi_document
from tests.conftest import ServiceFactory
from tests.support import http
from tests.support.browser import send_basic_auth
from tests.support.clanker import ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.recorder import RecordingServer, Reply
from tests.support.service import ServiceProcess

TOKEN = "T0KEN-of-a-revoked-hook-5501"
BASIC = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret-page").decode()}
UI_AUTH = {"basic_auth": [{"username": "ops", "password": "s3cret-page"}]}


def with_a_dead_letter(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> tuple[ServiceProcess, RecordingServer, RecordingServer]:
    """An async service whose `revoked` destination refused the sample for good."""
    team, revoked = make_recorder(), make_recorder()
    url = revoked.url_for(f"/hooks/{TOKEN}")
    revoked.default = Reply(status=404, body=f"no such hook {url}".encode())
    delivery = {"mode": "async", "queue_path": str(tmp_path / "queue.sqlite3")}
    config = explainer_config(
        clanker.url, {"team": team.url, "revoked": url}, delivery=delivery, ui={"auth": UI_AUTH}
    )
    service = service_factory(config)
    assert service.post_payload(sample_payload).status == 202
    team.wait_for(1)
    wait_until(lambda: len(letters(service)) == 1)
    return service, team, revoked


def letters(service: ServiceProcess) -> list[dict[str, Any]]:
    answer = http.request("GET", f"{service.base_url}/api/v1/dead-letters", headers=BASIC)
    assert answer.status == 200, answer.body[:300]
    found: list[dict[str, Any]] = answer.json()["dead_letters"]
    return found


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def replay(service: ServiceProcess, form: bytes, **headers: str) -> http.HttpResult:
    return http.request(
        "POST",
        f"{service.base_url}/ui/dead-letters/replay",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def test_the_api_lists_a_dead_letter_as_documented_without_the_token(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    service, _, _ = with_a_dead_letter(
        service_factory, clanker, make_recorder, sample_payload, tmp_path
    )

    (letter,) = letters(service)

    document = openapi_document()
    schema = {
        **document["components"]["schemas"]["DeadLetter"],
        "components": document["components"],
    }
    jsonschema.validate(letter, schema)
    assert (letter["route"], letter["sinks"], letter["reason"]) == (
        "default",
        ["revoked"],
        "final_error",
    )
    assert letter["errors"]["revoked"] == "sink 'revoked': answered 404: no such hook [secret]"
    page = http.request("GET", f"{service.base_url}/ui/dead-letters", headers=BASIC)
    assert page.status == 200
    for text in (page.body.decode(), str(letter)):
        assert TOKEN not in text
    assert "answered 404: no such hook [secret]" in page.body.decode()
    assert http.request("GET", f"{service.base_url}/api/v1/dead-letters").status == 401
    assert http.request("GET", f"{service.base_url}/ui/dead-letters").status == 401


def test_replay_from_the_page_delivers_once_and_only_to_the_destination_that_lacked_it(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    service, team, revoked = with_a_dead_letter(
        service_factory, clanker, make_recorder, sample_payload, tmp_path
    )
    (letter,) = letters(service)
    form = f"id={letter['id']}".encode()

    assert replay(service, form).status == 401  # behind the page's auth
    assert replay(service, form, Origin="http://evil.example", **BASIC).status == 403
    assert len(letters(service)) == 1
    revoked.default = Reply()  # the destination is fixed
    answer = replay(service, form, **BASIC)  # the redirect back to the list is followed

    assert answer.status == 200
    assert "1 dead letter queued again for their destinations." in answer.body.decode()
    revoked.wait_for(1)
    wait_until(lambda: letters(service) == [])
    time.sleep(0.5)  # room for a wrong second delivery
    assert (len(revoked.delivered), len(team.delivered)) == (1, 1)
    again = replay(service, form, **BASIC)
    assert "0 dead letters queued again" in again.body.decode()
    assert "1 no longer existed" in again.body.decode()


def test_in_sync_mode_the_page_says_there_is_no_queue(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    page = http.request("GET", f"{service.base_url}/ui/dead-letters")
    assert page.status == 200
    assert "Delivery is synchronous here" in page.body.decode()
    assert replay(service, b"all=1").status == 409
    assert letters(service) == []


def test_a_person_replays_a_dead_letter_in_the_browser(
    browser: WebDriver,
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Callable[[], RecordingServer],
    sample_payload: dict[str, Any],
    tmp_path: Path,
) -> None:
    service, team, revoked = with_a_dead_letter(
        service_factory, clanker, make_recorder, sample_payload, tmp_path
    )
    send_basic_auth(browser, "ops", "s3cret-page")
    browser.get(f"{service.base_url}/ui")
    browser.find_element(By.LINK_TEXT, "Dead letters").click()

    (row,) = browser.find_elements(By.CSS_SELECTOR, "#letters tr")
    assert "KubePodCrashLooping" in row.text
    assert "answered 404: no such hook [secret]" in row.text
    assert TOKEN not in browser.page_source
    revoked.default = Reply()
    row.find_element(By.CSS_SELECTOR, "button.replay").click()

    notice = WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "notice"))
    assert notice.text == "1 dead letter queued again for their destinations."
    assert browser.current_url.endswith("/ui/dead-letters?replayed=1&unknown=0")
    revoked.wait_for(1)
    assert "No dead letters" in browser.find_element(By.ID, "letters").text
    assert (len(revoked.delivered), len(team.delivered)) == (1, 1)
