"""Rasa's own checks: training data validation and the conversation test suites."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bot.processes.stack import rasa_environment, venv_bin
from tests.conftest import REPO_ROOT, RunningStack


def run_rasa(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_bin("rasa"), *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_rasa_data_validate() -> None:
    from bot.settings import Settings

    result = run_rasa(
        ["data", "validate", "--domain", "domain", "--data", "data", "--fail-on-warnings"],
        rasa_environment(Settings.from_env({})),
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.integration
def test_conversation_suites(rasa_stack: RunningStack, trained_model: Path, tmp_path: Path) -> None:
    """Every story in tests/conversations/ is predicted exactly (intents, entities, actions)."""
    env = rasa_environment(rasa_stack.settings)
    env["RASA_TRACKER_DB"] = str(tmp_path / "tracker.db")
    result = run_rasa(
        [
            "test", "core",
            "--model", str(trained_model),
            "--stories", "tests/conversations",
            "--endpoints", "endpoints.yml",
            "--out", str(tmp_path / "results"),
            "--fail-on-prediction-errors",
        ],
        env,
    )  # fmt: skip
    failed = tmp_path / "results" / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, details[-6000:] + result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "results" / "story_report.json").read_text())
    suites = (REPO_ROOT / "tests" / "conversations").glob("*.yml")
    expected = sum(path.read_text().count("- story:") for path in suites)
    assert report["conversation_accuracy"]["total"] == expected
    assert report["conversation_accuracy"]["accuracy"] == 1.0
