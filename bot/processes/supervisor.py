"""A small process supervisor: start several commands, prefix their output, wait until each
answers its health check, and stop them all together (Ctrl-C, SIGTERM, or one of them dying).

honcho/foreman start processes but cannot tell when they are *ready*; the run command must
print the chat URL only once the model is loaded and the action server answers.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

import requests

_COLOURS = ("\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m")
_RESET = "\033[0m"


_WARNING_LINE = re.compile(r"^\S+\.py:\d+: \w*Warning: ")


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


class ProcessFailed(RuntimeError):
    pass


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(url, timeout=timeout).status_code < 400
    except requests.RequestException:
        return False


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        output: IO[str] | None = None,
        log_dir: str | None = None,
        colour: bool | None = None,
        health_check: Callable[[str], bool] = is_healthy,
    ) -> None:
        self._specs = list(specs)
        self._output = output if output is not None else sys.stdout
        self._log_dir = log_dir
        self._colour = self._output.isatty() if colour is None else colour
        self._health_check = health_check
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._pumps: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        for index, spec in enumerate(self._specs):
            self._launch(index, spec)

    def restart(self, name: str, kill_signal: int = signal.SIGKILL) -> None:
        """Kill one process (SIGKILL simulates a crash) and start it again, ready."""
        index, spec = next((i, s) for i, s in enumerate(self._specs) if s.name == name)
        proc = self._procs[name]
        self._signal_group(proc, kill_signal)
        proc.wait()
        self._launch(index, spec)
        self.wait_until_ready(only=[name])

    def _launch(self, index: int, spec: ProcessSpec) -> None:
        width = max(len(s.name) for s in self._specs)
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
        self._procs[spec.name] = proc
        prefix = spec.name.ljust(width)
        if self._colour:
            prefix = f"{_COLOURS[index % len(_COLOURS)]}{prefix}{_RESET}"
        pump = threading.Thread(target=self._pump, args=(spec.name, prefix, proc), daemon=True)
        pump.start()
        self._pumps.append(pump)

    def wait_until_ready(
        self, progress: Callable[[str], None] | None = None, only: Sequence[str] | None = None
    ) -> None:
        """Block until every process answers its health URL; raise if one dies or times out."""
        pending = {s.name: s for s in self._specs if only is None or s.name in only}
        started = time.monotonic()
        last_report = 0.0
        while pending:
            self.raise_if_any_exited()
            for name, spec in list(pending.items()):
                if self._health_check(spec.health_url):
                    del pending[name]
                    if progress:
                        progress(f"{name} is ready ({spec.health_url.split('?')[0]})")
                elif time.monotonic() - started > spec.ready_timeout:
                    raise ProcessFailed(f"{name} did not become healthy at {spec.health_url}")
            elapsed = time.monotonic() - started
            if pending and progress and elapsed - last_report >= 10:
                last_report = elapsed
                progress(f"waiting for {', '.join(pending)} ({elapsed:.0f}s)")
            time.sleep(0.25)

    def raise_if_any_exited(self) -> None:
        for name, proc in self._procs.items():
            code = proc.poll()
            if code is not None and not self._stopping:
                raise ProcessFailed(f"{name} exited with code {code}")

    def wait(self) -> int:
        """Run until a process exits or a signal arrives; return the exit code to use."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stop.is_set():
                for name, proc in self._procs.items():
                    if proc.poll() is not None:
                        self._say(f"{name} exited with code {proc.returncode}; stopping")
                        return proc.returncode or 1
                stop.wait(0.5)
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
        for proc in self._procs.values():
            self._signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait()
        for pump in self._pumps:
            pump.join(timeout=2)

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
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
                with self._lock:
                    self._output.write(f"{prefix} | {line}\n")
                    self._output.flush()
        finally:
            if log:
                log.close()

    def _say(self, text: str) -> None:
        with self._lock:
            self._output.write(f"relaydesk | {text}\n")
            self._output.flush()
