"""The bridge as Slack sees it, without Rasa: the real aiohttp + slack-bolt app and workers
against the fake Slack Web API, with requests signed like Slack signs them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.settings import Settings
from bot.store.database import Database
from handoff.bridge.cards import CLAIM, HAND_BACK, RESOLVE
from handoff.domain.escalation import Priority, Reason, Route
from handoff.domain.ticket import DeliveryStatus, Destination, MessageDirection, TicketStatus
from handoff.domain.ticket_views import TicketView
from handoff.rasa_events import transcript_lines
from handoff.store.models import HandoffDelivery
from handoff.store.outbox import Outbox
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import OUTSIDER, RunningBridge, open_ticket
from tests.handoff.fake_slack import FakeSlack
from tests.handoff.slack_requests import (
    button_click,
    message_event,
    post_event,
    post_interaction,
    signature,
    signed_headers,
    vector,
)

SECRET = vector()["signing_secret"]


def test_signature_scheme_matches_slacks_published_vector() -> None:
    v = vector()
    assert signature(v["signing_secret"], v["timestamp"], v["raw_body"]) == v["expected_signature"]


def card_of(fake: FakeSlack, ticket: TicketView) -> tuple[str, str]:
    call = fake.wait_for(
        "chat.postMessage",
        lambda c: bool(c.args.get("blocks")) and f"#{ticket.id} " in c.args["text"],
    )
    return call.response["channel"], call.response["ts"]


def shopper_deliveries(database: Database, kind: str | None = None) -> list[dict[str, object]]:
    """Everything queued for shoppers (no Rasa runs here, so it stays queued)."""
    with database.session() as session:
        rows = session.execute(
            select(HandoffDelivery)
            .where(HandoffDelivery.destination == Destination.SHOPPER)
            .order_by(HandoffDelivery.id)
        ).scalars()
        return [dict(row.payload) for row in rows if kind is None or row.kind == kind]


def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_card_goes_to_the_route_channel_with_transcript_in_its_thread(
    running_bridge: RunningBridge, tickets: TicketStore, fake_slack_api: FakeSlack
) -> None:
    events = [
        {"event": "user", "text": f"message {i} " + "x" * 400, "timestamp": float(i)}
        for i in range(20)
    ]
    events.append(
        {"event": "user", "text": "my card is 4242 4242 4242 4242 <!channel>", "timestamp": 20.0}
    )
    ticket = open_ticket(tickets, lines=tuple(transcript_lines(events)))

    channel, ts = card_of(fake_slack_api, ticket)
    card = fake_slack_api.calls_to("chat.postMessage", ts=None)
    posted = fake_slack_api.wait_for("chat.postMessage", lambda c: c.response["ts"] == ts)
    assert posted.args["channel"] == "#support-returns"
    blocks_text = str(posted.args["blocks"])
    for expected in ("Ticket #1", "Damaged, defective or wrong item", CLAIM, RESOLVE, HAND_BACK):
        assert expected in blocks_text
    assert card

    wait_until(lambda: len(fake_slack_api.thread_texts(channel, ts)) == 4)
    pages = fake_slack_api.thread_texts(channel, ts)
    assert [page.split("\n")[0] for page in pages] == [
        f"_Transcript ({i}/4)_" for i in (1, 2, 3, 4)
    ]
    everything = "\n".join(pages)
    assert "4242 4242 4242 4242" not in everything and "[card ending 4242]" in everything
    assert "<!channel>" not in everything and "&lt;!channel&gt;" in everything
    assert tickets.get(ticket.id).slack_ts == ts  # type: ignore[union-attr]


def test_agent_reply_is_queued_for_the_shopper_once_even_when_slack_retries(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)
    event = message_event(channel, ts, "W111", "Sorry about that! A new one is on its way.")

    first = post_event(running_bridge.events_url, SECRET, event)
    retried = post_event(running_bridge.events_url, SECRET, event, retry=1)

    assert first.status_code == 200 and retried.status_code == 200
    wait_until(lambda: len(shopper_deliveries(database, "say")) >= 2)
    time.sleep(0.3)  # give a duplicate every chance to appear
    says = shopper_deliveries(database, "say")
    assert [s["text"] for s in says] == [
        "Maya from the Northwind Outfitters team has joined the chat.",
        "Sorry about that! A new one is on its way.\n— Maya",
    ]
    assert tickets.get(ticket.id).status is TicketStatus.CLAIMED  # type: ignore[union-attr]
    agent_lines = [m for m in tickets.messages(ticket.id) if m.direction is MessageDirection.AGENT]
    assert len(agent_lines) == 1


def test_internal_notes_stay_with_the_agents(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)

    post_event(running_bridge.events_url, SECRET, message_event(channel, ts, "W111", "// VIP?"))

    wait_until(lambda: any(m.direction is MessageDirection.NOTE for m in tickets.messages(1)))
    assert shopper_deliveries(database) == []


def test_claim_updates_the_card_and_a_double_click_on_resolve_closes_once(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)

    claim = post_interaction(running_bridge.events_url, SECRET,
                             button_click(CLAIM, ticket.id, "W222", channel, ts))  # fmt: skip
    assert claim.status_code == 200
    update = fake_slack_api.wait_for("chat.update", lambda c: "Sam Okoro" in str(c.args["blocks"]))
    assert update.args["ts"] == ts and CLAIM not in str(update.args["blocks"])

    for _ in range(2):  # a double click
        click = button_click(RESOLVE, ticket.id, "W222", channel, ts)
        response = post_interaction(running_bridge.events_url, SECRET, click)
        assert response.status_code == 200
    wait_until(lambda: tickets.get(ticket.id).status is TicketStatus.RESOLVED)  # type: ignore[union-attr]
    time.sleep(0.3)
    assert len(shopper_deliveries(database, "close")) == 1
    resolved = fake_slack_api.wait_for("chat.update", lambda c: "Resolved by" in str(c.args))
    assert RESOLVE not in str(resolved.args["blocks"])  # no buttons on a closed ticket


def test_someone_not_on_the_agent_list_can_do_nothing(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)

    post_interaction(running_bridge.events_url, SECRET,
                     button_click(CLAIM, ticket.id, OUTSIDER, channel, ts))  # fmt: skip
    post_event(running_bridge.events_url, SECRET, message_event(channel, ts, OUTSIDER, "hi!"))

    refusal = fake_slack_api.wait_for("chat.postEphemeral", lambda c: c.args["user"] == OUTSIDER)
    assert "not on relaydesk's list" in refusal.args["text"]
    time.sleep(0.3)
    assert tickets.get(ticket.id).status is TicketStatus.OPEN  # type: ignore[union-attr]
    assert shopper_deliveries(database) == []


def test_requests_without_a_valid_signature_are_refused(
    running_bridge: RunningBridge, tickets: TicketStore, fake_slack_api: FakeSlack
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)
    click = button_click(RESOLVE, ticket.id, "W111", channel, ts)

    forged = post_interaction(running_bridge.events_url, "not-the-secret", click)
    stale_body = '{"type": "event_callback"}'
    stale = post_event(
        running_bridge.events_url, SECRET, {}, **signed_headers(
            SECRET, "{}", "application/json", timestamp=int(time.time()) - 600
        ),
    )  # fmt: skip

    assert forged.status_code == 401 and stale.status_code == 401 and stale_body
    time.sleep(0.3)
    assert tickets.get(ticket.id).status is TicketStatus.OPEN  # type: ignore[union-attr]


def test_slack_outage_loses_nothing_and_keeps_the_order(
    running_bridge: RunningBridge, tickets: TicketStore, fake_slack_api: FakeSlack
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)

    fake_slack_api.set_outage(True)
    for n in range(5):
        key = f"rasa:shopper-1:m{n}"
        assert tickets.record_shopper_message("shopper-1", f"message {n}", 10.0 + n, key)
    time.sleep(1.5)  # the bridge keeps trying meanwhile
    assert fake_slack_api.calls[-1].response == {}  # answered 503
    fake_slack_api.set_outage(False)

    wait_until(lambda: sum("message" in t for t in fake_slack_api.thread_texts(channel, ts)) == 5)
    relayed = [t for t in fake_slack_api.thread_texts(channel, ts) if "*Shopper:* message" in t]
    assert relayed == [f"*Shopper:* message {n}" for n in range(5)]


def test_restarted_bridge_delivers_what_was_queued_while_it_was_down(
    handoff_settings: Settings, database: Database, fake_slack_api: FakeSlack
) -> None:
    tickets = TicketStore(database, slack_enabled=True)
    ticket = open_ticket(tickets)
    with RunningBridge(handoff_settings):
        channel, ts = card_of(fake_slack_api, ticket)
    # Bridge down: the shopper keeps writing, the action server / relay keeps logging.
    for n in range(3):
        tickets.record_shopper_message("shopper-1", f"while down {n}", 10.0 + n, f"k{n}")
    assert Outbox(database).pending(Destination.SLACK) >= 3

    with RunningBridge(handoff_settings):
        wait_until(lambda: Outbox(database).pending(Destination.SLACK) == 0)
    texts = fake_slack_api.thread_texts(channel, ts)
    assert [t for t in texts if "while down" in t] == [
        f"*Shopper:* while down {n}" for n in range(3)
    ]
    assert len(fake_slack_api.calls_to("chat.postMessage", channel="#support-returns")) == 1


def test_sla_breach_re_alerts_in_the_priority_channel(
    handoff_settings: Settings, database: Database, fake_slack_api: FakeSlack
) -> None:
    from handoff.bridge.workers import SlaWatcher
    from handoff.domain.hours import BusinessHours

    tickets = TicketStore(database, slack_enabled=True)
    ticket = open_ticket(tickets, reasons=(Reason.CHARGEBACK,), priority=Priority.P1,
                         route=Route.BILLING)  # fmt: skip
    config = handoff_settings.handoff
    hours = BusinessHours.parse("24/7", "UTC")
    at = {"now": ticket.opened_at + timedelta(minutes=4)}
    watcher = SlaWatcher(tickets, hours, config, clock=lambda: at["now"])

    assert watcher.run_once() == 0  # P1 target is 5 minutes
    at["now"] = ticket.opened_at + timedelta(minutes=6)
    assert watcher.run_once() == 1
    assert watcher.run_once() == 0  # not again at once
    at["now"] = ticket.opened_at + timedelta(minutes=12)
    assert watcher.run_once() == 1  # but again after another target period

    with RunningBridge(handoff_settings):
        alert = fake_slack_api.wait_for("chat.postMessage", lambda c: "waited" in c.args["text"])
    assert alert.args["channel"] == "#support-priority"
    assert alert.args["text"].startswith("<!here>") and "P1 ticket #1" in alert.args["text"]
    claimed_at = datetime.now(UTC)
    assert claimed_at  # a claimed ticket is never alerted:
    tickets.claim(ticket.id, _agent(), via="cli")
    at["now"] = ticket.opened_at + timedelta(hours=2)
    assert watcher.run_once() == 0


def _agent():  # type: ignore[no-untyped-def]
    from handoff.domain.ticket_views import Agent

    return Agent("cli:maya", "Maya Lopez")


def test_parked_deliveries_stay_visible(database: Database) -> None:
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets)
    outcome = tickets.reply(ticket.id, _agent(), "hello", via="cli")
    outbox = Outbox(database)
    assert outcome.shopper_delivery_id is not None
    outbox.failed(outcome.shopper_delivery_id, "HTTP 404")
    assert outbox.status_of(outcome.shopper_delivery_id) is DeliveryStatus.FAILED


def test_without_slack_the_bridge_serves_no_slack_endpoint(
    handoff_settings: Settings, database: Database
) -> None:
    import requests

    no_slack = handoff_settings.replace(
        handoff=handoff_settings.handoff.replace(slack_bot_token="", slack_signing_secret=""),
    )
    with RunningBridge(no_slack) as bridge:
        assert bridge.bridge is not None and bridge.bridge.slack_app is None
        response = requests.post(bridge.events_url, data=b"{}", timeout=5)
        assert response.status_code == 404
