"""The floor plan, enforced: dependencies between our packages point one way.

Every .py file under bot/, actions/, channels/ and handoff/ is parsed with `ast`; each
`import` and `from ... import` anywhere in it (function bodies and `if TYPE_CHECKING:` blocks
too: a type-only import is still a dependency) is resolved, relative imports included, to the
module it names. Then:

(a) the pure domain (bot/domain/, handoff/domain/) imports only the standard library and other
    domain modules, and so do the text helpers the ticket store shares with the adapters
    (handoff/mrkdwn.py, handoff/rasa_events.py);
(b) nothing under handoff/bridge/ reaches rasa or rasa_sdk, directly or through our own modules
    (the transitive closure of the static graph), and importing the bridge loads neither;
(c) layers point one way, domain <- stores & files <- adapters <- entry points, and adapters
    that run in different processes do not import each other (the tables below).

docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("bot", "actions", "channels", "handoff")

# ---------------------------------------------------------------------------------------------
# The rule tables. A module belongs to the entry with the longest matching dotted prefix.

DOMAIN, STORES, ADAPTERS, ENTRY_POINTS = "domain", "stores & files", "adapters", "entry points"
RANK = {DOMAIN: 0, STORES: 1, ADAPTERS: 2, ENTRY_POINTS: 3}  # may import equal or lower rank

LAYERS: dict[str, str] = {
    "bot.domain": DOMAIN,
    "handoff.domain": DOMAIN,
    # The one internal message shape every connector parses into and renders from, and its
    # text rules: plain value types, which the channel store (bot.store) keeps in SQL.
    "channels.core.messages": DOMAIN,
    "channels.core.text": DOMAIN,
    "bot.store": STORES,
    "handoff.store": STORES,
    "bot.knowledge": STORES,
    "bot.settings": STORES,  # configuration read from the environment, no I/O beyond it
    # Pure text helpers that the ticket store and the adapters share (see STDLIB_ONLY).
    "handoff.mrkdwn": STORES,  # Slack mrkdwn text: the ticket store queues thread lines in it
    "handoff.rasa_events": STORES,  # Rasa's event dicts read into transcript lines
    "actions": ADAPTERS,
    "channels": ADAPTERS,
    "handoff.action_server": ADAPTERS,
    "handoff.bridge": ADAPTERS,
    "bot.rasa_plugins": ADAPTERS,
    "bot.nlu_eval": ADAPTERS,  # drives a Rasa agent over a test file
    "bot.platforms": ADAPTERS,  # store platforms (Shopify): webhooks in, their API out
    "bot.cli": ENTRY_POINTS,
    "bot.processes": ENTRY_POINTS,
    "handoff.agent_cli": ENTRY_POINTS,
}
# Namespace-like package roots: only docstrings, in no layer.
UNLAYERED = frozenset({"bot", "handoff"})

# Same-layer imports that are still wrong: (importer prefix, imported prefix, why).
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("channels", "actions", "connectors run in the Rasa server, actions in the action server"),
    ("channels", "handoff.bridge", "connectors run in the Rasa server, not in the bridge"),
    ("channels", "handoff.action_server", "that code runs in the action server"),
    ("actions", "channels", "actions run in the action server, connectors in the Rasa server"),
    ("actions", "handoff.bridge", "actions run in the action server, not in the bridge"),
    ("handoff.action_server", "channels", "it runs in the action server"),
    ("handoff.action_server", "handoff.bridge", "it runs in the action server"),
    ("handoff.bridge", "actions", "the bridge is its own process"),
    ("handoff.bridge", "channels", "the bridge is its own process"),
    ("handoff.bridge", "handoff.action_server", "the bridge is its own process"),
    ("handoff.bridge", "bot.rasa_plugins", "the bridge is its own process"),
    ("bot.rasa_plugins", "actions", "plugins run in the Rasa server"),
    ("bot.rasa_plugins", "handoff.bridge", "plugins run in the Rasa server"),
    ("bot.store", "handoff", "handoff.store builds on bot.store (one Base), not the reverse"),
)

# Allowed although a rule above forbids them: (importer module, imported module, why).
EXCEPTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "bot.store.migrations.env",
        "handoff.store.models",
        "Alembic's entry point registers every table, handoff's included",
    ),
)

PURE_DOMAIN = ("bot.domain", "handoff.domain")
# Modules that may import only the standard library and these of our modules.
STDLIB_ONLY: dict[str, tuple[str, ...]] = {
    "bot.domain": PURE_DOMAIN,
    "handoff.domain": PURE_DOMAIN,
    "handoff.mrkdwn": PURE_DOMAIN,
    "handoff.rasa_events": PURE_DOMAIN,
    "channels.core.messages": (*PURE_DOMAIN, "channels.core.messages"),
    "channels.core.text": (*PURE_DOMAIN, "channels.core.messages"),
}
BRIDGE = "handoff.bridge"
NOT_IN_BRIDGE = ("rasa", "rasa_sdk")


# ---------------------------------------------------------------------------------------------
# The import graph.


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def where(self) -> str:
        return str(self.path.relative_to(ROOT))


@dataclass(frozen=True)
class Edge:
    source: Module
    target: str  # dotted name of the imported module, ours or third-party
    line: int
    statement: str

    def describe(self) -> str:
        return f"{self.source.where}:{self.line}: {self.statement}"


def is_within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_name(path: Path, root: Path = ROOT) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def resolve(
    importer: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: Iterable[str]
) -> list[str]:
    """The modules one import statement names, as absolute dotted names.

    `from pkg import name` names `pkg.name` when that is a module we know, else `pkg` (a name
    defined in it). Relative imports count from the importer's package. Raises ImportError
    for a relative import that climbs above the top-level package.
    """
    known = set(known)
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        if node.level - 1 >= len(package):
            raise ImportError(f"relative import beyond the top-level package in {importer}")
        base_parts = package[: len(package) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        targets.append(candidate if candidate in known else base)
    return list(dict.fromkeys(targets))


def _statement(node: ast.Import | ast.ImportFrom) -> str:
    return ast.unparse(node)


@cache
def own_modules() -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package in OWN_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name, is_package = module_name(path)
            modules[name] = Module(name, path, is_package)
    return modules


@cache
def edges() -> tuple[Edge, ...]:
    modules = own_modules()
    found: list[Edge] = []
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in resolve(module.name, module.is_package, node, modules):
                    found.append(Edge(module, target, node.lineno, _statement(node)))
    return tuple(found)


def is_own(name: str) -> bool:
    return name.partition(".")[0] in OWN_PACKAGES


def layer_of(name: str) -> str | None:
    matches = [prefix for prefix in LAYERS if is_within(name, prefix)]
    return LAYERS[max(matches, key=len)] if matches else None


def is_exception(edge: Edge) -> bool:
    return any(
        edge.source.name == importer and is_within(edge.target, imported)
        for importer, imported, _why in EXCEPTIONS
    )


def loaded_with(name: str, modules: dict[str, Module]) -> Iterator[str]:
    """`import a.b.c` runs a/__init__.py and a/b/__init__.py first: those count as imported."""
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if prefix in modules or end == len(parts):
            yield prefix


# ---------------------------------------------------------------------------------------------
# The rules.


def stdlib_only_violations(graph: Iterable[Edge]) -> list[str]:
    problems = []
    for edge in graph:
        owners = [prefix for prefix in STDLIB_ONLY if is_within(edge.source.name, prefix)]
        if not owners or edge.target.partition(".")[0] in sys.stdlib_module_names:
            continue
        allowed = STDLIB_ONLY[max(owners, key=len)]
        if any(is_within(edge.target, prefix) for prefix in allowed):
            continue
        problems.append(
            f"{edge.describe()}  -- {edge.source.name} imports only the standard library and "
            f"{' / '.join(allowed)}, not {edge.target}"
        )
    return problems


def bridge_rasa_paths(modules: dict[str, Module], graph: Iterable[Edge]) -> list[str]:
    """Each way a handoff.bridge module reaches rasa/rasa_sdk, as a chain of imports."""
    by_source: dict[str, list[Edge]] = {}
    for edge in graph:
        by_source.setdefault(edge.source.name, []).append(edge)
    problems = []
    for start in sorted(name for name in modules if is_within(name, BRIDGE)):
        # Breadth-first over our modules; the chain is the first route found to each.
        route: dict[str, list[Edge]] = {start: []}
        queue = [start]
        while queue:
            current = queue.pop(0)
            for edge in by_source.get(current, []):
                for target in loaded_with(edge.target, modules):
                    if target.partition(".")[0] in NOT_IN_BRIDGE:
                        chain = " -> ".join(e.describe() for e in [*route[current], edge])
                        problems.append(f"{start} reaches {edge.target}: {chain}")
                    elif target in modules and target not in route:
                        route[target] = [*route[current], edge]
                        queue.append(target)
    return sorted(set(problems))


def layer_violations(graph: Iterable[Edge]) -> list[str]:
    problems = []
    for edge in graph:
        if not is_own(edge.target) or is_exception(edge):
            continue
        source_layer, target_layer = layer_of(edge.source.name), layer_of(edge.target)
        if source_layer and target_layer and RANK[target_layer] > RANK[source_layer]:
            problems.append(
                f"{edge.describe()}  -- {source_layer} ({edge.source.name}) must not import "
                f"{target_layer} ({edge.target})"
            )
        for importer, imported, why in FORBIDDEN:
            if is_within(edge.source.name, importer) and is_within(edge.target, imported):
                problems.append(
                    f"{edge.describe()}  -- {importer} must not import {imported}: {why}"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# Tests of the code.


def test_every_module_is_placed_in_a_layer() -> None:
    unplaced = [
        m.where for m in own_modules().values() if m.name not in UNLAYERED and not layer_of(m.name)
    ]
    assert not unplaced, "add these to LAYERS in tests/test_architecture.py:\n" + "\n".join(
        unplaced
    )


def test_the_pure_domain_imports_only_the_standard_library_and_the_domain() -> None:
    problems = stdlib_only_violations(edges())
    assert not problems, "\n".join(problems)


def test_the_bridge_never_reaches_rasa_through_our_modules() -> None:
    problems = bridge_rasa_paths(own_modules(), edges())
    assert not problems, "\n".join(problems)


def test_importing_the_bridge_loads_neither_rasa_nor_rasa_sdk() -> None:
    # A fresh interpreter, so nothing this test session imported counts; every bridge module
    # is imported, as the bridge process may load any of them.
    bridge = sorted(name for name in own_modules() if is_within(name, BRIDGE))
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {bridge!r}:
            importlib.import_module(name)
        loaded = sorted(m for m in sys.modules if m.partition(".")[0] in {NOT_IN_BRIDGE!r})
        print("\\n".join(loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"loaded by the bridge:\n{result.stdout}"


def test_layers_point_one_way() -> None:
    problems = layer_violations(edges())
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Tests of the machinery.

KNOWN = {
    "bot",
    "bot.store",
    "bot.store.models",
    "bot.store.seed",
    "bot.settings",
    "bot.domain",
    "bot.domain.views",
}


@pytest.mark.parametrize(
    ("importer", "is_package", "source", "expected"),
    [
        ("bot.store.seed", False, "import sqlalchemy.orm", ["sqlalchemy.orm"]),
        ("bot.store.seed", False, "import os, json as j", ["os", "json"]),
        ("bot.store.seed", False, "from .models import Base", ["bot.store.models"]),
        ("bot.store.seed", False, "from . import models", ["bot.store.models"]),
        ("bot.store.seed", False, "from . import Base", ["bot.store"]),  # a name, not a module
        ("bot.store.seed", False, "from .. import settings", ["bot.settings"]),
        ("bot.store.seed", False, "from ..domain.views import OrderView", ["bot.domain.views"]),
        ("bot.store", True, "from . import models, seed", ["bot.store.models", "bot.store.seed"]),
        ("bot.store", True, "from .models import Base", ["bot.store.models"]),
        ("bot.store", True, "from .. import settings", ["bot.settings"]),
        ("bot.store.seed", False, "from bot.store import models", ["bot.store.models"]),
        ("bot.store.seed", False, "from bot.store.models import Base", ["bot.store.models"]),
        ("bot.store.seed", False, "from yaml import safe_load", ["yaml"]),
        ("bot.store.seed", False, "from __future__ import annotations", ["__future__"]),
    ],
)
def test_resolve(importer: str, is_package: bool, source: str, expected: list[str]) -> None:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.Import | ast.ImportFrom)
    assert resolve(importer, is_package, node, KNOWN) == expected


@pytest.mark.parametrize(
    ("importer", "is_package", "source"),
    [
        ("bot.settings", False, "from ... import x"),
        ("bot", True, "from .. import x"),
    ],
)
def test_resolve_refuses_to_climb_above_the_top(
    importer: str, is_package: bool, source: str
) -> None:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.ImportFrom)
    with pytest.raises(ImportError):
        resolve(importer, is_package, node, KNOWN)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("bot/store/seed.py", ("bot.store.seed", False)),
        ("bot/store/__init__.py", ("bot.store", True)),
        ("handoff/agent_cli.py", ("handoff.agent_cli", False)),
    ],
)
def test_module_name(path: str, expected: tuple[str, bool]) -> None:
    assert module_name(ROOT / path) == expected


def test_imports_inside_functions_are_found() -> None:
    tree = ast.parse("def f():\n    from rasa.core import agent\n")
    found = [
        resolve("handoff.bridge.app", False, node, KNOWN)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert found == [["rasa.core"]]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bot.domain.views", DOMAIN),
        ("bot.store.migrations.env", STORES),
        ("handoff.bridge.app", ADAPTERS),
        ("handoff.agent_cli", ENTRY_POINTS),
        ("bot.processes.supervisor", ENTRY_POINTS),
        ("bot.domainish", None),  # prefixes match whole dotted parts only
        ("sqlalchemy", None),
    ],
)
def test_layer_of(name: str, expected: str | None) -> None:
    assert layer_of(name) == expected


def test_loaded_with_counts_parent_packages() -> None:
    modules = {name: Module(name, ROOT, True) for name in ("handoff", "handoff.store")}
    assert list(loaded_with("handoff.store.tickets", modules)) == [
        "handoff",
        "handoff.store",
        "handoff.store.tickets",
    ]
    assert list(loaded_with("rasa.core.agent", modules)) == ["rasa.core.agent"]


def _graph(*pairs: tuple[str, str]) -> tuple[dict[str, Module], list[Edge]]:
    names = {name for pair in pairs for name in pair if is_own(name)}
    modules = {name: Module(name, ROOT / "x.py", False) for name in names}
    graph = [Edge(modules[source], target, 1, f"import {target}") for source, target in pairs]
    return modules, graph


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        ("bot.domain.returns", "datetime", False),
        ("bot.domain.returns", "handoff.domain.hours", False),
        ("bot.domain.returns", "yaml", True),
        ("handoff.domain.hours", "bot.store.models", True),
        ("handoff.domain.hours", "sqlalchemy.orm", True),
        ("handoff.mrkdwn", "handoff.domain.transcript", False),
        ("handoff.mrkdwn", "slack_sdk", True),
        ("bot.store.models", "sqlalchemy", False),  # not a stdlib-only module
    ],
)
def test_stdlib_only_rule(importer: str, imported: str, broken: bool) -> None:
    _, graph = _graph((importer, imported))
    assert bool(stdlib_only_violations(graph)) == broken


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        ("bot.store.models", "bot.domain.views", False),
        ("bot.store.models", "channels.core.channel", True),
        ("bot.store.seed", "actions.services", True),
        ("bot.store.seed", "handoff.store.models", True),
        ("bot.store.migrations.env", "handoff.store.models", False),  # EXCEPTIONS
        ("handoff.store.tickets", "bot.store.models", False),
        ("channels.core.channel", "bot.store.database", False),
        ("channels.core.channel", "actions.services", True),
        ("channels.core.channel", "handoff.bridge.app", True),
        ("actions.handoff", "handoff.store.tickets", False),
        ("actions.handoff", "channels.core.text", True),
        ("actions.handoff", "handoff.bridge.cards", True),
        ("handoff.bridge.app", "bot.processes.supervisor", True),
        ("channels.core.channel", "bot.cli", True),
        ("bot.cli", "channels.webchat.embedding", False),
        ("bot.processes.stack", "bot.cli", False),
        ("bot.knowledge.retrieval", "bot.rasa_plugins.minilm", True),
    ],
)
def test_layer_rules(importer: str, imported: str, broken: bool) -> None:
    _, graph = _graph((importer, imported))
    assert bool(layer_violations(graph)) == broken


def test_bridge_rule_follows_our_modules_and_parent_packages() -> None:
    modules, graph = _graph(
        ("handoff.bridge.app", "handoff.store.tickets"),
        ("handoff.store.tickets", "bot.store.models"),
        ("bot.store", "rasa.shared.core.events"),  # run by importing bot.store.models
        ("handoff.bridge.cards", "aiohttp"),
    )
    problems = bridge_rasa_paths(modules, graph)
    assert len(problems) == 1
    assert problems[0].startswith("handoff.bridge.app reaches rasa.shared.core.events: ")
    assert problems[0].count(" -> ") == 2


def test_bridge_rule_passes_a_clean_graph() -> None:
    modules, graph = _graph(
        ("handoff.bridge.app", "handoff.store.tickets"),
        ("handoff.store.tickets", "sqlalchemy"),
        ("actions.handoff", "rasa_sdk"),  # not reachable from the bridge
    )
    assert bridge_rasa_paths(modules, graph) == []
