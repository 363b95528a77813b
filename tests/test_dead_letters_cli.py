"""`alert-explainer dead-letters`: list, show, replay and drop, with clear errors and no secrets."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from alert_explainer.cli import main
from alert_explainer.config import load_settings
from alert_explainer.deadletters import MAX_AGE, DeadLetter
from alert_explainer.queue import open_queue
from tests.support.ports import free_port

SAMPLE = Path(__file__).parent / "fixtures" / "alertmanager-firing.json"


def config(tmp_path: Path, mode: str = "async") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"delivery: {{mode: {mode}, queue_path: {tmp_path / 'queue.sqlite3'}}}\n"
        "sinks: [{type: log, name: chat}, {type: log, name: pager}]\n"
        "routes: [{name: default, sinks: [chat, pager]}]\n"
    )
    return path


def bury(path: Path, body: bytes, errors: dict[str, str]) -> None:
    """What the worker does when it gives up on `errors`' sinks."""

    async def work() -> None:
        queue, letters = open_queue(load_settings(path), "test")
        await queue.put("default", body)
        (entry,) = await queue.claim(1, 30)
        letter = DeadLetter.create(
            route="default",
            body=entry.body,
            errors=errors,
            reason=MAX_AGE,
            attempts=entry.attempts,
            queued_at=entry.queued_at,
            first_try=entry.first_try,
            last_try=time.time(),
        )
        await queue.bury(entry, letter)
        await letters.aclose()
        await queue.aclose()

    asyncio.run(work())


def test_list_without_a_queue_says_there_are_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dead-letters", "list", "--config", str(config(tmp_path))]) == 0
    assert capsys.readouterr().out == "no dead letters\n"
    assert not (tmp_path / "queue.sqlite3").exists()


def test_list_shows_each_letter_with_its_sinks_errors_and_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)
    bury(path, SAMPLE.read_bytes(), {"chat": "sink 'chat': answered 503: busy"})

    assert main(["dead-letters", "list", "--config", str(path)]) == 0

    header, row, error, total = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "ID", "LAST", "TRY", "ROUTE", "REASON", "ATTEMPTS", "SINKS", "NOTIFICATION"
    ]  # fmt: skip
    assert row.split()[2:6] == ["default", "max_age", "1", "chat"]
    assert row.endswith("firing, 2 alert(s): alertname=KubePodCrashLooping, namespace=payments")
    assert error == "    chat: sink 'chat': answered 503: busy"
    assert total == "1 dead letter(s)"


def test_show_prints_the_letter_and_its_notification_with_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)
    payload = json.loads(SAMPLE.read_text())
    payload["groupLabels"]["alertname"] = "Evil\x1b[2J\x07"
    bury(path, json.dumps(payload).encode(), {"pager": "refused"})

    assert main(["dead-letters", "show", "1", "--config", str(path)]) == 0

    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "alertname=Evil\\x1b[2J\\x07" in out
    assert "  sinks:      pager (replay sends to these only)" in out
    assert '"fingerprint":' in out
    assert main(["dead-letters", "show", "1", "--json", "--config", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["body"] == payload
    assert shown["errors"] == {"pager": "refused"}


def test_show_names_an_unknown_letter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    bury(path, SAMPLE.read_bytes(), {"chat": "refused"})
    assert main(["dead-letters", "show", "7", "--config", str(path)]) == 1
    assert capsys.readouterr().err == "alert-explainer: no dead letter '7'\n"


def test_replay_and_drop_say_what_they_did_and_what_did_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)
    for _ in range(2):
        bury(path, SAMPLE.read_bytes(), {"chat": "refused"})

    assert main(["dead-letters", "replay", "1", "9", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "1 dead letter(s) replayed (queued again for their sinks): 1\n"
    assert err == "alert-explainer: no dead letter 9\n"
    assert main(["dead-letters", "drop", "2", "--config", str(path)]) == 0
    assert capsys.readouterr().out == "1 dead letter(s) dropped: 2\n"
    assert main(["dead-letters", "list", "--config", str(path)]) == 0
    assert capsys.readouterr().out == "no dead letters\n"


def test_replay_needs_ids_or_all_but_not_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(config(tmp_path))
    assert main(["dead-letters", "replay", "--config", path]) == 2
    assert main(["dead-letters", "replay", "1", "--all", "--config", path]) == 2
    assert "give dead letter ids or --all" in capsys.readouterr().err


def test_replay_is_refused_in_sync_mode_where_no_worker_would_deliver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(config(tmp_path, mode="sync"))
    assert main(["dead-letters", "replay", "--all", "--config", path]) == 1
    assert "delivery.mode is sync" in capsys.readouterr().err


def test_an_unreachable_redis_is_named_without_its_url_or_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    url = f"redis://:hunter2-redis-password@127.0.0.1:{free_port()}/0"
    path.write_text(f"delivery: {{mode: async}}\nstate: {{backend: redis, url: '{url}'}}\n")

    assert main(["dead-letters", "list", "--config", str(path)]) == 1

    out, err = capsys.readouterr()
    assert err.startswith("alert-explainer: cannot reach the dead letters in Redis (state.url)")
    assert "hunter2" not in out + err
    assert "redis://" not in out + err
