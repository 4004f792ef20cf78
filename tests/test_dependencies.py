"""pyproject.toml declares what the code imports; requirements/lock.txt pins nothing unused.

Both checks are scripts a developer runs by hand too (requirements/README.md); here they run on
every `make test` so the three (imports, declarations, lock) cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _load_check_lock() -> ModuleType:
    # scripts/ is not a package; load the file the way `python scripts/check_lock.py` would.
    spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


check_lock = _load_check_lock()


def test_imports_declarations_and_lock_agree() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_lock.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_relock_would_not_change_the_lock() -> None:
    venv = Path(sys.executable).parent.parent
    result = subprocess.run(
        [str(ROOT / "scripts" / "relock"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "RELAYDESK_VENV": str(venv)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("root", "needed", "not_needed"),
    [
        # Reached only through Rasa's `python_version < "3.11"` markers (README: hand install).
        ("rasa==3.6.21", {"numpy", "scipy", "scikit-learn", "dask", "tensorflow"}, set()),
        # An extra's requirements count only when the extra is asked for.
        ("pymongo", {"pymongo", "dnspython"}, {"requests"}),
        ("pymongo[ocsp]", {"pymongo", "requests"}, set()),
        ("pyjwt[crypto]", {"pyjwt", "cryptography", "cffi", "pycparser"}, set()),
        # Transitive: tokenizers -> huggingface_hub -> httpx2 -> httpcore2.
        ("tokenizers", {"huggingface-hub", "httpx2", "httpcore2"}, {"honcho"}),
    ],
)
def test_required_closure(root: str, needed: set[str], not_needed: set[str]) -> None:
    closure = check_lock.required_closure([Requirement(root)])
    assert needed <= closure
    assert not (not_needed & closure)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("PyYAML==6.0.3", ("pyyaml", "6.0.3")),
        ("ruamel.yaml==0.17.21  # comment", ("ruamel-yaml", "0.17.21")),
        ("slack_sdk==3.47.0", ("slack-sdk", "3.47.0")),
    ],
)
def test_read_lock(tmp_path: Path, line: str, expected: tuple[str, str]) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(f"# header\n\n{line}\n", encoding="utf-8")
    pins = check_lock.read_lock(lock)
    name, version = expected
    assert list(pins) == [name]
    assert str(pins[name][1]) == version


def test_read_lock_refuses_a_range(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("requests>=2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an exact pin"):
        check_lock.read_lock(lock)
