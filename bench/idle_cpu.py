"""Idle CPU of the whole `make run` stack (issue 9, point 13: < 1% of one core in all).

Starts `relaydesk run --no-train` in the background exactly as a user would (on free ports and
a scratch store, so it can run beside a real `make run`), waits for the "relaydesk is ready"
banner, lets it settle, then samples every process of the stack for N seconds: the
supervisor itself and every descendant (Rasa, the action server, the bridge, and whatever
children they have). For each it reads /proc/<pid>/stat (utime + stime, every thread,
dead ones included) at the start and the end, and the voluntary context switches of its
threads (each is one sleep that ended: a timer or poll loop shows up as wake-ups per second).

    .venv/bin/python bench/idle_cpu.py                 # 10 s settle, 60 s measure
    .venv/bin/python bench/idle_cpu.py --seconds 120 --settle 30 --json results/idle.json

Prints one row per process and the total, in % of one core, with `uptime`'s load beside it.
Exit code 0 when the total is under --budget (default 1.0 %), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of the whole process (all threads, live and exited), in clock ticks."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def wakeups(pid: int) -> int:
    """Voluntary context switches summed over the process's live threads."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    result, queue = [], [pid]
    while queue:
        current = queue.pop()
        result.append(current)
        queue += children(current)
    return result


def describe(pid: int) -> str:
    """A short name: `relaydesk run`, `rasa run`, `rasa run actions`, `relaydesk bridge`..."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    words = [Path(a).name if a.startswith("/") else a for a in argv if a]
    if words and words[0].startswith("python"):
        words = words[1:]
    if words[:1] == ["-m"]:
        words = words[1:]
    words = ["rasa_server" if w == "bot.processes.rasa_server" else w for w in words]
    command = []
    for word in words[:3]:  # the program and its subcommands, up to the first option
        if word.startswith("-"):
            break
        command.append(word)
    return " ".join(command) or "?"


@dataclass
class Sample:
    pid: int
    name: str
    ticks: int
    wakeups: int
    threads: int


def snapshot(root: int) -> dict[int, Sample]:
    samples = {}
    for pid in descendants(root):
        ticks = cpu_ticks(pid)
        if ticks is not None:
            samples[pid] = Sample(pid, describe(pid), ticks, wakeups(pid), threads(pid))
    return samples


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def start_stack(workdir: Path, ready_timeout: float) -> tuple[subprocess.Popen[str], list[str]]:
    rasa_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'store.db'}",
        "RASA_TRACKER_DB": str(workdir / "tracker.db"),
        "RASA_EVENTS_DB": str(workdir / "events.db"),
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(free_port()),
        "BRIDGE_PORT": str(free_port()),
        "PUBLIC_URL": f"http://127.0.0.1:{rasa_port}",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "relaydesk"),
            "run",
            "--no-train",
            "--status-file",
            str(workdir / "status.json"),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if "relaydesk is ready" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + ready_timeout
    while not ready.wait(0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            print("\n".join(lines[-40:]), file=sys.stderr)
            raise SystemExit(f"the stack did not become ready (exit code {proc.poll()})")
    return proc, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument("--settle", type=float, default=10.0, help="wait after ready")
    parser.add_argument("--budget", type=float, default=1.0, help="%% of one core in all")
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if not (REPO / "models" / "relaydesk.tar.gz").exists():
        raise SystemExit("no model: run `make train` (or `relaydesk train`) first")

    with tempfile.TemporaryDirectory(prefix="relaydesk-idle-") as scratch:
        started = time.monotonic()
        proc, _lines = start_stack(Path(scratch), args.ready_timeout)
        print(f"stack ready in {time.monotonic() - started:.0f} s; settling {args.settle:.0f} s")
        try:
            time.sleep(args.settle)
            load_before = load_average()
            before = snapshot(proc.pid)
            t0 = time.monotonic()
            time.sleep(args.seconds)
            elapsed = time.monotonic() - t0
            after = snapshot(proc.pid)
            load_after = load_average()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    rows = []
    for pid, end in after.items():
        start = before.get(pid)
        if start is None:  # started during the window: count all of it
            start = Sample(pid, end.name, 0, 0, 0)
        cpu = (end.ticks - start.ticks) / CLOCK_TICKS / elapsed * 100
        rate = (end.wakeups - start.wakeups) / elapsed
        rows.append({"pid": pid, "process": end.name, "threads": end.threads,
                     "cpu_percent": round(cpu, 3), "wakeups_per_s": round(rate, 1)})  # fmt: skip
    vanished = sorted(set(before) - set(after))
    total = sum(r["cpu_percent"] for r in rows)

    print(f"\nidle CPU over {elapsed:.0f} s, % of one core ({os.cpu_count()} cores here)")
    print(f"load average before: {load_before}   after: {load_after}\n")
    print(f"| {'process':<28} | {'pid':>7} | {'threads':>7} | {'CPU %':>7} | {'wake-ups/s':>10} |")
    print(f"|{'-' * 30}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 12}|")
    for row in sorted(rows, key=lambda r: -r["cpu_percent"]):
        print(f"| {row['process'][:28]:<28} | {row['pid']:>7} | {row['threads']:>7} | "
              f"{row['cpu_percent']:>7.2f} | {row['wakeups_per_s']:>10.1f} |")  # fmt: skip
    print(f"| {'total':<28} | {'':>7} | {'':>7} | {total:>7.2f} | "
          f"{sum(r['wakeups_per_s'] for r in rows):>10.1f} |")  # fmt: skip
    if vanished:
        print(f"\nprocesses that exited during the window (not counted): {vanished}")
    verdict = "within" if total < args.budget else "OVER"
    print(f"\n{verdict} the budget of {args.budget} % of one core")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "seconds": elapsed, "load_before": load_before, "load_after": load_after,
            "total_cpu_percent": round(total, 3), "processes": rows,
        }, indent=2))  # fmt: skip
    return 0 if total < args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
