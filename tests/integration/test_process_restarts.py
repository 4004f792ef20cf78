"""The supervisor restarts crashed processes, with backoff, and gives up on a crash loop.

Real child processes (tests/integration/flaky_service.py, a few lines of http.server), a
fast restart policy; each test takes a few seconds. The same through the real stack (Rasa,
actions, bridge): tests/integration/test_restart.py.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.processes.restart_policy import RestartPolicy
from bot.processes.supervisor import ProcessFailed, ProcessSpec, Supervisor
from tests.conftest import REPO_ROOT, free_port

SERVICE = Path(__file__).with_name("flaky_service.py")
FAST = RestartPolicy(base_delay=0.2, factor=2, max_delay=2, burst=4, interval=30)


def service(name: str, state: Path, *options: str, ready_timeout: float = 15) -> ProcessSpec:
    port = free_port()
    return ProcessSpec(
        name=name,
        argv=[sys.executable, str(SERVICE), str(port), str(state / name), *options],
        health_url=f"http://127.0.0.1:{port}/health?token=s3cret",
        ready_timeout=ready_timeout,
    )


def starts(state: Path, name: str) -> list[tuple[int, float]]:
    path = state / name / "starts"
    if not path.exists():
        return []
    return [
        (int(p), float(t))
        for p, t in (line.split() for line in path.read_text().split("\n") if line)
    ]


def eventually(condition: Callable[[], object], timeout: float = 15, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def process(supervisor: Supervisor, name: str) -> dict[str, object]:
    return next(p for p in supervisor.status()["processes"] if p["name"] == name)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., tuple[Supervisor, io.StringIO]]]:
    started: list[Supervisor] = []

    def start(*specs: ProcessSpec, policy: RestartPolicy = FAST) -> tuple[Supervisor, io.StringIO]:
        output = io.StringIO()
        supervisor = Supervisor(
            specs, output=output, log_dir=str(tmp_path / "logs"), restart_policy=policy,
            status_file=tmp_path / "status.json", health_interval=0.1,
        )  # fmt: skip
        started.append(supervisor)
        supervisor.start()
        supervisor.wait_until_ready()
        return supervisor, output

    yield start
    for supervisor in started:
        supervisor.stop(grace=5)


def test_a_killed_process_is_restarted_and_the_others_keep_running(
    run: Callable[..., tuple[Supervisor, io.StringIO]], state: Path, tmp_path: Path
) -> None:
    victim, bystander = service("victim", state), service("bystander", state)
    supervisor, output = run(victim, bystander)
    old, other = supervisor.pid("victim"), supervisor.pid("bystander")
    assert old and other

    killed_at = time.monotonic()
    os.killpg(old, signal.SIGKILL)
    eventually(lambda: process(supervisor, "victim")["state"] == "running"
               and supervisor.pid("victim") != old, what="victim back")  # fmt: skip
    back_after = time.monotonic() - killed_at

    assert back_after < 5
    assert supervisor.pid("bystander") == other and alive(other)
    assert len(starts(state, "bystander")) == 1
    assert len(starts(state, "victim")) == 2
    victim_status = process(supervisor, "victim")
    assert victim_status["restarts"] == 1
    assert victim_status["last_exit_code"] == -9
    assert victim_status["pid"] == supervisor.pid("victim")
    log = output.getvalue()
    assert "relaydesk | victim exited with code -9; restarting in 0.2 s (restart 1)" in log
    assert "relaydesk | victim is healthy again" in log
    supervisor_log = (tmp_path / "logs" / "supervisor.log").read_text()
    assert "victim exited with code -9; restarting in 0.2 s (restart 1)" in supervisor_log
    on_disk = json.loads((tmp_path / "status.json").read_text())
    assert on_disk["supervisor"]["state"] == "running"
    assert {p["name"]: p["restarts"] for p in on_disk["processes"]} == {
        "victim": 1, "bystander": 0,
    }  # fmt: skip
    # The health URL's query string (Rasa's carries its token) is never shown or stored.
    assert "s3cret" not in log + supervisor_log + (tmp_path / "status.json").read_text()


def test_restarts_back_off_and_a_process_that_recovers_stays_up(
    run: Callable[..., tuple[Supervisor, io.StringIO]], state: Path
) -> None:
    flaky = service("flaky", state, "--crash-after", "0.5", "--crash-starts", "3")
    supervisor, output = run(flaky)
    eventually(lambda: len(starts(state, "flaky")) == 4, timeout=20, what="three restarts")
    eventually(lambda: process(supervisor, "flaky")["state"] == "running", what="running")
    times = [t for _pid, t in starts(state, "flaky")]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # each gap: 0.5 s up + the delay (0.2, 0.4, 0.8 s) + start-up; the delays double
    assert gaps[2] - gaps[0] > 0.3, gaps
    log = output.getvalue()
    for number, delay in ((1, "0.2"), (2, "0.4"), (3, "0.8")):
        assert f"flaky exited with code 3; restarting in {delay} s (restart {number})" in log
    time.sleep(1)
    assert process(supervisor, "flaky")["state"] == "running"
    assert process(supervisor, "flaky")["restarts"] == 3


def test_a_crash_loop_gives_up_loudly_and_wait_returns_non_zero(
    run: Callable[..., tuple[Supervisor, io.StringIO]], state: Path
) -> None:
    looping = service("looping", state, "--crash-after", "0.5", "--exit-code", "7")
    steady = service("steady", state)
    supervisor, output = run(looping, steady)
    started = time.monotonic()
    assert supervisor.wait() == 1
    # 4 crashes (burst) after delays of 0.2 + 0.4 + 0.8 s, each 0.5 s up plus start-up
    assert time.monotonic() - started < 15
    assert len(starts(state, "looping")) == 4
    log = output.getvalue()
    assert (
        "looping exited with code 7: 4 crashes within 30 s, a crash loop; "
        "giving up and stopping everything"
    ) in log
    status = supervisor.status()
    assert status["supervisor"]["state"] == "failed"
    assert "crash loop" in status["supervisor"]["message"]
    assert process(supervisor, "looping")["state"] == "failed"
    steady_pid = supervisor.pid("steady")
    assert steady_pid and alive(steady_pid)  # the caller stops the rest
    supervisor.stop(grace=5)
    assert not alive(steady_pid)
    assert supervisor.status()["supervisor"]["state"] == "failed"


def test_a_restarted_process_is_not_running_until_healthy(
    run: Callable[..., tuple[Supervisor, io.StringIO]], state: Path
) -> None:
    slow = service("slow", state, "--slow-restart", "1.5")
    supervisor, _output = run(slow)
    old = supervisor.pid("slow")
    assert old
    os.killpg(old, signal.SIGKILL)
    eventually(lambda: len(starts(state, "slow")) == 2, what="relaunched")
    assert process(supervisor, "slow")["state"] == "starting"
    assert supervisor.status()["supervisor"]["state"] == "restarting"
    time.sleep(0.5)
    assert process(supervisor, "slow")["state"] == "starting"  # not listening yet
    eventually(lambda: process(supervisor, "slow")["state"] == "running", what="healthy again")
    assert supervisor.status()["supervisor"]["state"] == "running"


def test_a_restart_that_never_becomes_healthy_is_killed_and_counts_as_a_crash(
    run: Callable[..., tuple[Supervisor, io.StringIO]], state: Path
) -> None:
    hung = service("hung", state, "--slow-restart", "60", ready_timeout=1.0)
    supervisor, output = run(hung, policy=RestartPolicy(base_delay=0.1, burst=3, interval=30))
    os.killpg(supervisor.pid("hung") or 0, signal.SIGKILL)
    assert supervisor.wait() == 1
    log = output.getvalue()
    assert "hung did not become healthy at http://127.0.0.1:" in log
    assert "within 1 s; killing it" in log
    assert "3 crashes within 30 s, a crash loop" in log
    assert len(starts(state, "hung")) == 3


def test_restart_on_request_is_not_a_crash(
    run: Callable[..., tuple[Supervisor, io.StringIO]], state: Path
) -> None:
    one = service("one", state)
    supervisor, output = run(one, policy=RestartPolicy(burst=2))
    for _ in range(3):  # more than the burst: requests never make a crash loop
        old = supervisor.pid("one")
        supervisor.restart("one")
        assert supervisor.pid("one") != old
        assert process(supervisor, "one")["state"] == "running"
    assert process(supervisor, "one")["restarts"] == 3
    assert "restarted on request (restart 3)" in output.getvalue()
    assert "restarting in" not in output.getvalue()


def test_a_process_that_cannot_start_fails_the_start(
    run: Callable[..., tuple[Supervisor, io.StringIO]], state: Path
) -> None:
    broken = service("broken", state, "--fail-start")
    with pytest.raises(ProcessFailed, match="broken exited with code 3"):
        run(broken)
    assert len(starts(state, "broken")) == 1  # no restarts before it was ever ready


SUPERVISED = textwrap.dedent(
    """
    import sys
    from bot.processes.supervisor import ProcessSpec, Supervisor
    specs = [ProcessSpec(name=n, argv=a.split("\\x1f"), health_url=u)
             for n, a, u in zip(*[iter(sys.argv[1:])] * 3)]
    supervisor = Supervisor(specs, output=sys.stdout)
    supervisor.start()
    supervisor.wait_until_ready()
    print("READY", flush=True)
    code = supervisor.wait()
    supervisor.stop(grace=5)
    print("STOPPED", code, flush=True)
    sys.exit(code)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_everything_cleanly(state: Path, sig: int) -> None:
    specs = [service("a", state), service("b", state)]
    args = [x for s in specs for x in (s.name, "\x1f".join(s.argv), s.health_url)]
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED, *args], cwd=REPO_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("READY"):
            break
    pids = [pid for name in ("a", "b") for pid, _t in starts(state, name)]
    assert len(pids) == 2 and all(alive(p) for p in pids), lines
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, "".join(lines) + rest
    assert "STOPPED 0" in rest
    eventually(lambda: not any(alive(p) for p in pids), timeout=5, what="children gone")
