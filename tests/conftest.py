"""Shared fixtures.

The model is trained once per test run (and not at all when data and config are unchanged:
Rasa fingerprints them), and one stack (Rasa + action server + bridge) on a fresh store serves
every integration test of the session.
"""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from bot.settings import Settings

if TYPE_CHECKING:
    from tests.channels.fake_providers import FakeProviders
    from tests.handoff.fake_slack import FakeSlack

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared is missing: expected it at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.processes.stack import train

    lines: list[str] = []
    try:
        return train(Settings.from_env({}), echo=lines.append)
    except RuntimeError:
        sys.stderr.write("\n".join(lines[-60:]))
        raise


@dataclass(frozen=True)
class RunningStack:
    settings: Settings
    log_dir: Path
    supervisor: Any  # bot.processes.supervisor.Supervisor (imported lazily)

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa_url

    @property
    def webchat_url(self) -> str:
        return self.settings.webchat_url

    @property
    def token(self) -> str:
        return self.settings.rasa_token

    @property
    def slack_events_url(self) -> str:
        """The bridge's Slack endpoint (events and interactivity)."""
        return f"http://127.0.0.1:{self.settings.bridge_port}/slack/events"

    @property
    def json_api_url(self) -> str:
        return f"{self.rasa_url}/webhooks/jsonapi/webhook"

    def say(
        self,
        sender: str,
        text: str,
        timeout: float = 30,
        metadata: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One shopper message through the JSON endpoint (channels/jsonapi/, with the stack's
        secret); returns the bot's messages. Its sender ids are the tracker ids."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        response = requests.post(
            self.json_api_url,
            json=body,
            headers={"Authorization": f"Bearer {self.settings.json_api.secret}"},
            timeout=timeout,
        )
        response.raise_for_status()
        return list(response.json())

    def tracker(self, sender: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.rasa_url}/conversations/{sender}/tracker",
            params={"token": self.token},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())


@pytest.fixture(scope="session")
def fake_providers() -> Iterator[FakeProviders]:
    """Fake Twilio, Graph and Telegram APIs (tests/channels/fake_providers.py) for the session."""
    from tests.channels.fake_providers import FakeProviders

    with FakeProviders() as fake:
        yield fake


#: Slack users the session stack accepts as agents (SLACK_ALLOWED_USER_IDS) and their names.
SLACK_AGENTS = {"W111": "Maya Lopez", "W222": "Sam Okoro"}


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    """A local fake of Slack's Web API (tests/handoff/fake_slack.py) for the session's bridge."""
    from tests.handoff.fake_slack import FakeSlack

    with FakeSlack(users=SLACK_AGENTS) as fake:
        yield fake


@pytest.fixture(scope="session")
def json_api_secret() -> str:
    """The session stack's JSON_API_SECRET (a fresh one per run, like the Rasa token)."""
    return uuid.uuid4().hex


@pytest.fixture(scope="session")
def rasa_stack(
    trained_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fake_providers: FakeProviders,
    fake_slack: FakeSlack,
    json_api_secret: str,
) -> Iterator[RunningStack]:
    workdir = tmp_path_factory.mktemp("stack")
    rasa_port = free_port()
    settings = Settings.from_env({}).replace(
        database_url=f"sqlite:///{workdir / 'store.db'}",
        tracker_db_path=workdir / "tracker.db",
        rasa_port=rasa_port,
        action_port=free_port(),
        bridge_port=free_port(),
        rasa_token=uuid.uuid4().hex,
        json_api={"secret": json_api_secret},
        public_url=f"http://127.0.0.1:{rasa_port}",
    )
    # Every messaging channel is configured, against the fake providers.
    settings = fake_providers.configure(settings)
    # The handoff: Slack is the fake (signing secret from Slack's published test vector),
    # agents are always on duty, and Rasa's event broker writes into the workdir.
    settings = fake_slack.configure(settings, workdir, agents=frozenset(SLACK_AGENTS))
    with running_stack(settings, workdir) as stack:
        yield stack


@contextmanager
def running_stack(settings: Settings, workdir: Path) -> Iterator[RunningStack]:
    """The store prepared and the three processes started and healthy under a supervisor,
    exactly as `relaydesk run` starts them; all stopped on exit."""
    from bot.cli import prepare_store
    from bot.processes.stack import stack_specs
    from bot.processes.supervisor import Supervisor

    prepare_store(settings)
    log_dir = workdir / "logs"
    with open(workdir / "supervisor.log", "w") as output:
        # The processes see these settings, not the test run's environment.
        specs = stack_specs(settings, settings.to_env())
        supervisor = Supervisor(specs, output=output, log_dir=str(log_dir))
        supervisor.start()
        try:
            supervisor.wait_until_ready()
        except Exception:
            supervisor.stop()
            output.flush()
            sys.stderr.write((workdir / "supervisor.log").read_text()[-8000:])
            raise
        try:
            yield RunningStack(settings=settings, log_dir=log_dir, supervisor=supervisor)
        finally:
            supervisor.stop()


@pytest.fixture(scope="session")
def nlu_parse(rasa_stack: RunningStack) -> Callable[[str], dict[str, Any]]:
    """Parse text with the session's trained model (served by the running Rasa)."""
    http = requests.Session()

    def parse(text: str) -> dict[str, Any]:
        response = http.post(
            f"{rasa_stack.rasa_url}/model/parse",
            params={"token": rasa_stack.token},
            json={"text": text},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())

    return parse


@pytest.fixture
def sender_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"
