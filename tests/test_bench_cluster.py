"""The cluster benchmark counts what happened and says which targets it missed; its nginx
configuration is one nginx accepts, built around the deployment's own locations."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.cluster import LOCATIONS, cluster_result, missed_targets, nginx_binary, nginx_conf


def result(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "processes": 3,
        "offered": 1000,
        "recorded": 1000,
        "double_counted": 0,
        "latencies": [0.01] * 99 + [0.3],
        "recipients": 5,
        "delivered": 5,
        "copies": [1, 1, 1, 1, 1],
        "http_429": 0,
        "sending_s": 4 / 29.0,
        "callback_answers": 1000,
        "redelivered": 2,
        "dropped": 0,
        "handled_twice": 0,
    }
    figures.update(changes)
    return cluster_result(**figures)


def test_a_clean_run_holds_every_target() -> None:
    clean = result()
    assert clean["answers"]["p99_ms"] == 10.0 and clean["answers"]["offered"] == 1000
    assert clean["broadcast"]["ratio_to_limit"] == pytest.approx(29 / 30, abs=0.001)
    assert clean["broadcast"]["skipped"] == clean["broadcast"]["duplicates"] == 0
    assert missed_targets(clean) == []


def test_chats_without_the_article_are_skipped_and_extra_copies_are_duplicates() -> None:
    counted = result(copies=[0, 1, 3, 2, 0], delivered=5)["broadcast"]
    assert counted["skipped"] == 2 and counted["duplicates"] == 3


def test_each_missed_target_is_named() -> None:
    assert missed_targets(result(recorded=999)) == ["recorded == offered"]
    assert missed_targets(result(double_counted=1)) == ["double_counted == 0"]
    assert missed_targets(result(latencies=[0.6] * 10)) == ["p99 < 500 ms"]
    assert missed_targets(result(copies=[0, 1, 1, 1, 1])) == ["skipped == 0"]
    assert missed_targets(result(copies=[18, 1, 1, 1, 1])) == ["duplicates <= concurrency"]
    assert missed_targets(result(http_429=1)) == ["http_429 == 0"]
    assert missed_targets(result(sending_s=1.0)) == ["ratio_to_limit >= 0.95"]
    assert missed_targets(result(handled_twice=1)) == ["handled_twice == 0"]


def test_a_press_answered_again_after_a_kill_is_reported_but_is_not_handled_twice() -> None:
    counted = result(callback_answers=1002)
    assert counted["answered_again"] == 2 and counted["handled_twice"] == 0


def test_nginx_accepts_the_benchmarks_configuration(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, 18080, [18081, 18082, 18083]), encoding="utf-8")
    text = conf.read_text(encoding="utf-8")
    assert f"include {LOCATIONS};" in text
    assert text.count("server 127.0.0.1:1808") == 3
    checked = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
