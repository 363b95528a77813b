"""The operator's page and its JSON API on a running service, over real HTTP.

The service runs as a real process; the Clanker emulator is the inference API and
recording servers stand in for destinations. What a browser does with the page is in
test_browser.py.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlencode

import redis

from tests.conftest import ServiceFactory
from tests.support import http
from tests.support.clanker import Behaviour, ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.payloads import distinct
from tests.support.ports import free_port
from tests.support.recorder import RecordingServer, Reply
from tests.support.redis import RedisProcess
from tests.support.service import ServiceProcess
from tests.support.ui import api, detail, finished, wait_for_rows

PLANTED = "hunter2-planted-0451"
BASIC = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret-page").decode()}
UI_AUTH = {"basic_auth": [{"username": "ops", "password": "s3cret-page"}]}


def with_planted_secret(payload: dict[str, Any]) -> dict[str, Any]:
    payload["alerts"][0]["annotations"]["description"] = f"db login password={PLANTED} failed"
    return payload


def test_a_delivered_notification_is_listed_with_its_explanation_and_destinations(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    assert service.post_payload(sample_payload).status == 200

    (row,) = wait_for_rows(service, finished(1))

    assert row["route"] == "default"
    assert row["receiver"] == "explain"
    assert row["status"] == "firing"
    assert row["alertnames"] == ["KubePodCrashLooping"]
    assert row["alert_counts"] == {"firing": 2, "resolved": 0, "not_sent": 0}
    assert (row["outcome"], row["explained"], row["reused"]) == ("delivered", True, False)
    assert row["model"] == "gemini-3.5-flash"
    assert row["backend"] == "clanker"  # the first backend, by its default name
    assert row["destinations"] == {"team": "delivered"}
    assert row["total_seconds"] >= row["inference_seconds"] > 0


def test_the_backend_that_answered_is_shown_after_a_failover(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    free = ClankerEmulator().start()  # a second API, where the key is a paid one
    try:
        clanker.default = Behaviour.status(402)
        inference = {"fallbacks": [{"name": "spare", "url": free.url, "api_key": "test-paid-key"}]}
        config = explainer_config(clanker.url, {"team": recorder.url}, inference=inference)
        service = service_factory(config)
        service.post_payload(sample_payload)

        (row,) = wait_for_rows(service, finished(1))
    finally:
        free.stop()

    assert (row["explained"], row["backend"]) == (True, "spare")
    assert "spare" in api(service, "/ui").body.decode()


def test_the_list_filters_by_route_status_and_outcome(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Any,
    sample_payload: dict[str, Any],
    resolved_payload: dict[str, Any],
) -> None:
    good, broken = make_recorder(), make_recorder()
    broken.default = Reply(status=400, body=b"no such channel")
    routes = [
        {"name": "pages", "sinks": ["broken"], "receiver": "^pager$"},
        {"name": "default", "sinks": ["good"]},
    ]
    config = explainer_config(clanker.url, {"good": good.url, "broken": broken.url}, routes=routes)
    service = service_factory(config)
    service.post_payload(sample_payload)
    service.post_payload(resolved_payload)
    service.post_payload({**distinct(sample_payload, 1), "receiver": "pager"})
    wait_for_rows(service, finished(3))

    def routes_of(query: str) -> list[tuple[str, str, str]]:
        rows = api(service, f"/api/v1/notifications?{query}").json()["notifications"]
        return [(r["route"], r["status"], r["outcome"]) for r in rows]

    assert routes_of("route=pages") == [("pages", "firing", "failed")]
    assert routes_of("status=resolved") == [("default", "resolved", "delivered")]
    assert routes_of("outcome=delivered&status=firing") == [("default", "firing", "delivered")]
    assert routes_of("limit=2") == [
        ("pages", "firing", "failed"),
        ("default", "resolved", "delivered"),
    ]
    assert api(service, "/api/v1/notifications").json()["kept"] == 3


def test_a_filter_the_api_cannot_use_is_a_400_naming_it(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    for query, word in [
        ("status=pending", "status"),
        ("outcome=lost", "outcome"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("limit=501", "limit"),
    ]:
        result = api(service, f"/api/v1/notifications?{query}")
        assert result.status == 400, query
        assert word in result.json()["error"]
    assert api(service, "/ui?status=pending").status == 400
    assert api(service, "/api/v1/notifications/does-not-exist").status == 404
    assert api(service, "/ui/notifications/does-not-exist").status == 404


def test_the_detail_shows_the_redacted_prompt_and_the_answer_as_received_and_delivered(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(content="Headline: the db login fails\nPing @channel now")
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    service.post_payload(with_planted_secret(sample_payload))
    (row,) = wait_for_rows(service, finished(1))

    shown = detail(service, row)

    assert shown["prompt"]["sent"] is True
    (call,) = clanker.calls
    assert shown["prompt"]["messages"] == call.json()["messages"]  # exactly what left
    assert shown["prompt"]["redactions"] == {"secret_pair": 1}
    user = shown["prompt"]["messages"][1]["content"]
    assert "[REDACTED:secret_pair]" in user
    assert shown["answer"]["received"] == "Headline: the db login fails\nPing @channel now"
    assert shown["answer"]["delivered"] == "Headline: the db login fails\nPing ＠channel now"
    page = api(service, f"/ui/notifications/{row['id']}").body.decode()
    assert "[REDACTED:secret_pair]" in page
    for text in (str(shown), page):
        assert PLANTED not in text  # not in the prompt, the alerts or any destination body


def test_the_evidence_shown_to_the_model_is_on_the_notifications_page(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # a Prometheus that does not answer
    config = explainer_config(
        clanker.url, {"team": recorder.url}, evidence={"prometheus": {"url": nobody}}
    )
    service = service_factory(config)
    service.post_payload(sample_payload)
    (row,) = wait_for_rows(service, finished(1))

    evidence = detail(service, row)["evidence"]

    assert evidence
    lines = [line for item in evidence for line in item["lines"]]
    assert any(line.startswith("evidence unavailable: ") for line in lines)
    assert lines[0] in clanker.calls[0].user_content  # exactly what the model was shown
    page = api(service, f"/ui/notifications/{row['id']}").body.decode()
    assert '<section id="evidence">' in page


def test_no_destination_url_token_or_routing_key_is_ever_shown(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    url_token = "T0KEN-in-the-url-8842193"
    routing_key = "R0UTING-key-553918271"
    config = explainer_config(clanker.url, {"team": recorder.url_for(f"/hooks/{url_token}")})
    config["sinks"].append(
        {
            "name": "pager",
            "type": "pagerduty",
            "routing_key": routing_key,
            "api_url": recorder.url,
            "timeout": 2,
        }
    )
    config["routes"] = [{"name": "default", "sinks": ["team", "pager"]}]
    service = service_factory(config)
    service.post_payload(sample_payload)
    (row,) = wait_for_rows(service, finished(1))

    shown = detail(service, row)
    page = api(service, f"/ui/notifications/{row['id']}").body.decode()

    assert len(recorder.delivered) == 2
    bodies = {m["name"]: m["body"] for m in shown["destination_messages"]}
    assert '"routing_key": "[secret]"' in bodies["pager"]
    assert '"event_action": "trigger"' in bodies["pager"]
    for text in (str(shown), page):
        for secret in (url_token, routing_key, recorder.url, "test-paid-key"):
            assert secret not in text


def test_the_history_in_redis_holds_no_key_token_or_destination_url(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    url_token = "T0KEN-in-the-url-3301772"
    routing_key = "R0UTING-key-99120345"
    config = explainer_config(
        clanker.url,
        {"team": recorder.url_for(f"/hooks/{url_token}")},
        state={"backend": "redis", "url": redis_server.url},
        auth={"bearer_tokens": ["hook-token-55120"]},
    )
    config["sinks"].append(
        {
            "name": "pager",
            "type": "pagerduty",
            "routing_key": routing_key,
            "api_url": recorder.url,
            "timeout": 2,
        }
    )
    config["routes"] = [{"name": "default", "sinks": ["team", "pager"]}]
    service = service_factory(config)
    token = {"Authorization": "Bearer hook-token-55120"}
    assert service.post_payload(sample_payload, headers=token).status == 200
    wait_for_rows(service, finished(1), headers=token)

    stored = dump_redis(redis_server.url)

    assert "ui:details" in stored  # the history is there...
    for secret in (url_token, routing_key, "test-paid-key", "hook-token-55120", recorder.url):
        assert secret not in stored  # ...without a credential or a destination's address


def dump_redis(url: str) -> str:
    """Every key and value in the Redis at `url`, as one text."""
    client = redis.Redis.from_url(url, decode_responses=True)
    parts = []
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == "string":
            value: Any = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "stream":
            value = client.xrange(key)
        else:
            value = kind
        parts.append(f"{key} {value}")
    client.close()
    return "\n".join(parts)


def test_a_failed_destination_shows_why_and_the_notification_as_failed(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Any,
    sample_payload: dict[str, Any],
) -> None:
    good, broken = make_recorder(), make_recorder()
    broken.default = Reply(status=404, body=b"no_such_hook")
    service = service_factory(
        explainer_config(clanker.url, {"good": good.url, "broken": broken.url})
    )
    assert service.post_payload(sample_payload).status == 503

    (row,) = wait_for_rows(service, finished(1))

    assert row["outcome"] == "failed"
    assert row["destinations"]["good"] == "delivered"
    assert "404" in row["destinations"]["broken"]
    assert "no_such_hook" in row["destinations"]["broken"]


def test_alertmanagers_retries_of_a_failed_notification_stay_in_its_row(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    make_recorder: Any,
    sample_payload: dict[str, Any],
) -> None:
    good, flaky = make_recorder(), make_recorder()
    flaky.default = Reply(status=502, body=b"bad gateway")
    service = service_factory(explainer_config(clanker.url, {"good": good.url, "flaky": flaky.url}))
    assert service.post_payload(sample_payload).status == 503
    assert service.post_payload(sample_payload).status == 503  # Alertmanager retries
    flaky.default = Reply()
    assert service.post_payload(sample_payload).status == 200  # and gets through

    (row,) = wait_for_rows(service, finished(1))

    assert row["outcome"] == "delivered"
    assert row["destinations"] == {"good": "delivered", "flaky": "delivered"}
    assert row["retries"] == 2
    assert [c["kind"] for c in detail(service, row)["retry_calls"]] == ["attempt", "attempt"]
    assert len(good.delivered) == 1
    assert clanker.call_count == 1


def test_retries_that_join_a_slow_notification_are_listed(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    clanker.default = Behaviour.ok(delay=2.0)
    config = explainer_config(clanker.url, {"team": recorder.url}, server={"respond_within": 0.3})
    service = service_factory(config)

    assert service.post_payload(sample_payload).status == 503  # still explaining
    assert service.post_payload(sample_payload).status == 503  # Alertmanager's retry joins
    in_progress = wait_for_rows(service, lambda rows: bool(rows) and rows[0]["retries"] == 1)
    assert in_progress[0]["outcome"] == "in_progress"
    (row,) = wait_for_rows(service, finished(1))

    assert row["outcome"] == "delivered"
    assert [c["kind"] for c in detail(service, row)["retry_calls"]] == ["joined"]
    assert clanker.call_count == 1


def test_an_explanation_reused_for_a_changed_group_says_what_changed(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    service.post_payload(sample_payload)
    churned = json.loads(json.dumps(sample_payload))
    churned["alerts"][1]["labels"]["pod"] = "api-9c2b"  # a replacement pod, same situation
    churned["alerts"][1]["fingerprint"] = "0123456789abcdef"
    service.post_payload(churned)

    reused, first = wait_for_rows(service, finished(2))

    assert clanker.call_count == 1
    assert (first["reused"], reused["reused"]) == (False, True)
    assert reused["explained_at"] == first["explained_at"]
    assert "still applies" in (reused["reuse_note"] or "")
    page = api(service, f"/ui/notifications/{reused['id']}").body.decode()
    assert "still applies" in page
    assert detail(service, reused)["prompt"] is None  # nothing was sent for it


def test_a_notification_every_destination_had_is_listed_as_duplicate(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    service.post_payload(sample_payload)
    service.post_payload(sample_payload)  # Alertmanager's HA peer sends the same

    rows = wait_for_rows(service, finished(2))

    assert [r["outcome"] for r in rows] == ["duplicate", "delivered"]
    assert rows[0]["destinations"] == {"team": "duplicate"}
    assert detail(service, rows[0])["prompt"] is None
    assert len(recorder.delivered) == 1


def test_every_page_answer_carries_a_strict_content_security_policy(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    service.post_payload(sample_payload)
    (row,) = wait_for_rows(service, finished(1))
    paths = [
        "/ui",
        f"/ui/notifications/{row['id']}",
        "/ui/preview?sample=1",
        "/ui/static/ui.css",
        "/ui/static/ui.js",
        "/api/v1/notifications",
        "/ui/nothing",
    ]

    for path in paths[:-1]:
        result = api(service, path)
        assert result.status == 200, path
        policy = result.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert result.headers["x-content-type-options"] == "nosniff"
    assert api(service, "/ui/static/ui.css").headers["content-type"].startswith("text/css")
    assert api(service, "/ui").headers["cache-control"] == "no-store"
    page = api(service, "/ui/preview?sample=1").body.decode()
    for inline in ("<script>", " style=", " onclick="):
        assert inline not in page


def test_with_ui_auth_the_page_and_api_answer_401_with_a_challenge_without_credentials(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    config = explainer_config(
        clanker.url,
        {"team": recorder.url},
        auth={"bearer_tokens": ["hook-token-1"]},
        ui={"auth": UI_AUTH},
    )
    service = service_factory(config)

    for path in [
        "/ui",
        "/ui/preview",
        "/ui/static/ui.css",
        "/api/v1/notifications",
        "/api/v1/notifications/x",
    ]:
        refused = api(service, path)
        assert refused.status == 401, path
        assert refused.headers["www-authenticate"].startswith("Basic realm=")
        assert refused.json() == {"error": "authentication required"}
        assert api(service, path, {"Authorization": "Bearer hook-token-1"}).status == 401
        assert api(service, path, {"Authorization": "Basic b3BzOndyb25n"}).status == 401
    assert api(service, "/ui", BASIC).status == 200
    assert api(service, "/api/v1/notifications", BASIC).status == 200
    assert "ui_unauthenticated" not in service.output()


def test_without_ui_auth_the_webhooks_credentials_protect_the_page(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    config = explainer_config(
        clanker.url, {"team": recorder.url}, auth={"bearer_tokens": ["hook-token-1"]}
    )
    service = service_factory(config)

    assert api(service, "/ui").status == 401
    assert api(service, "/ui", {"Authorization": "Bearer hook-token-1"}).status == 200


def test_an_open_page_is_warned_about_at_start_up(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    assert '"event":"ui_unauthenticated"' in service.output()
    assert '"event":"webhook_unauthenticated"' in service.output()


def test_a_disabled_page_is_not_served(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    config = explainer_config(clanker.url, {"team": recorder.url}, ui={"enabled": False})
    service = service_factory(config)

    assert service.post_payload(sample_payload).status == 200
    assert api(service, "/ui").status == 404
    assert api(service, "/api/v1/notifications").status == 404
    assert "/ui" not in service.get("/openapi.json").json()["paths"]
    assert "ui_unauthenticated" not in service.output()


def test_the_page_is_served_under_root_path_and_without_it(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    config = explainer_config(
        clanker.url, {"team": recorder.url}, server={"root_path": "/alert-explainer"}
    )
    service = service_factory(config)

    for prefix in ("/alert-explainer", ""):  # an Ingress, and kubectl port-forward
        page = api(service, f"{prefix}/ui")
        assert page.status == 200
        assert 'href="ui/static/ui.css"' in page.body.decode()  # relative: works for both
        assert api(service, f"{prefix}/ui/static/ui.css").status == 200
        assert api(service, f"{prefix}/api/v1/notifications").status == 200
        assert api(service, f"{prefix}/healthz").status == 200
    detail_page = api(service, "/alert-explainer/ui/preview").body.decode()
    assert 'href="../ui/static/ui.css"' in detail_page


def test_the_preview_renders_the_prompt_and_each_destination_and_sends_nothing(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    form = {"payload": json.dumps(with_planted_secret(sample_payload)), "route": ""}

    result = post_form(service, "/ui/preview", form)

    assert result.status == 200
    page = result.body.decode()
    assert "Route <code>default</code>" in page
    assert "[REDACTED:secret_pair]" in page
    assert "&#34;model&#34;: &#34;gemini-3.5-flash&#34;" in page  # the inference request body
    assert "Preview: the model&#39;s explanation appears here" in page  # the team's message
    assert PLANTED not in page.partition('<div id="result">')[2]  # only in the pasted text
    time.sleep(0.5)
    assert clanker.requests == []
    assert recorder.received == []
    assert api(service, "/api/v1/notifications").json()["notifications"] == []


def test_a_preview_of_something_that_is_not_a_payload_says_what_is_wrong(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))

    for payload, expected in [
        ("{not json", "not a usable Alertmanager payload"),
        ('{"alerts": []}', "not a usable Alertmanager payload"),
        ("\ud800", "not a usable Alertmanager payload"),
    ]:
        result = post_form(service, "/ui/preview", {"payload": payload})
        assert result.status == 200
        assert expected in result.body.decode()
    unknown = post_form(service, "/ui/preview", {"payload": "{}", "route": "nope"})
    assert "not a usable" in unknown.body.decode() or "unknown route" in unknown.body.decode()


def test_a_preview_posted_from_another_site_is_refused(
    service_factory: ServiceFactory, clanker: ClankerEmulator, recorder: RecordingServer
) -> None:
    service = service_factory(explainer_config(clanker.url, {"team": recorder.url}))
    form = {"payload": "{}"}

    cross = post_form(service, "/ui/preview", form, {"Sec-Fetch-Site": "cross-site"})
    foreign = post_form(service, "/ui/preview", form, {"Origin": "https://evil.example"})
    own = post_form(service, "/ui/preview", form, {"Origin": service.base_url})

    assert (cross.status, foreign.status, own.status) == (403, 403, 200)


def test_in_async_mode_a_queued_notification_becomes_delivered_in_the_same_row(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    sample_payload: dict[str, Any],
    tmp_path: Any,
) -> None:
    # Long enough for a loaded machine's first poll to find the row still queued.
    clanker.default = Behaviour.ok(delay=3.0)
    delivery = {"mode": "async", "queue_path": str(tmp_path / "queue.sqlite3")}
    service = service_factory(
        explainer_config(clanker.url, {"team": recorder.url}, delivery=delivery)
    )

    assert service.post_payload(sample_payload).status == 202
    queued = wait_for_rows(service, lambda rows: len(rows) == 1)
    (row,) = wait_for_rows(service, finished(1))

    assert queued[0]["outcome"] in ("queued", "in_progress")
    assert row["id"] == queued[0]["id"]
    assert row["outcome"] == "delivered"
    assert row["explained"] is True


def test_two_replicas_on_one_redis_show_the_same_history(
    service_factory: ServiceFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
    redis_server: RedisProcess,
    sample_payload: dict[str, Any],
) -> None:
    config = explainer_config(
        clanker.url, {"team": recorder.url}, state={"backend": "redis", "url": redis_server.url}
    )
    first, second = service_factory(config), service_factory(config)
    first.post_payload(distinct(sample_payload, 1))
    second.post_payload(distinct(sample_payload, 2))

    rows_first = wait_for_rows(first, finished(2))
    rows_second = wait_for_rows(second, finished(2))

    assert rows_first == rows_second
    assert detail(first, rows_second[0]) == detail(second, rows_second[0])
    assert "shared by every replica" in api(second, "/ui").body.decode()


def post_form(
    service: ServiceProcess, path: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> http.HttpResult:
    return http.request(
        "POST",
        f"{service.base_url}{path}",
        body=urlencode(form, encoding="utf-8", errors="surrogatepass").encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )
