"""The relaydesk stack: which processes run, with which arguments and environment.

Used by `relaydesk run` and by the integration tests, so both start exactly the same thing.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.processes.supervisor import ProcessSpec, WarningNoiseFilter
from bot.settings import Settings

MODEL_NAME = "relaydesk"


def venv_bin(name: str) -> str:
    """Executables of the environment relaydesk itself runs in."""
    return str(Path(sys.executable).parent / name)


def with_token(settings: Settings) -> Settings:
    """Rasa's HTTP API must never run open: make up a token for this run if none is set."""
    if settings.rasa_token:
        return settings
    return settings.replace(rasa_token=secrets.token_hex(16))


def rasa_environment(settings: Settings) -> dict[str, str]:
    """What the processes get on top of the environment they inherit, which is the one the
    settings were read from (each process reads its own settings from it, once): the token
    `with_token` may have made up, the values endpoints*.yml refer to as `${...}` (Rasa
    refuses unset ones there), and quiet Rasa."""
    return {
        "RASA_TOKEN": settings.rasa_token,
        "ACTION_ENDPOINT_URL": settings.action_server_url,
        "RASA_TRACKER_DB": str(settings.tracker_db_path),
        "RASA_EVENTS_DB": str(settings.handoff.events_db_path),
        "RABBITMQ_HANDOFF_QUEUE": settings.handoff.rabbitmq_queue,
        # Rasa phones home and prints banners otherwise.
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }


def model_path(settings: Settings) -> Path:
    return settings.models_dir / f"{MODEL_NAME}.tar.gz"


def train_command(settings: Settings, *, force: bool = False) -> list[str]:
    root = settings.repo_root
    argv = [
        venv_bin("rasa"), "train",
        "--domain", str(root / "domain"),
        "--data", str(root / "data"),
        "--config", str(root / "config.yml"),
        "--out", str(settings.models_dir),
        "--fixed-model-name", MODEL_NAME,
    ]  # fmt: skip
    if force:
        argv.append("--force")
    return argv


def train(settings: Settings, *, force: bool = False, echo: Callable[[str], None] = print) -> Path:
    """Train unless data and config are unchanged since the last model (Rasa fingerprints)."""
    settings.tracker_db_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        train_command(settings, force=force),
        cwd=settings.repo_root,
        env={**os.environ, **rasa_environment(settings)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    noise = WarningNoiseFilter()
    for line in proc.stdout:
        if noise.keep(line.rstrip()):
            echo(f"train | {line.rstrip()}")
    if proc.wait() != 0:
        raise RuntimeError(f"rasa train failed with exit code {proc.returncode}")
    return model_path(settings)


def stack_specs(settings: Settings, environ: Mapping[str, str] | None = None) -> list[ProcessSpec]:
    """The three processes. They inherit the supervisor's environment; settings built in code
    (tests, benchmarks) reach them as `environ`, e.g. `settings.to_env()`."""
    root = settings.repo_root
    env = {**(environ or {}), **rasa_environment(settings)}
    actions = ProcessSpec(
        name="actions",
        argv=[venv_bin("rasa"), "run", "actions", "--actions", "actions",
              "--port", str(settings.action_port)],
        health_url=f"http://127.0.0.1:{settings.action_port}/health",
        # rasa-sdk binds 0.0.0.0 unless told otherwise; the action server has no auth of its
        # own, so only Rasa on this host may reach it.
        env={**env, "SANIC_HOST": "127.0.0.1"},
        cwd=str(root),
    )  # fmt: skip
    rasa = ProcessSpec(
        name="rasa",
        # `rasa run` through bot/processes/rasa_server.py, which adds `--auth-token` from
        # RASA_TOKEN inside the process: a command line is visible to every user in `ps`.
        argv=[
            venv_bin("python"), "-m", "bot.processes.rasa_server", "run",
            "--enable-api",
            "--interface", settings.rasa_host, "--port", str(settings.rasa_port),
            "--credentials", str(root / "credentials.yml"),
            "--endpoints", str(settings.endpoints_file),
            "--model", str(model_path(settings)),
            "--cors", "*",
        ],
        # The token in the URL stays inside the supervisor (it shows and stores the URL
        # without its query string).
        health_url=f"{settings.rasa_url}/status?token={settings.rasa_token}",
        env=env,
        cwd=str(root),
    )  # fmt: skip
    bridge = ProcessSpec(
        name="bridge",
        argv=[venv_bin("relaydesk"), "bridge"],
        health_url=f"http://127.0.0.1:{settings.bridge_port}/health",
        env=env,
        cwd=str(root),
        ready_timeout=60,
    )
    return [actions, rasa, bridge]
