"""bot/settings.py: every variable declared once (env name, default, parsing), read from the
mapping a caller passes, documented, and the same in every process of the stack."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot import settings as settings_module
from bot.processes.stack import rasa_environment, with_token
from bot.settings import REPO_ROOT, Section, Settings, process_settings, use_process_settings

ROOT = Path(__file__).resolve().parents[2]


def value_at(settings: Settings, path: str) -> Any:
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def all_env_names(section: type[Section] = Settings) -> dict[str, str]:
    """Environment variable → the dotted path of its field, over every section."""
    names = {env: field for field, env in section.env_names().items()}
    for field in section.__fields__.values():
        if isinstance(field.type_, type) and issubclass(field.type_, Section):
            inner = all_env_names(field.type_)
            names.update({env: f"{field.name}.{path}" for env, path in inner.items()})
    return names


@pytest.mark.parametrize(
    ("path", "default"),
    [
        ("repo_root", REPO_ROOT),
        ("database_url", f"sqlite:///{REPO_ROOT / 'var' / 'relaydesk.db'}"),
        ("tracker_db_path", REPO_ROOT / "var" / "rasa_tracker.db"),
        ("profile", "default"),
        ("rasa_host", "127.0.0.1"),
        ("rasa_port", 5005),
        ("rasa_token", ""),
        ("action_port", 5055),
        ("bridge_port", 5060),
        ("public_url", "http://localhost:5005"),
        ("store_name", "Northwind Outfitters"),
        ("demo_store_path", REPO_ROOT / "bot" / "store" / "demo_store.json"),
        ("knowledge_base_dir", REPO_ROOT / "knowledge_base"),
        ("models_dir", REPO_ROOT / "models"),
        ("max_verification_attempts", 3),
        ("policy_file", REPO_ROOT / "knowledge_base" / "policy.yml"),
        ("endpoints_file", REPO_ROOT / "endpoints.yml"),
        ("rasa_url", "http://127.0.0.1:5005"),
        ("action_server_url", "http://127.0.0.1:5055/webhook"),
        ("webchat_url", "http://localhost:5005/webhooks/webchat/"),
        ("whatsapp.account_sid", ""),
        ("whatsapp.api_base_url", "https://api.twilio.com"),
        ("messenger.api_base_url", "https://graph.facebook.com/v21.0"),
        ("telegram.api_base_url", "https://api.telegram.org"),
        ("sending.attempts", 4),
        ("sending.retry_base_delay", 0.5),
        ("sending.max_turns_in_flight", 2),
        ("webchat.embed_origins", ""),
        ("json_api.secret", ""),
        ("handoff.slack_api_url", "https://slack.com/api/"),
        ("handoff.slack_allowed_user_ids", frozenset()),
        ("handoff.note_prefix", "//"),
        ("handoff.timezone", "America/Los_Angeles"),
        ("handoff.low_confidence", 0.4),
        ("handoff.low_confidence_turns", 2),
        ("handoff.negative_sentiment", -0.6),
        ("handoff.events_db_path", REPO_ROOT / "var" / "rasa_events.db"),
        ("handoff.rabbitmq_queue", "relaydesk_handoff"),
        ("handoff.rabbitmq_url", "amqp://guest:guest@127.0.0.1:5672/"),
        ("handoff.cli_agent_name", ""),
    ],
)
def test_defaults(path: str, default: Any) -> None:
    assert value_at(Settings.from_env({}), path) == default
    assert value_at(Settings(), path) == default  # a bare Settings() is the defaults too


@pytest.mark.parametrize(
    ("variable", "raw", "path", "value"),
    [
        ("DATABASE_URL", "postgresql://db/rd", "database_url", "postgresql://db/rd"),
        ("RASA_TRACKER_DB", "/t.db", "tracker_db_path", Path("/t.db")),
        (
            "RELAYDESK_PROFILE",
            "production",
            "endpoints_file",
            REPO_ROOT / "endpoints.production.yml",
        ),
        ("RASA_HOST", "0.0.0.0", "rasa_url", "http://0.0.0.0:5005"),
        ("RASA_PORT", "6005", "rasa_port", 6005),
        ("RASA_TOKEN", "t", "rasa_token", "t"),
        ("ACTION_PORT", "6055", "action_server_url", "http://127.0.0.1:6055/webhook"),
        ("BRIDGE_PORT", "6060", "bridge_port", 6060),
        ("PUBLIC_URL", "https://s.example/", "webchat_url", "https://s.example/webhooks/webchat/"),
        ("STORE_NAME", "Bob's", "store_name", "Bob's"),
        ("DEMO_STORE_PATH", "/d.json", "demo_store_path", Path("/d.json")),
        ("KNOWLEDGE_BASE_DIR", "/kb", "policy_file", Path("/kb/policy.yml")),
        ("MODELS_DIR", "/m", "models_dir", Path("/m")),
        ("MAX_VERIFICATION_ATTEMPTS", "5", "max_verification_attempts", 5),
        ("TWILIO_ACCOUNT_SID", "AC1", "whatsapp.account_sid", "AC1"),
        ("TWILIO_AUTH_TOKEN", "tok", "whatsapp.auth_token", "tok"),
        ("TWILIO_WHATSAPP_FROM", "whatsapp:+1", "whatsapp.whatsapp_from", "whatsapp:+1"),
        ("TWILIO_TEMPLATE_CONTENT_SID", "HX1", "whatsapp.template_content_sid", "HX1"),
        ("TWILIO_API_BASE_URL", "http://fake", "whatsapp.api_base_url", "http://fake"),
        ("MESSENGER_PAGE_ACCESS_TOKEN", "p", "messenger.page_access_token", "p"),
        ("MESSENGER_APP_SECRET", "a", "messenger.app_secret", "a"),
        ("MESSENGER_VERIFY_TOKEN", "v", "messenger.verify_token", "v"),
        ("GRAPH_API_BASE_URL", "http://fake/v1", "messenger.api_base_url", "http://fake/v1"),
        ("TELEGRAM_BOT_TOKEN", "1:AA", "telegram.bot_token", "1:AA"),
        ("TELEGRAM_WEBHOOK_SECRET", "s", "telegram.webhook_secret", "s"),
        ("TELEGRAM_API_BASE_URL", "http://fake", "telegram.api_base_url", "http://fake"),
        ("CHANNEL_SEND_ATTEMPTS", "2", "sending.attempts", 2),
        ("CHANNEL_RETRY_BASE_DELAY", "0.05", "sending.retry_base_delay", 0.05),
        ("CHANNEL_MAX_TURNS_IN_FLIGHT", "8", "sending.max_turns_in_flight", 8),
        (
            "WEBCHAT_EMBED_ORIGINS",
            "https://a.example",
            "webchat.embed_origins",
            "https://a.example",
        ),
        ("JSON_API_SECRET", "j", "json_api.secret", "j"),
        ("SLACK_TEAM_ID", "T1", "handoff.slack_team_id", "T1"),
        ("SLACK_ALERT_MENTION", "<@U1>", "handoff.slack_alert_mention", "<@U1>"),
        ("HANDOFF_TIMEZONE", "Europe/Berlin", "handoff.timezone", "Europe/Berlin"),
        ("ESCALATE_LOW_CONFIDENCE", "0.3", "handoff.low_confidence", 0.3),
        ("ESCALATE_LOW_CONFIDENCE_TURNS", "3", "handoff.low_confidence_turns", 3),
        ("RABBITMQ_HANDOFF_QUEUE", "q", "handoff.rabbitmq_queue", "q"),
        ("RABBITMQ_HOST", "mq", "handoff.rabbitmq_url", "amqp://guest:guest@mq:5672/"),
        ("RABBITMQ_PORT", "5673", "handoff.rabbitmq_url", "amqp://guest:guest@127.0.0.1:5673/"),
        ("RELAYDESK_AGENT", "Maya", "handoff.cli_agent_name", "Maya"),
        ("USER", "kim", "handoff.cli_agent_name", "kim"),
    ],
)
def test_each_variable_sets_its_field(variable: str, raw: str, path: str, value: Any) -> None:
    assert value_at(Settings.from_env({variable: raw}), path) == value


@pytest.mark.parametrize(
    ("variable", "raw", "path", "value"),
    [
        # A map overrides the keys it names; the rest keep their defaults.
        ("HANDOFF_SLA_MINUTES", "P1=2", "handoff.sla_minutes", {"P1": 2, "P2": 15, "P3": 60}),
        ("HANDOFF_SLA_MINUTES", " P3 = 90 ,junk, =1", "handoff.sla_minutes",
         {"P1": 5, "P2": 15, "P3": 90}),
        ("SLACK_CHANNELS", "vip=C0VIP", "handoff.slack_channels.vip", "C0VIP"),
        ("SLACK_CHANNELS", "vip=C0VIP", "handoff.slack_channels.general", "#support"),
        # A set: commas or spaces.
        ("SLACK_ALLOWED_USER_IDS", "U1, U2 U3,,", "handoff.slack_allowed_user_ids",
         frozenset({"U1", "U2", "U3"})),
        # Defaults that follow another variable.
        ("RELAYDESK_ROOT", "/srv/rd", "database_url", "sqlite:////srv/rd/var/relaydesk.db"),
        ("RELAYDESK_ROOT", "/srv/rd", "tracker_db_path", Path("/srv/rd/var/rasa_tracker.db")),
        ("RELAYDESK_ROOT", "/srv/rd", "models_dir", Path("/srv/rd/models")),
        ("RELAYDESK_ROOT", "/srv/rd", "knowledge_base_dir", Path("/srv/rd/knowledge_base")),
        ("RELAYDESK_ROOT", "/srv/rd", "handoff.events_db_path", Path("/srv/rd/var/rasa_events.db")),
        ("RELAYDESK_ROOT", "/srv/rd", "endpoints_file", Path("/srv/rd/endpoints.yml")),
        ("RELAYDESK_ROOT", "/srv/rd", "demo_store_path",
         REPO_ROOT / "bot" / "store" / "demo_store.json"),
        ("RASA_PORT", "6005", "public_url", "http://localhost:6005"),
        ("RABBITMQ_PASSWORD", "p@ss/1", "handoff.rabbitmq_url",
         "amqp://guest:p%40ss%2F1@127.0.0.1:5672/"),
    ],
)  # fmt: skip
def test_maps_sets_and_derived_defaults(variable: str, raw: str, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    found = value_at(Settings.from_env({variable: raw}), ".".join(parents)) if parents else None
    if isinstance(found, dict):
        assert found[last] == value
    else:
        assert value_at(Settings.from_env({variable: raw}), path) == value


def test_an_empty_variable_is_an_unset_one() -> None:
    empty = Settings.from_env(dict.fromkeys(all_env_names(), ""))
    assert empty == Settings.from_env({})


def test_an_explicit_mapping_is_all_that_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_PORT", "6123")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC-from-the-shell")
    assert Settings.from_env({}).rasa_port == 5005
    assert Settings().whatsapp.account_sid == ""
    # Without a mapping: the process's environment.
    assert Settings.from_env().rasa_port == 6123
    assert Settings.from_env().whatsapp.account_sid == "AC-from-the-shell"


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("RASA_PORT", "http"), ("CHANNEL_SEND_ATTEMPTS", "many"), ("ESCALATE_LOW_CONFIDENCE", "x")],
)
def test_a_malformed_number_stops_the_process(variable: str, raw: str) -> None:
    with pytest.raises(ValidationError, match=variable.split("_")[-1].lower()[:4]):
        Settings.from_env({variable: raw})


def test_settings_are_immutable_and_replace_checks_its_values() -> None:
    settings = Settings.from_env({})
    with pytest.raises(TypeError):
        settings.rasa_port = 1  # type: ignore[misc]
    changed = settings.replace(rasa_port="6001", sending={"attempts": 1})
    assert (changed.rasa_port, changed.sending.attempts) == (6001, 1)
    assert settings.rasa_port == 5005
    with pytest.raises(ValidationError):
        settings.replace(rasa_prot=1)


def test_every_variable_has_one_field() -> None:
    names = all_env_names()
    assert len(names) == len(set(names))
    # Sections are reached by name from their connector (channels/core/connector.py).
    sections = {
        "whatsapp",
        "messenger",
        "telegram",
        "sending",
        "webchat",
        "json_api",
        "handoff",
        "shopify",
        "store_push",
    }
    assert {path.split(".")[0] for path in names.values() if "." in path} == sections


ENVIRONMENT = {
    "RELAYDESK_ROOT": "/srv/rd", "DATABASE_URL": "postgresql://db/rd", "RASA_PORT": "6005",
    "TWILIO_ACCOUNT_SID": "AC1", "CHANNEL_SEND_ATTEMPTS": "2", "JSON_API_SECRET": "j",
    "SLACK_CHANNELS": "vip=C0VIP", "SLACK_ALLOWED_USER_IDS": "U1,U2", "USER": "kim",
    "RABBITMQ_HOST": "mq",
}  # fmt: skip


def test_child_processes_read_the_same_settings() -> None:
    """`relaydesk run` starts its processes with its own environment plus what the stack
    computes (the token it may have made up, the paths endpoints.yml names)."""
    parent = with_token(Settings.from_env(ENVIRONMENT))
    child_environment = {**ENVIRONMENT, **rasa_environment(parent)}
    assert Settings.from_env(child_environment) == parent
    # Nothing but what the supervisor computes: no setting is copied variable by variable.
    assert "TWILIO_ACCOUNT_SID" not in rasa_environment(parent)
    assert "DATABASE_URL" not in rasa_environment(parent)


def test_settings_built_in_code_reach_children_through_to_env() -> None:
    built = Settings.from_env(ENVIRONMENT).replace(
        rasa_token="t", handoff=Settings().handoff.replace(sla_minutes={"P1": 1, "P2": 2, "P3": 3})
    )
    environment = built.to_env()
    assert set(environment) == set(all_env_names()) - {"USER"}
    assert Settings.from_env(environment) == built


@pytest.fixture
def no_process_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(settings_module._ProcessSettings, "current", None)
    yield


@pytest.mark.usefixtures("no_process_settings")
def test_process_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_NAME", "First")
    first = process_settings()
    monkeypatch.setenv("STORE_NAME", "Second")
    assert process_settings() is first and first.store_name == "First"
    chosen = Settings.from_env({"STORE_NAME": "Entry point"})
    use_process_settings(chosen)
    assert process_settings() is chosen


# ------------------------------------------------------------------ documentation


def _documented_in_readme() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`([A-Z][A-Z0-9_]*\*?)`", section)


@pytest.mark.parametrize("variable", sorted(set(all_env_names()) - {"USER"}))
def test_every_variable_is_documented(variable: str) -> None:
    env_example = (ROOT / ".env.example").read_text()
    assert re.search(rf"\b{variable}=", env_example), f"{variable} is not in .env.example"
    documented = _documented_in_readme()
    assert any(
        name == variable or (name.endswith("*") and variable.startswith(name[:-1]))
        for name in documented
    ), f"{variable} is not in the README's configuration table"
