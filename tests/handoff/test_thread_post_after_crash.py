"""A bridge killed between Slack's answer to chat.postMessage and marking the row done: the next
bridge finds the message in the thread by its metadata and does not post it again (kill -9 in
tests/faults showed a shopper's message in the thread twice)."""

from __future__ import annotations

import asyncio
import json

from bot.settings import Settings
from bot.store.database import Database
from handoff.bridge.slack_gateway import SlackGateway
from handoff.bridge.workers import DELIVERY_EVENT, SlackWorker
from handoff.domain.ticket import Destination
from handoff.store.outbox import Outbox
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import open_ticket
from tests.handoff.fake_slack import FakeSlack


def slack_round(settings: Settings, database: Database, tickets: TicketStore) -> int:
    async def round_() -> int:
        gateway = SlackGateway.connect(
            settings.handoff.slack_bot_token, settings.handoff.slack_api_url
        )
        return await SlackWorker(Outbox(database), tickets, gateway, settings.handoff).run_once()

    return asyncio.run(round_())


def post_as_the_dead_bridge(settings: Settings, channel: str, ts: str, delivery: int) -> None:
    async def post() -> None:
        gateway = SlackGateway.connect(
            settings.handoff.slack_bot_token, settings.handoff.slack_api_url
        )
        await gateway.post(
            channel, "the parcel still has not come", thread_ts=ts,
            metadata={"event_type": DELIVERY_EVENT, "event_payload": {"delivery_id": delivery}},
        )  # fmt: skip

    asyncio.run(post())


def queued_thread_rows(database: Database) -> list[int]:
    return [
        d.id
        for group in Outbox(database).due(Destination.SLACK)
        for d in group
        if d.kind == "thread"
    ]


def test_a_thread_message_the_dead_bridge_posted_is_not_posted_again(
    handoff_settings: Settings, database: Database, tickets: TicketStore, fake_slack_api: FakeSlack
) -> None:
    ticket = open_ticket(tickets, "webchat-slack-crash")
    slack_round(handoff_settings, database, tickets)  # the card and its transcript
    ticket = tickets.get(ticket.id)
    assert ticket is not None and ticket.slack_channel and ticket.slack_ts
    assert tickets.record_shopper_message("webchat-slack-crash", "the parcel still has not come",
                                          2.0, "evt-1")  # fmt: skip
    (row,) = queued_thread_rows(database)
    post_as_the_dead_bridge(handoff_settings, ticket.slack_channel, ticket.slack_ts, row)

    slack_round(handoff_settings, database, tickets)  # a new bridge: the row predates it

    texts = fake_slack_api.thread_texts(ticket.slack_channel, ticket.slack_ts)
    assert sum("the parcel still has not come" in text for text in texts) == 1
    assert fake_slack_api.calls_to("conversations.replies")
    assert queued_thread_rows(database) == []


def test_a_thread_message_nobody_posted_is_posted_once(
    handoff_settings: Settings, database: Database, tickets: TicketStore, fake_slack_api: FakeSlack
) -> None:
    ticket = open_ticket(tickets, "webchat-slack-fresh")
    slack_round(handoff_settings, database, tickets)
    ticket = tickets.get(ticket.id)
    assert ticket is not None and ticket.slack_channel and ticket.slack_ts
    assert tickets.record_shopper_message("webchat-slack-fresh", "where is it?", 2.0, "evt-2")
    (row,) = queued_thread_rows(database)
    slack_round(handoff_settings, database, tickets)
    texts = fake_slack_api.thread_texts(ticket.slack_channel, ticket.slack_ts)
    assert sum("where is it?" in text for text in texts) == 1
    posted = fake_slack_api.calls_to("chat.postMessage", thread_ts=ticket.slack_ts)
    metadata = [call.args.get("metadata") for call in posted]
    parsed = [json.loads(m) if isinstance(m, str) else m for m in metadata]
    assert {"event_type": DELIVERY_EVENT, "event_payload": {"delivery_id": row}} in parsed
