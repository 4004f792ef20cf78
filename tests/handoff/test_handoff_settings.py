"""The handoff's settings: read from the environment, handed to child processes unchanged."""

from __future__ import annotations

from pathlib import Path

from bot.processes.stack import rasa_environment
from bot.settings import HandoffSettings, Settings


def test_defaults_mean_no_slack_and_working_hours_in_california() -> None:
    config = Settings.from_env({}).handoff
    assert not config.slack_enabled
    assert config.sla_minutes == {"P1": 5, "P2": 15, "P3": 60}
    assert config.slack_channels["vip"] == "#support-priority"
    assert config.business_hours == "Mon-Fri 09:00-18:00"


def test_environment_round_trips_to_child_processes(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_CHANNELS": "billing=C0BILL, vip = C0VIP", "SLACK_ALLOWED_USER_IDS": "U1, U2",
        "HANDOFF_SLA_MINUTES": "P1=2", "HANDOFF_BUSINESS_HOURS": "24/7",
        "ESCALATE_NEGATIVE_SENTIMENT": "-0.8", "RASA_EVENTS_DB": str(tmp_path / "e.db"),
        "RABBITMQ_USER": "rabbit", "RABBITMQ_PASSWORD": "p@ss", "RELAYDESK_AGENT": "Maya Lopez",
    }  # fmt: skip
    config = HandoffSettings.from_env(env, tmp_path)
    assert config.slack_enabled
    assert config.slack_channels["billing"] == "C0BILL" and config.slack_channels["vip"] == "C0VIP"
    assert config.slack_channels["general"] == "#support"  # unset routes keep their default
    assert config.slack_allowed_user_ids == frozenset({"U1", "U2"})
    assert config.sla_minutes == {"P1": 2, "P2": 15, "P3": 60}
    assert config.rabbitmq_url == "amqp://rabbit:p%40ss@127.0.0.1:5672/"
    # RABBITMQ_* are the production profile's own variables, passed through as they are.
    assert HandoffSettings.from_env({**env, **config.to_env()}, tmp_path) == config
    exported = rasa_environment(Settings.from_env(env))
    assert exported["SLACK_BOT_TOKEN"] == "xoxb-1" and exported["HANDOFF_BUSINESS_HOURS"] == "24/7"
