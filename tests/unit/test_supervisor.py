"""The supervisor behind `relaydesk run`: readiness, output, and stopping everything."""

from __future__ import annotations

import io
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


def test_wait_returns_the_exit_code_of_a_crashed_process(tmp_path: Path) -> None:
    spec = ProcessSpec(
        name="short",
        argv=[sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(4)"],
        health_url="http://unused",
    )
    with Supervisor([spec], output=io.StringIO()) as supervisor:
        started = time.monotonic()
        assert supervisor.wait() == 4
        assert time.monotonic() - started < 10


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
