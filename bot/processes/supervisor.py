"""A small process supervisor: start several commands, prefix their output, wait until each
answers its health check, restart the ones that crash, and stop them all together.

honcho/foreman start processes but cannot tell when they are *ready*; the run command must
print the chat URL only once the model is loaded and the action server answers. And one
crashed process must not take the assistant down: like systemd's `Restart=on-failure`, a
process that exits after it was ready is started again after a growing delay
(bot/processes/restart_policy.py decides how long, and when a crash loop means giving up),
while the others keep running. A restarted process counts as running again only once its
health check answers.

Threads: one per child blocks in `wait()` for it to exit and one copies its output, so
nothing polls; one monitor thread reacts to exits, carries out the restarts and runs the
health checks of processes that are starting (every `health_interval` seconds, only then).
An idle stack costs the supervisor no wake-ups at all.

State, for people and tests: `status()`, and the same as JSON in `status_file` (rewritten
atomically on every change; `relaydesk status` reads it). The health URLs there and in every
message lose their query string: Rasa's carries the API token.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import requests

from bot.processes.restart_policy import GiveUp, RestartPolicy, after_crash

_COLOURS = ("\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m")
_RESET = "\033[0m"

_WARNING_LINE = re.compile(r"^\S+\.py:\d+: \w*Warning: ")

# Process states (status file, `status()`).
STARTING = "starting"  # launched, health check not answered yet
RUNNING = "running"  # answered its health check
RESTARTING = "restarting"  # crashed; waiting for the restart delay
FAILED = "failed"  # could not start, or gave up after a crash loop
STOPPED = "stopped"


class WarningNoiseFilter:
    """Hides Python warnings (and the source line printed under each) from the console.

    Rasa 3.6 on Python 3.11 prints dozens of third-party deprecation warnings at every start
    and re-enables them itself, so PYTHONWARNINGS cannot silence them. The log files under
    var/logs keep everything.
    """

    def __init__(self) -> None:
        self._in_warning = False

    def keep(self, line: str) -> bool:
        if _WARNING_LINE.match(line):
            self._in_warning = True
            return False
        if self._in_warning and line.startswith("  "):
            return False
        self._in_warning = False
        return True


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    health_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    #: Seconds to wait for the health check (Rasa loads TensorFlow and the model first).
    ready_timeout: float = 180.0

    @property
    def public_health_url(self) -> str:
        """The health URL without its query string (Rasa's carries the API token)."""
        return self.health_url.split("?", 1)[0]


class ProcessFailed(RuntimeError):
    pass


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(url, timeout=timeout).status_code < 400
    except requests.RequestException:
        return False


def _iso(wall: float | None) -> str | None:
    return None if wall is None else datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds")


@dataclass
class _Child:
    index: int
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    state: str = STOPPED
    #: Every start after the first, crash or `restart()`.
    restarts: int = 0
    last_exit_code: int | None = None
    #: Monotonic times of recent crashes (what the restart policy decides on).
    crash_times: list[float] = field(default_factory=list)
    ever_ready: bool = False
    launched_at: float = 0.0
    crashed_at: float = 0.0
    restart_at: float = 0.0
    #: Wall-clock time of the last state change (status file).
    since: float = 0.0
    #: `restart()` is killing it on purpose: not a crash.
    expected_exit: bool = False
    #: Why it could not start (first start), or why the supervisor gave up.
    failure: str | None = None


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        output: IO[str] | None = None,
        log_dir: str | None = None,
        colour: bool | None = None,
        health_check: Callable[[str], bool] = is_healthy,
        restart_policy: RestartPolicy | None = None,
        status_file: str | os.PathLike[str] | None = None,
        health_interval: float = 0.5,
    ) -> None:
        self._children = [_Child(index, spec) for index, spec in enumerate(specs)]
        self._output = output if output is not None else sys.stdout
        self._log_dir = log_dir
        self._colour = self._output.isatty() if colour is None else colour
        self._health_check = health_check
        self._policy = restart_policy or RestartPolicy()
        self._status_file = Path(status_file) if status_file else None
        self._health_interval = health_interval
        self._width = max((len(s.name) for s in specs), default=0)
        self._out_lock = threading.Lock()  # console and supervisor.log lines
        self._cond = threading.Condition()  # children's state; notified on every change
        self._threads: list[threading.Thread] = []
        self._monitor: threading.Thread | None = None
        self._stopping = False
        self._gave_up: str | None = None
        self._finished = threading.Event()  # wait() returns: gave up, or a signal

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            for child in self._children:
                self._launch(child)
            self._write_status()
        self._monitor = threading.Thread(target=self._run_monitor, name="supervisor", daemon=True)
        self._monitor.start()

    def restart(self, name: str, kill_signal: int = signal.SIGKILL) -> None:
        """Kill one process (SIGKILL simulates a crash) and start it again, ready.

        A restart on request: not counted as a crash by the restart policy.
        """
        child = self._child(name)
        with self._cond:
            child.expected_exit = True
            proc = child.proc
            if child.state == FAILED:  # an operator's second chance after giving up
                child.failure, child.crash_times = None, []
                self._gave_up = None
                if not any(c.state == FAILED for c in self._children if c is not child):
                    self._finished.clear()
        if proc is not None:
            self._signal_group(proc, kill_signal)
            proc.wait()
        with self._cond:
            child.expected_exit = False
            if proc is not None:
                child.last_exit_code = proc.returncode
            child.crashed_at = time.monotonic()
            child.restarts += 1
            self._set_state(child, RESTARTING)
            child.restart_at = time.monotonic()
            self._cond.notify_all()
        self._say(f"{name} restarted on request (restart {child.restarts})")
        self.wait_until_ready(only=[name])

    def wait_until_ready(
        self, progress: Callable[[str], None] | None = None, only: Sequence[str] | None = None
    ) -> None:
        """Block until every process (or those named) answers its health URL.

        Raises ProcessFailed if one exits before it was ever ready, does not answer within its
        `ready_timeout`, or the supervisor gives up on it after a crash loop.
        """
        names = [c.spec.name for c in self._children if only is None or c.spec.name in only]
        started = time.monotonic()
        last_report = 0.0
        reported: set[str] = set()
        with self._cond:
            while True:
                for name in names:
                    child = self._child(name)
                    if child.state == FAILED:
                        raise ProcessFailed(child.failure or f"{name} failed")
                    if child.state == RUNNING and name not in reported:
                        reported.add(name)
                        if progress:
                            progress(f"{name} is ready ({child.spec.public_health_url})")
                if self._gave_up:
                    raise ProcessFailed(self._gave_up)
                if self._stopping:
                    raise ProcessFailed("the supervisor is stopping")
                if len(reported) == len(names):
                    return
                elapsed = time.monotonic() - started
                if progress and elapsed - last_report >= 10:
                    last_report = elapsed
                    waiting = [n for n in names if n not in reported]
                    progress(f"waiting for {', '.join(waiting)} ({elapsed:.0f}s)")
                self._cond.wait(timeout=1.0)

    def raise_if_any_exited(self) -> None:
        """Raise if a process has failed for good (could not start, or a crash loop)."""
        with self._cond:
            if self._gave_up:
                raise ProcessFailed(self._gave_up)
            for child in self._children:
                if child.state == FAILED:
                    raise ProcessFailed(child.failure or f"{child.spec.name} failed")

    def wait(self) -> int:
        """Run until SIGINT/SIGTERM (returns 0), or a process fails for good (returns 1): a
        crash loop, or one that never became ready. Crashed processes are restarted meanwhile.
        The caller stops everything afterwards."""

        def on_signal(signum: int, _frame: object) -> None:
            self._finished.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._finished.wait()  # no timeout: signals and the monitor wake it
            with self._cond:
                failed = any(c.state == FAILED for c in self._children)
            return 1 if failed or self._gave_up else 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self, grace: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            procs = [c.proc for c in self._children if c.proc is not None]
            self._cond.notify_all()
        for proc in procs:
            self._signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=2)
        with self._cond:
            for child in self._children:
                if child.proc is not None and child.proc.returncode is not None:
                    child.last_exit_code = child.proc.returncode
                if child.state != FAILED:
                    self._set_state(child, STOPPED)
            self._write_status()

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        proc = self._child(name).proc
        return None if proc is None else proc.pid

    @property
    def _procs(self) -> dict[str, subprocess.Popen[bytes]]:
        """name → current Popen (tests signal a process group directly)."""
        return {c.spec.name: c.proc for c in self._children if c.proc is not None}

    def status(self) -> dict[str, Any]:
        with self._cond:
            return self._status()

    def _status(self) -> dict[str, Any]:
        states = {c.state for c in self._children}
        if self._stopping:
            done = states <= {STOPPED, FAILED}
            overall = FAILED if self._gave_up else STOPPED if done else "stopping"
        elif self._gave_up or FAILED in states:
            overall = FAILED
        elif states == {RUNNING}:
            overall = RUNNING
        elif all(c.ever_ready for c in self._children):
            overall = RESTARTING  # degraded: one or more on its way back
        else:
            overall = STARTING
        return {
            "supervisor": {
                "pid": os.getpid(),
                "state": overall,
                "message": self._gave_up,
                "updated_at": _iso(time.time()),
            },
            "processes": [
                {
                    "name": c.spec.name,
                    "state": c.state,
                    "pid": c.proc.pid if c.proc is not None and c.state != STOPPED else None,
                    "restarts": c.restarts,
                    "last_exit_code": c.last_exit_code,
                    "since": _iso(c.since),
                    "health_url": c.spec.public_health_url,
                }
                for c in self._children
            ],
        }

    def _write_status(self) -> None:
        if self._status_file is None:
            return
        self._status_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self._status_file.with_name(self._status_file.name + ".tmp")
        partial.write_text(json.dumps(self._status(), indent=2) + "\n")
        os.replace(partial, self._status_file)

    def _set_state(self, child: _Child, state: str) -> None:
        child.state = state
        child.since = time.time()
        if state == FAILED:
            self._finished.set()  # wait() returns: the caller stops everything

    def _child(self, name: str) -> _Child:
        for child in self._children:
            if child.spec.name == name:
                return child
        raise KeyError(f"no process named {name!r}")

    # -- the monitor thread ----------------------------------------------------------------
    def _run_monitor(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                changed = self._reap(now)
                for child in self._children:
                    if child.state == RESTARTING and child.restart_at <= now:
                        self._launch(child)
                        changed = True
                starting = [c for c in self._children if c.state == STARTING]
                probes = [(c, c.proc, c.spec.health_url) for c in starting]
                if changed:
                    self._write_status()
                    self._cond.notify_all()
                if not probes:
                    waits = [c.restart_at - now for c in self._children if c.state == RESTARTING]
                    # Nothing starting: sleep until the next restart is due, or an exit,
                    # restart() or stop() notifies.
                    self._cond.wait(timeout=max(0.0, min(waits)) if waits else None)
                    continue
            # Health checks outside the lock: one may take its whole timeout.
            results = [(c, proc, self._health_check(url)) for c, proc, url in probes]
            with self._cond:
                if self._stopping:
                    return
                self._after_probes(results, time.monotonic())
                self._cond.wait(timeout=self._health_interval)

    def _after_probes(
        self, results: list[tuple[_Child, subprocess.Popen[bytes] | None, bool]], now: float
    ) -> None:
        changed = False
        for child, proc, healthy in results:
            if child.proc is not proc or child.state != STARTING:
                continue  # it exited or was restarted meanwhile
            spec = child.spec
            if healthy:
                self._set_state(child, RUNNING)
                if child.ever_ready:
                    self._say(
                        f"{spec.name} is healthy again (pid {child.proc.pid if child.proc else '?'}"
                        f", {now - child.crashed_at:.1f} s after it stopped)"
                    )
                child.ever_ready = True
                changed = True
            elif now - child.launched_at > spec.ready_timeout:
                message = (
                    f"{spec.name} did not become healthy at {spec.public_health_url} "
                    f"within {spec.ready_timeout:g} s"
                )
                if not child.ever_ready:
                    child.failure = message
                    self._set_state(child, FAILED)
                    changed = True
                # A restarted one is killed; the policy treats that as its next crash.
                self._say(f"{message}; killing it")
                if child.proc is not None:
                    self._signal_group(child.proc, signal.SIGKILL)
        if changed:
            self._write_status()
            self._cond.notify_all()

    def _reap(self, now: float) -> bool:
        """Handle processes that exited on their own (under the lock). True if any did."""
        changed = False
        for child in self._children:
            proc = child.proc
            if proc is None or child.state not in (STARTING, RUNNING) or child.expected_exit:
                continue
            code = proc.poll()
            if code is None:
                continue
            changed = True
            name = child.spec.name
            child.last_exit_code = code
            child.crashed_at = now
            # Whatever it left behind in its process group (it holds the port otherwise).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if not child.ever_ready:
                child.failure = f"{name} exited with code {code}"
                self._set_state(child, FAILED)
                self._say(f"{child.failure} before it was ready")
                continue
            decision = after_crash(self._policy, child.crash_times, now)
            child.crash_times = [*child.crash_times, now][-self._policy.burst :]
            if isinstance(decision, GiveUp):
                self._set_state(child, FAILED)
                child.failure = self._gave_up = (
                    f"{name} exited with code {code}: {decision.reason}, a crash loop; "
                    "giving up and stopping everything"
                )
                self._say(f"{self._gave_up} (see its log)")
                continue
            child.restarts += 1
            child.restart_at = now + decision.delay
            self._set_state(child, RESTARTING)
            self._say(
                f"{name} exited with code {code}; restarting in {decision.delay:g} s "
                f"(restart {child.restarts})"
            )
        return changed

    # -- processes -------------------------------------------------------------------------
    def _launch(self, child: _Child) -> None:
        """Start (or start again) one child. Called with the lock held."""
        spec = child.spec
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            list(spec.argv),
            env=env,
            cwd=spec.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own process group: we stop its children too
        )
        child.proc = proc
        child.launched_at = time.monotonic()
        self._set_state(child, STARTING)
        prefix = spec.name.ljust(self._width)
        if self._colour:
            prefix = f"{_COLOURS[child.index % len(_COLOURS)]}{prefix}{_RESET}"
        self._threads = [t for t in self._threads if t.is_alive()]
        workers: tuple[tuple[Callable[..., None], tuple[Any, ...]], ...] = (
            (self._pump, (spec.name, prefix, proc)),
            (self._await_exit, (proc,)),
        )
        for target, args in workers:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _await_exit(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        with self._cond:
            self._cond.notify_all()

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _pump(self, name: str, prefix: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        log = None
        if self._log_dir:
            os.makedirs(self._log_dir, exist_ok=True)
            log = open(os.path.join(self._log_dir, f"{name}.log"), "ab")  # noqa: SIM115
        noise = WarningNoiseFilter()
        try:
            for raw in iter(proc.stdout.readline, b""):
                if log:
                    log.write(raw)
                    log.flush()
                line = raw.decode(errors="replace").rstrip()
                if not noise.keep(line):
                    continue
                with self._out_lock:
                    self._output.write(f"{prefix} | {line}\n")
                    self._output.flush()
        finally:
            proc.stdout.close()
            if log:
                log.close()

    def _say(self, text: str) -> None:
        """A supervisor message: on the console, and with a timestamp in supervisor.log."""
        with self._out_lock:
            self._output.write(f"relaydesk | {text}\n")
            self._output.flush()
            if self._log_dir:
                os.makedirs(self._log_dir, exist_ok=True)
                with open(os.path.join(self._log_dir, "supervisor.log"), "a") as log:
                    log.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {text}\n")
