"""The supervisor behind `relaydesk run`: readiness, output, and stopping everything."""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

from bot.processes.supervisor import ProcessFailed, ProcessSpec, Supervisor
from tests.conftest import free_port


def http_server(port: int, directory: Path) -> ProcessSpec:
    return ProcessSpec(
        name=f"web{port}",
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
              "--directory", str(directory)],
        health_url=f"http://127.0.0.1:{port}/",
        ready_timeout=20,
    )  # fmt: skip


def test_waits_for_health_then_stops_every_process(tmp_path: Path) -> None:
    output = io.StringIO()
    specs = [http_server(free_port(), tmp_path), http_server(free_port(), tmp_path)]
    supervisor = Supervisor(specs, output=output, log_dir=str(tmp_path / "logs"))
    supervisor.start()
    try:
        ready: list[str] = []
        supervisor.wait_until_ready(progress=ready.append)
        assert len(ready) == 2
        pids = [proc.pid for proc in supervisor._procs.values()]
    finally:
        supervisor.stop(grace=5)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_process_that_dies_during_start_is_reported(tmp_path: Path) -> None:
    spec = ProcessSpec(
        name="broken",
        argv=[sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
        health_url=f"http://127.0.0.1:{free_port()}/",
    )
    output = io.StringIO()
    with (
        Supervisor([spec], output=output) as supervisor,
        pytest.raises(ProcessFailed, match="broken exited with code 3"),
    ):
        supervisor.wait_until_ready()
    assert "broken | boom" in output.getvalue()


def test_wait_returns_non_zero_when_a_process_never_becomes_ready(tmp_path: Path) -> None:
    spec = ProcessSpec(
        name="short",
        argv=[sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(4)"],
        health_url=f"http://127.0.0.1:{free_port()}/",
    )
    output = io.StringIO()
    with Supervisor([spec], output=output) as supervisor:
        started = time.monotonic()
        assert supervisor.wait() == 1
        assert time.monotonic() - started < 10
    assert "relaydesk | short exited with code 4 before it was ready" in output.getvalue()
    assert supervisor.status()["processes"][0]["last_exit_code"] == 4


def test_status_names_every_process_and_hides_query_strings(tmp_path: Path) -> None:
    web = http_server(free_port(), tmp_path)
    web = ProcessSpec(**{**web.__dict__, "health_url": web.health_url + "?token=t0k3n"})
    status_file = tmp_path / "var" / "status.json"
    supervisor = Supervisor([web], output=io.StringIO(), status_file=status_file)
    supervisor.start()
    try:
        supervisor.wait_until_ready()
        status = json.loads(status_file.read_text())
        assert status["supervisor"]["pid"] == os.getpid()
        assert status["supervisor"]["state"] == "running"
        (entry,) = status["processes"]
        assert entry["name"] == web.name
        assert entry["state"] == "running"
        assert entry["pid"] == supervisor.pid(web.name)
        assert entry["restarts"] == 0
        assert entry["last_exit_code"] is None
        assert "t0k3n" not in status_file.read_text()
    finally:
        supervisor.stop(grace=5)
    stopped = json.loads(status_file.read_text())
    assert stopped["supervisor"]["state"] == "stopped"
    assert stopped["processes"][0]["state"] == "stopped"
    assert stopped["processes"][0]["pid"] is None


def test_an_idle_supervisor_does_not_poll(tmp_path: Path) -> None:
    """Once everything is ready the monitor sleeps until something exits (no wake-ups)."""
    supervisor = Supervisor([http_server(free_port(), tmp_path)], output=io.StringIO())
    calls: list[str] = []
    real = supervisor._health_check
    supervisor._health_check = lambda url: calls.append(url) or real(url)  # type: ignore[method-assign]
    supervisor.start()
    try:
        supervisor.wait_until_ready()
        before = len(calls)
        time.sleep(1.5)
        assert len(calls) == before  # no health checks of running processes
    finally:
        supervisor.stop(grace=5)


def test_warning_noise_filter_hides_warnings_and_their_source_lines() -> None:
    from bot.processes.supervisor import WarningNoiseFilter

    lines = [
        "/x/rasa/cli/test.py:129: DeprecationWarning: Nesting argument groups is deprecated.",
        "  cross_validation_arguments = parser.add_argument_group('Cross Validation')",
        "2026-11-22 INFO rasa.core.processor - Loading model",
        "  indented but not after a warning",
        "/x/y.py:3: UserWarning: something",
        "Your Rasa model is trained",
    ]
    noise = WarningNoiseFilter()
    assert [line for line in lines if noise.keep(line)] == [
        "2026-11-22 INFO rasa.core.processor - Loading model",
        "  indented but not after a warning",
        "Your Rasa model is trained",
    ]
