"""The fault tests' own stack: they kill its processes, so it is never the session stack the
other integration tests share (tests/conftest.py `rasa_stack`).

One stack per test module (Rasa + action server + bridge on a fresh store, every channel
against a private fake provider server, the handoff against a private fake Slack). Before each
test every process must answer its health check; a test that left one down gets it restarted
(and the stack's logs are kept in the module's temporary directory).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.processes.supervisor import is_healthy
from bot.settings import Settings
from bot.store.database import Database
from tests.conftest import SLACK_AGENTS, RunningStack, free_port, running_stack
from tests.faults.helpers import RESULTS, FaultyProviders, eventually, spec_of, wait_healthy
from tests.handoff.fake_slack import FakeSlack

PROCESSES = ("actions", "rasa", "bridge")


@dataclass
class FaultStack:
    stack: RunningStack
    providers: FaultyProviders
    slack: FakeSlack
    store: Database
    workdir: Path

    @property
    def supervisor(self):  # type: ignore[no-untyped-def]
        return self.stack.supervisor

    @property
    def rasa_url(self) -> str:
        return self.stack.rasa_url

    def logs(self, name: str, tail: int = 4000) -> str:
        path = self.stack.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""


@pytest.fixture(scope="module")
def fault_stack(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStack]:
    workdir = tmp_path_factory.mktemp("faults")
    rasa_port = free_port()
    with FaultyProviders() as providers, FakeSlack(users=SLACK_AGENTS) as slack:
        settings = Settings.from_env({}).replace(
            database_url=f"sqlite:///{workdir / 'store.db'}",
            tracker_db_path=workdir / "tracker.db",
            rasa_port=rasa_port,
            action_port=free_port(),
            bridge_port=free_port(),
            rasa_token=uuid.uuid4().hex,
            public_url=f"http://127.0.0.1:{rasa_port}",
        )
        settings = providers.configure(settings)
        settings = slack.configure(settings, workdir, agents=frozenset(SLACK_AGENTS))
        with running_stack(settings, workdir) as stack:
            store = Database(settings.database_url)
            try:
                yield FaultStack(stack, providers, slack, store, workdir)
            finally:
                store.dispose()


@pytest.fixture
def faults(fault_stack: FaultStack) -> Iterator[FaultStack]:
    """The module's stack, every process up and no provider fault left over."""
    supervisor = fault_stack.supervisor
    for name in PROCESSES:
        spec = spec_of(supervisor, name)
        # A test that failed half-way may have left one down (or the supervisor is still
        # bringing it back): give it a moment, then start it ourselves.
        if not eventually(lambda spec=spec: is_healthy(spec.health_url), timeout=30):
            supervisor.restart(name)
        wait_healthy(spec, timeout=120)
    fault_stack.providers.reset_faults()
    fault_stack.providers.retry_after = None
    fault_stack.slack.set_outage(False)
    yield fault_stack
    fault_stack.providers.reset_faults()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not RESULTS:
        return
    terminalreporter.section("fault-injection figures")
    for tally in RESULTS:
        terminalreporter.write_line(tally.line())
