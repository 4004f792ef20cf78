"""Rasa's API token never appears in the process list (`ps`, /proc/<pid>/cmdline) nor in the
logs: Rasa gets it from RASA_TOKEN through bot/processes/rasa_server.py (issue 9, 3b)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from bot.processes.rasa_server import MissingToken, rasa_argv
from tests.conftest import RunningStack


def descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                queue += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


@pytest.mark.integration
def test_the_token_is_in_no_command_line_and_no_log(rasa_stack: RunningStack) -> None:
    token = rasa_stack.token
    supervisor = rasa_stack.supervisor
    pids = [
        pid for name in ("actions", "rasa", "bridge") for pid in descendants(supervisor.pid(name))
    ]
    assert len(pids) >= 3
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert token not in cmdline, f"pid {pid}: {cmdline!r}"
    rasa_cmdline = Path(f"/proc/{supervisor.pid('rasa')}/cmdline").read_bytes().split(b"\0")
    assert b"bot.processes.rasa_server" in rasa_cmdline
    assert b"--auth-token" not in rasa_cmdline

    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    assert str(supervisor.pid("rasa")) in listing.stdout
    assert token not in listing.stdout

    # Rasa did get the token: its API refuses requests without it and accepts them with it.
    status = f"{rasa_stack.rasa_url}/status"
    assert requests.get(status, timeout=10).status_code == 401
    assert requests.get(status, params={"token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(status, params={"token": token}, timeout=10).status_code == 200

    # The supervisor's messages, every process log and the status never hold it either.
    for log in rasa_stack.log_dir.glob("*.log"):
        assert token not in log.read_text(errors="replace"), log.name
    assert token not in str(supervisor.status())


def test_the_token_is_added_inside_the_process_last() -> None:
    argv = rasa_argv(["run", "--enable-api", "--port", "5005"], {"RASA_TOKEN": "abc"})
    assert argv == ["rasa", "run", "--enable-api", "--port", "5005", "--auth-token", "abc"]


def test_other_rasa_commands_pass_through() -> None:
    assert rasa_argv(["run", "actions"], {}) == ["rasa", "run", "actions"]
    assert rasa_argv(["--version"], {}) == ["rasa", "--version"]
    assert rasa_argv(["run", "--port", "1"], {}) == ["rasa", "run", "--port", "1"]  # no API


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["run", "--enable-api"], {}, "RASA_TOKEN is empty"),
        (["run", "--enable-api"], {"RASA_TOKEN": ""}, "RASA_TOKEN is empty"),
        (["run", "--enable-api", "--auth-token", "x"], {"RASA_TOKEN": "y"}, "not --auth-token"),
        (["run", "--enable-api", "--auth-token=x"], {"RASA_TOKEN": "y"}, "not --auth-token"),
    ],
)
def test_an_open_api_or_a_token_on_the_command_line_is_refused(
    args: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(MissingToken, match=message):
        rasa_argv(args, env)


def test_the_entry_module_refuses_to_start_without_a_token() -> None:
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "bot.processes.rasa_server", "run", "--enable-api"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode != 0
    assert "RASA_TOKEN is empty" in result.stderr
