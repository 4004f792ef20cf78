"""mypy, configured in pyproject.toml ([tool.mypy]: SQLAlchemy and pydantic plugins), passes.

It runs in a subprocess so that `make test` (and so CI's .ci/run) type-checks exactly what a
developer's `.venv/bin/mypy` does, with the same configuration and nothing else.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=540,
    )


def test_mypy_passes_on_bot_actions_channels_and_handoff() -> None:
    result = _mypy()  # the packages come from [tool.mypy] files
    assert result.returncode == 0, f"mypy found errors:\n{result.stdout}{result.stderr}"


# Without the SQLAlchemy plugin, `class Row(Base)` is an error and `row.name` is untyped; with
# it, the column's Python type is known and a wrong use is reported.
_MODEL_MISUSE = """\
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Row(Base):
    __tablename__ = "rows"
    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False)


count: int = Row(id=1, name="a").name
"""


def test_the_sqlalchemy_plugin_is_active(tmp_path: Path) -> None:
    sample = tmp_path / "model_misuse.py"
    sample.write_text(_MODEL_MISUSE, encoding="utf-8")
    result = _mypy(str(sample))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert 'expression has type "str | None", variable has type "int"' in output, output
    assert "not valid as a type" not in output, output
