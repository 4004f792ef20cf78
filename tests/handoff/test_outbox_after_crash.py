"""A bridge killed between Rasa's answer and marking the row done: the next bridge does not
send the agent's reply again (kill -9 in tests/faults showed it reaching the shopper twice)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.settings import Settings
from bot.store.channel_store import ChannelStore
from bot.store.database import Database
from handoff.bridge.rasa_client import RasaClient
from handoff.bridge.workers import ShopperWorker
from handoff.domain.ticket_views import Agent
from handoff.store.outbox import Outbox
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import open_ticket
from tests.handoff.fake_rasa import FakeRasa


@pytest.fixture
def rasa(handoff_settings: Settings) -> Iterator[FakeRasa]:
    with FakeRasa(handoff_settings.rasa_port, handoff_settings.rasa_token, lambda *_: None) as fake:
        yield fake


def run_one_round(settings: Settings, database: Database, tickets: TicketStore) -> int:
    async def round_() -> int:
        client = RasaClient(settings.rasa_url, settings.rasa_token)
        try:
            return await ShopperWorker(Outbox(database), tickets, client).run_once()
        finally:
            await client.close()

    return asyncio.run(round_())


def test_a_reply_the_dead_bridge_handed_on_is_not_sent_again(
    handoff_settings: Settings, database: Database, tickets: TicketStore, rasa: FakeRasa
) -> None:
    ticket = open_ticket(tickets, "webchat-crash")
    outcome = tickets.reply(
        ticket.id, Agent("cli:kim", "Kim Lee"), "Your refund is on its way", via="cli"
    )
    delivery = outcome.shopper_delivery_id
    assert delivery is not None
    # The previous bridge posted it and Rasa logged it; then the bridge died (attempts 0, the
    # row still pending).
    rasa._events["webchat-crash"] = [
        {
            "event": "bot",
            "text": "Your refund is on its way",
            "metadata": {"handoff_delivery": delivery},
        }
    ]
    run_one_round(handoff_settings, database, tickets)
    # Looked up in the tracker, not posted again (the "has joined" notice, queued with it and
    # never handed on, is sent).
    texts = [text for _, text, _ in rasa.said]
    assert not [text for text in texts if text.startswith("Your refund")], texts
    assert len(texts) == 1 and "has joined" in texts[0]


def test_a_reply_queued_while_this_bridge_runs_is_sent_once(
    handoff_settings: Settings, database: Database, tickets: TicketStore, rasa: FakeRasa
) -> None:
    ticket = open_ticket(tickets, "webchat-new")
    outcome = tickets.reply(ticket.id, Agent("cli:kim", "Kim Lee"), "Hello", via="cli")
    assert outcome.shopper_delivery_id is not None
    run_one_round(handoff_settings, database, tickets)
    texts = [text for _, text, _ in rasa.said]
    assert [text for text in texts if text.startswith("Hello")] == ["Hello\n— Kim"], texts


def test_a_reply_the_channel_was_sending_when_rasa_was_cut_short_is_not_sent_again(
    handoff_settings: Settings, database: Database, tickets: TicketStore, rasa: FakeRasa
) -> None:
    """Rasa saves the bot event only after its side effects: a request cut short in between
    leaves the channel's send (origin handoff:<id>) but nothing in the tracker."""
    ticket = open_ticket(tickets, "whatsapp:+14155550199", channel="whatsapp")
    outcome = tickets.reply(ticket.id, Agent("cli:kim", "Kim Lee"), "Tracking: 1Z999", via="cli")
    delivery = outcome.shopper_delivery_id
    assert delivery is not None
    ChannelStore(database).new_outbound(
        "whatsapp", "+14155550199", "text", {"body": "Tracking: 1Z999\n— Kim"},
        inbound_id=None, origin=f"handoff:{delivery}",
    )  # fmt: skip
    run_one_round(handoff_settings, database, tickets)
    texts = [text for _, text, _ in rasa.said]
    assert not [text for text in texts if text.startswith("Tracking")], texts
