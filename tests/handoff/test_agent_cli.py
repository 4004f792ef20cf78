"""`relaydesk agent ...` on a real store, as an agent without Slack uses it."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.store.database import Database
from handoff.domain.ticket import Destination, TicketStatus
from handoff.store.outbox import Outbox
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import open_ticket


def relaydesk(*argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return int(exit_.value.code or 0)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database: Database) -> TicketStore:
    monkeypatch.setenv("DATABASE_URL", str(database.url))
    monkeypatch.setenv("RELAYDESK_AGENT", "Maya Lopez")
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return TicketStore(database, slack_enabled=False)


def test_an_agent_works_a_ticket_from_the_terminal(
    cli_env: TicketStore, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    ticket = open_ticket(cli_env)

    assert relaydesk("agent", "list") == 0
    assert "#1" in capsys.readouterr().out
    assert relaydesk("agent", "show", "1") == 0
    shown = capsys.readouterr().out
    assert "the jacket arrived torn" in shown and "Damaged, defective or wrong item" in shown

    assert relaydesk("agent", "claim", "1") == 0
    assert relaydesk("agent", "--as", "Sam Okoro", "claim", "1") == 1
    assert "already claimed by Maya Lopez" in capsys.readouterr().out
    assert (
        relaydesk("agent", "reply", "1", "A", "new", "one", "ships", "today.", "--wait", "0") == 0
    )
    assert "Queued" in capsys.readouterr().out  # no bridge runs here to deliver it
    assert relaydesk("agent", "note", "1", "UPS", "trace", "opened") == 0
    assert relaydesk("agent", "resolve", "1") == 0
    assert relaydesk("agent", "reply", "1", "late", "--wait", "0") == 1

    closed = cli_env.get(ticket.id)
    assert closed is not None and closed.status is TicketStatus.RESOLVED
    queued = [(d.kind, d.payload.get("text")) for g in Outbox(database).due(Destination.SHOPPER)
              for d in g]  # fmt: skip
    assert queued == [
        ("say", "Maya from the Northwind Outfitters team has joined the chat."),
        ("say", "A new one ships today.\n— Maya"),
        ("close", None),
    ]
    assert Outbox(database).pending(Destination.SLACK) == 0  # no Slack configured
