#!/usr/bin/env python3
"""Checks that pyproject.toml, requirements/lock.txt and the code's imports agree.

Run it with the project's interpreter (it reads the installed packages' metadata):
    .venv/bin/python scripts/check_lock.py

It reports, and exits 1 on, any of:
- a third-party module the code imports whose distribution pyproject.toml does not declare;
- a declared requirement that the lock does not pin, or whose range excludes the pin;
- a lock entry that is *unused*: neither declared nor required, directly or through other
  requirements, by anything declared. The requirement graph comes from the installed
  distributions' metadata, so it must run in the venv `scripts/setup` built from the lock;
- a lock entry that is not installed, or installed at another version, and an installed
  distribution that the lock does not pin (so the graph above is the lock's graph).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
PYPROJECT = ROOT / "pyproject.toml"

# Everything with Python source that runs from this repository, tests included: their
# imports must be declared too (tests' through the `test` extra).
SOURCE_DIRS = ("bot", "actions", "channels", "handoff", "scripts", "bench", "tests")
OWN_TOP_LEVEL = frozenset(SOURCE_DIRS)


def _canonical(name: str) -> str:
    return str(canonicalize_name(name))


# Installed by scripts/setup outside the lock (Rasa cannot be resolved on Python 3.11, see
# requirements/README.md), or the installer and the project itself.
NOT_IN_LOCK = frozenset(_canonical(n) for n in ("rasa", "rasa-sdk", "pip", "relaydesk"))

# Imports that are deliberately not installed, with the reason.
UNINSTALLED_IMPORTS: dict[str, str] = {
    # Regenerates a test fixture by hand, in an environment of its own: sentence-transformers
    # pulls in PyTorch, which clashes with TensorFlow 2.12 (requirements/README.md).
    "sentence_transformers": "tests/nlu/fixtures/make_minilm_reference.py",
}

# Rasa 3.6 declares `Requires-Python <3.11` and lists numpy, scipy, scikit-learn and dask
# only under `python_version < "3.11"` markers; we run it on 3.11 anyway. For a distribution
# installed against its Requires-Python, markers are read as on the newest Python it allows.
NEWEST_SUPPORTED_PYTHON = "3.10"


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.problems.append(text)


def read_lock(path: Path = LOCK) -> dict[str, tuple[str, Version]]:
    """Canonical name -> (name as written, pinned version)."""
    pins: dict[str, tuple[str, Version]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"{path.name}: not an exact pin: {raw!r}")
        pins[_canonical(name)] = (name.strip(), Version(version.strip()))
    return pins


def declared_requirements(path: Path = PYPROJECT) -> list[Requirement]:
    """The project's dependencies and every optional extra's."""
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    texts: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        texts.extend(extra)
    return [Requirement(text) for text in texts]


def python_files(root: Path = ROOT, dirs: Iterable[str] = SOURCE_DIRS) -> Iterator[Path]:
    for name in dirs:
        yield from sorted((root / name).rglob("*.py"))


def imported_top_level(files: Iterable[Path]) -> dict[str, set[Path]]:
    """Top-level names of absolute imports anywhere in the files (function bodies too)."""
    found: dict[str, set[Path]] = {}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.partition(".")[0], set()).add(path)
    return found


def third_party(imports: dict[str, set[Path]]) -> dict[str, set[Path]]:
    return {
        name: paths
        for name, paths in imports.items()
        if name not in sys.stdlib_module_names and name not in OWN_TOP_LEVEL
    }


def _marker_environments(
    dist: metadata.Distribution, extras: frozenset[str]
) -> list[dict[str, str]]:
    base: dict[str, str] = {}
    requires_python = (dist.metadata.get_all("Requires-Python") or [None])[0]
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if requires_python and not SpecifierSet(requires_python).contains(current):
        base = {
            "python_version": NEWEST_SUPPORTED_PYTHON,
            "python_full_version": f"{NEWEST_SUPPORTED_PYTHON}.99",
        }
    return [{**base, "extra": extra} for extra in sorted(extras | {""})]


def _applies(marker: Marker | None, environments: list[dict[str, str]]) -> bool:
    return marker is None or any(marker.evaluate(env) for env in environments)


def required_closure(roots: Iterable[Requirement]) -> set[str]:
    """Canonical names of the installed distributions the roots need, transitively."""
    installed = {_canonical(d.metadata["Name"]): d for d in metadata.distributions()}
    needed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    queue: deque[tuple[str, frozenset[str]]] = deque(
        (_canonical(r.name), frozenset(r.extras))
        for r in roots
        if _applies(r.marker, [{"extra": ""}])
    )
    while queue:
        name, extras = queue.popleft()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        dist = installed.get(name)
        if dist is None:
            continue  # pip check (scripts/setup) reports missing requirements
        environments = _marker_environments(dist, extras)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if _applies(requirement.marker, environments):
                queue.append((_canonical(requirement.name), frozenset(requirement.extras)))
    return needed


def module_owners() -> dict[str, list[str]]:
    """Top-level import name -> canonical names of the installed distributions providing it."""
    return {
        module: sorted({_canonical(d) for d in dists})
        for module, dists in metadata.packages_distributions().items()
    }


def check(root: Path = ROOT) -> Report:
    report = Report()
    pins = read_lock(root / "requirements" / "lock.txt")
    declared = declared_requirements(root / "pyproject.toml")
    declared_names = {_canonical(r.name) for r in declared}
    owners = module_owners()

    imports = third_party(imported_top_level(python_files(root)))
    for module, paths in sorted(imports.items()):
        where = ", ".join(sorted(str(p.relative_to(root)) for p in paths)[:3])
        if module in UNINSTALLED_IMPORTS:
            continue
        dists = owners.get(module)
        if not dists:
            report.add(f"import {module!r} ({where}): no installed distribution provides it")
        elif not declared_names.intersection(dists):
            report.add(
                f"import {module!r} ({where}): {' or '.join(dists)} is not declared in "
                "pyproject.toml"
            )

    for requirement in declared:
        name = _canonical(requirement.name)
        if name in NOT_IN_LOCK:
            continue
        if name not in pins:
            report.add(f"pyproject.toml declares {requirement}, which lock.txt does not pin")
        elif not requirement.specifier.contains(pins[name][1], prereleases=True):
            report.add(f"pyproject.toml declares {requirement}, but lock.txt pins {pins[name][1]}")

    installed = {
        _canonical(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()
    }
    for name, (written, version) in sorted(pins.items()):
        if name not in installed:
            report.add(f"lock.txt pins {written}=={version}, which is not installed")
        elif installed[name] != version:
            report.add(f"lock.txt pins {written}=={version}, but {installed[name]} is installed")
    for name in sorted(set(installed) - set(pins) - NOT_IN_LOCK):
        report.add(f"{name}=={installed[name]} is installed but lock.txt does not pin it")

    needed = required_closure(declared)
    for name, (written, version) in sorted(pins.items()):
        if name not in needed:
            report.add(
                f"lock.txt pins {written}=={version}, which nothing declared imports or requires"
            )
    return report


def main() -> int:
    report = check()
    for problem in report.problems:
        print(problem)
    if report.problems:
        print(f"check_lock: {len(report.problems)} problem(s)", file=sys.stderr)
        return 1
    print("check_lock: pyproject.toml, requirements/lock.txt and the imports agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
