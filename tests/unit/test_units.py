"""`relaydesk units` (systemd, supervisord), `relaydesk exec` and `relaydesk status`."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main
from bot.processes.restart_policy import RestartPolicy
from bot.processes.stack import stack_specs
from bot.processes.status import report
from bot.processes.supervisor import is_healthy
from bot.processes.units import Install, specs_for, supervisord_config, systemd_units
from bot.settings import Settings
from tests.conftest import REPO_ROOT, free_port

SETTINGS = Settings.from_env({})
INSTALL = Install(root=Path("/srv/rd"), user="bot", env_file=Path("/etc/rd.env"))
NAMES = ("actions", "rasa", "bridge")


def unit_options(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(text)
    return {section: dict(parser[section]) for section in parser.sections()}


def test_one_service_per_process_and_a_target() -> None:
    units = systemd_units(INSTALL, SETTINGS)
    assert set(units) == {f"relaydesk-{n}.service" for n in NAMES} | {"relaydesk.target"}
    target = unit_options(units["relaydesk.target"])
    assert target["Unit"]["Wants"].split() == [f"relaydesk-{n}.service" for n in NAMES]
    assert target["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("name", NAMES)
def test_each_service_runs_the_stacks_command_and_restarts_on_failure(name: str) -> None:
    text = systemd_units(INSTALL, SETTINGS)[f"relaydesk-{name}.service"]
    unit = unit_options(text)
    service = unit["Service"]
    assert service["ExecStart"] == f"/srv/rd/.venv/bin/relaydesk exec {name}"
    assert service["EnvironmentFile"] == "/etc/rd.env"
    assert service["User"] == "bot"
    assert service["WorkingDirectory"] == "/srv/rd"
    assert service["Restart"] == "on-failure"
    assert service["RestartSec"] == "1s"
    assert service["RestartMaxDelaySec"] == "30s"
    assert unit["Unit"]["StartLimitIntervalSec"] == "60"
    assert unit["Unit"]["StartLimitBurst"] == "5"
    assert unit["Unit"]["PartOf"] == "relaydesk.target"
    assert unit["Install"]["WantedBy"] == "relaydesk.target"
    # The comment names what `relaydesk exec` becomes: the very argv of `relaydesk run`.
    spec = next(s for s in stack_specs(SETTINGS.replace(rasa_token="x")) if s.name == name)
    moved = " ".join(a.replace(str(SETTINGS.repo_root), "/srv/rd") for a in spec.argv)
    assert f"#   {moved}\n" in text


def test_the_policy_numbers_come_from_the_restart_policy() -> None:
    install = replace(
        INSTALL, policy=RestartPolicy(base_delay=2, max_delay=9, burst=3, interval=20)
    )
    unit = unit_options(systemd_units(install, SETTINGS)["relaydesk-rasa.service"])
    assert unit["Service"]["RestartSec"] == "2s"
    assert unit["Service"]["RestartMaxDelaySec"] == "9s"
    assert unit["Unit"]["StartLimitBurst"] == "3"
    assert unit["Unit"]["StartLimitIntervalSec"] == "20"


def test_no_token_in_any_unit() -> None:
    settings = SETTINGS.replace(rasa_token="do-not-print-me")
    everything = "".join(systemd_units(INSTALL, settings).values())
    everything += supervisord_config(INSTALL, settings)
    assert "do-not-print-me" not in everything
    assert "--auth-token" not in everything
    assert all("--auth-token" not in s.argv for s in specs_for(INSTALL, settings))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    install = Install(root=REPO_ROOT, user="root", env_file=tmp_path / "relaydesk.env")
    install.env_file.write_text("RASA_TOKEN=x\n")
    paths = []
    for name, text in systemd_units(install, SETTINGS).items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *paths], capture_output=True, text=True
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines()
        # systemd < 254 does not know the growing delay yet (docs/deployment.md)
        if line.strip() and "RestartSteps" not in line and "RestartMaxDelaySec" not in line
    ]  # fmt: skip
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_supervisord_config() -> None:
    config = unit_options(supervisord_config(INSTALL, SETTINGS))
    assert config["group:relaydesk"]["programs"] == ",".join(f"relaydesk-{n}" for n in NAMES)
    priorities = []
    for name in NAMES:
        program = config[f"program:relaydesk-{name}"]
        assert (
            program["command"] == f"/srv/rd/.venv/bin/relaydesk exec --env-file /etc/rd.env {name}"
        )
        assert program["directory"] == "/srv/rd"
        assert program["user"] == "bot"
        assert program["autorestart"] == "unexpected"
        assert program["startretries"] == "4"
        assert program["stopasgroup"] == program["killasgroup"] == "true"
        assert program["stdout_logfile"] == f"/var/log/relaydesk/{name}.log"
        priorities.append(int(program["priority"]))
    assert priorities == sorted(priorities)


def test_units_command_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["units", "--systemd", "--root", "/srv/rd", "--out", str(tmp_path)])
    assert done.value.code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"relaydesk-{n}.service" for n in NAMES] + ["relaydesk.target"]
    )
    with pytest.raises(SystemExit):
        main(["units", "--supervisord", "--root", "/srv/rd"])
    assert "[program:relaydesk-rasa]" in capsys.readouterr().out


# ---------------------------------------------------------------------- relaydesk exec


def relaydesk(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args], cwd=REPO_ROOT, text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def test_exec_becomes_the_stacks_process(tmp_path: Path) -> None:
    port = free_port()
    env_file = tmp_path / "relaydesk.env"
    env_file.write_text(f"RASA_TOKEN=t0ken\nACTION_PORT={port}\n")
    proc = relaydesk("exec", "--env-file", str(env_file), "actions", env={})
    try:
        deadline = time.monotonic() + 90
        while not is_healthy(f"http://127.0.0.1:{port}/health"):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the action server did not answer"
            time.sleep(0.3)
        # Same pid (exec: no wrapper left), running the stack's own command line.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        settings = SETTINGS.replace(action_port=port, rasa_token="t0ken")
        spec = next(s for s in stack_specs(settings) if s.name == "actions")
        assert cmdline[1:] == list(spec.argv)  # [0] is the interpreter of the rasa script
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode().split("\0")
        assert "SANIC_HOST=127.0.0.1" in environ  # the spec's environment came along
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_exec_refuses_without_a_shared_token() -> None:
    proc = relaydesk("exec", "rasa", env={"RASA_TOKEN": ""})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "RASA_TOKEN is not set" in out


def test_exec_names_the_processes() -> None:
    proc = relaydesk("exec", "nope", env={"RASA_TOKEN": "x"})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "actions, rasa, bridge" in out


# ---------------------------------------------------------------------- relaydesk status


def status_file(tmp_path: Path, pid: int, state: str = "running") -> Path:
    path = tmp_path / "status.json"
    path.write_text(json.dumps({
        "supervisor": {"pid": pid, "state": state, "message": None, "updated_at": "now"},
        "processes": [{"name": "rasa", "state": state, "pid": 42, "restarts": 2,
                       "last_exit_code": -9, "since": "now", "health_url": "http://x/status"}],
    }))  # fmt: skip
    return path


def test_status_of_a_running_stack(tmp_path: Path) -> None:
    code, text = report(status_file(tmp_path, os.getpid()))
    assert code == 0
    assert "relaydesk: running" in text
    assert text.splitlines()[-1].split()[:5] == ["rasa", "running", "42", "2", "-9"]


def test_status_while_restarting_or_failed(tmp_path: Path) -> None:
    assert report(status_file(tmp_path, os.getpid(), "restarting"))[0] == 1


def test_status_without_a_supervisor(tmp_path: Path) -> None:
    assert report(tmp_path / "missing.json")[0] == 3
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    code, text = report(status_file(tmp_path, int(dead.stdout)))
    assert code == 3
    assert "gone (supervisor pid" in text


def test_status_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = status_file(tmp_path, os.getpid())
    with pytest.raises(SystemExit) as done:
        main(["status", "--file", str(path)])
    assert done.value.code == 0
    assert "rasa" in capsys.readouterr().out
