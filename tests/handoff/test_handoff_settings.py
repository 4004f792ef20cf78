"""The handoff's settings: read from the environment, the same in every process."""

from __future__ import annotations

from pathlib import Path

from bot.processes.stack import rasa_environment
from bot.settings import Settings


def test_defaults_mean_no_slack_and_working_hours_in_california() -> None:
    config = Settings.from_env({}).handoff
    assert not config.slack_enabled
    assert config.sla_minutes == {"P1": 5, "P2": 15, "P3": 60}
    assert config.slack_channels["vip"] == "#support-priority"
    assert config.business_hours == "Mon-Fri 09:00-18:00"


def test_the_environment_reaches_child_processes_unchanged(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_CHANNELS": "billing=C0BILL, vip = C0VIP", "SLACK_ALLOWED_USER_IDS": "U1, U2",
        "HANDOFF_SLA_MINUTES": "P1=2", "HANDOFF_BUSINESS_HOURS": "24/7",
        "ESCALATE_NEGATIVE_SENTIMENT": "-0.8", "RASA_EVENTS_DB": str(tmp_path / "e.db"),
        "RABBITMQ_USER": "rabbit", "RABBITMQ_PASSWORD": "p@ss", "RELAYDESK_AGENT": "Maya Lopez",
        "RELAYDESK_ROOT": str(tmp_path),
    }  # fmt: skip
    settings = Settings.from_env(env)
    config = settings.handoff
    assert config.slack_enabled
    assert config.slack_channels["billing"] == "C0BILL" and config.slack_channels["vip"] == "C0VIP"
    assert config.slack_channels["general"] == "#support"  # unset routes keep their default
    assert config.slack_allowed_user_ids == frozenset({"U1", "U2"})
    assert config.sla_minutes == {"P1": 2, "P2": 15, "P3": 60}
    assert config.rabbitmq_url == "amqp://rabbit:p%40ss@127.0.0.1:5672/"
    assert config.cli_agent_name == "Maya Lopez"
    # A child process inherits this environment plus what the stack computes, and reads the
    # same handoff settings from it.
    child = Settings.from_env({**env, **rasa_environment(settings)})
    assert child.handoff == config
    # Settings built in code (tests) reach children through `to_env`, unchanged too.
    built = config.replace(business_hours="Mon-Sun 08:00-20:00", slack_allowed_user_ids={"U3"})
    assert Settings.from_env(settings.replace(handoff=built).to_env()).handoff == built


def test_without_relaydesk_agent_the_cli_signs_with_the_login_name(tmp_path: Path) -> None:
    assert Settings.from_env({"USER": "kim"}).handoff.cli_agent_name == "kim"
    assert Settings.from_env({}).handoff.cli_agent_name == ""
    root = Settings.from_env({"RELAYDESK_ROOT": str(tmp_path)}).handoff
    assert root.events_db_path == tmp_path / "var" / "rasa_events.db"
