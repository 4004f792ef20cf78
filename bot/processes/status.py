"""`relaydesk status`: what the status file of a running `relaydesk run` says.

The supervisor rewrites the file (default var/status.json) on every change of state; this
reads it, checks that the supervisor that wrote it is still alive, and prints one line per
process. Exit codes for scripts and health checks: 0 every process running, 1 the stack is
starting, restarting or has failed, 3 no supervisor is running.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ALL_RUNNING, DEGRADED, NOT_RUNNING = 0, 1, 3


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def report(path: Path) -> tuple[int, str]:
    """(exit code, text) for the status file at `path`."""
    status = read_status(path)
    if status is None:
        return NOT_RUNNING, f"relaydesk is not running (no status in {path})"
    supervisor = status.get("supervisor", {})
    state = supervisor.get("state", "?")
    lines = []
    live = _alive(supervisor.get("pid"))
    if not live and state not in ("stopped", "failed"):
        state = f"gone (supervisor pid {supervisor.get('pid')} is not running)"
    lines.append(f"relaydesk: {state}  (updated {supervisor.get('updated_at')})")
    if supervisor.get("message"):
        lines.append(f"  {supervisor['message']}")
    lines.append(f"  {'process':<10} {'state':<11} {'pid':>8} {'restarts':>8} {'last exit':>9}")
    for proc in status.get("processes", []):
        exit_code = proc.get("last_exit_code")
        lines.append(
            f"  {proc.get('name', '?'):<10} {proc.get('state', '?'):<11} "
            f"{proc.get('pid') or '-':>8} {proc.get('restarts', 0):>8} "
            f"{'-' if exit_code is None else exit_code:>9}   {proc.get('health_url', '')}"
        )
    if not live:
        return NOT_RUNNING, "\n".join(lines)
    return (ALL_RUNNING if state == "running" else DEGRADED), "\n".join(lines)
