"""kill -9 each process of the stack during a burst of acknowledged shopper messages, let it
come back, and count: every acknowledged message must be answered exactly once (issue 9).

a. the action server, while turns that need custom actions are being processed (WhatsApp,
   and Telegram);
b. Rasa, while acknowledged deliveries wait or run (startup recovery in
   channels/core/recovery.py `recover`); messages sent while it is down are delivered again
   the way Twilio does by default;
c. the handoff bridge, while agent replies from Slack wait in the outbox and the shopper keeps
   writing on the ticket; Slack's retries of the events it could not deliver are replayed.

The killed process is expected to be restarted by the supervisor on its own; if it is not, the
test restarts it (to still get the counts) and then fails on that too.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.channels.drivers import Driver, TelegramDriver, WhatsAppDriver
from tests.channels.fake_providers import TELEGRAM, TWILIO
from tests.conftest import SHARED
from tests.faults.conftest import FaultStack
from tests.faults.helpers import (
    AUTO_RESTART_GRACE,
    TWILIO_DEFAULT,
    Message,
    Tally,
    bring_back,
    burst,
    count_replies,
    deliver_all,
    eventually,
    handoff_outbox,
    inbound_rows,
    kill9,
    outbound_rows,
    post_once,
    quiet,
    record,
    settle,
)
from tests.handoff.shoppers import card_for, ticket_for
from tests.handoff.slack_requests import message_event, post_event, vector

pytestmark = [pytest.mark.faults, pytest.mark.integration]

BURST = 10
SECRET = vector()["signing_secret"]


def answered_count(faults: FaultStack, messages: list[Message], provider: str) -> int:
    return sum(
        any(m.expect in r.text for r in faults.providers.sent(provider, m.shopper))
        for m in messages
    )


def verdict(tally: Tally) -> None:
    """The figures are recorded first (they go into the closing note), then judged."""
    record(tally)
    assert tally.ok(), tally.line()
    assert tally.store_agrees(), f"the store disagrees: {tally.line()}"
    assert tally.restarted_by == "supervisor", (
        f"the supervisor did not restart the killed process within {AUTO_RESTART_GRACE:g}s; "
        f"the test did. {tally.line()}"
    )


# ---------------------------------------------------------------------- a. action server


@pytest.mark.parametrize("channel", ["whatsapp", "telegram"])
def test_action_server_killed_during_a_burst(faults: FaultStack, channel: str) -> None:
    fixtures, public_url = SHARED / "fixtures", faults.stack.settings.public_url
    driver: Driver = (
        WhatsAppDriver(fixtures, public_url) if channel == "whatsapp" else TelegramDriver(fixtures)
    )
    provider = TWILIO if channel == "whatsapp" else TELEGRAM
    messages = burst(driver, BURST)

    deliver_all(messages, faults.rasa_url)
    assert all(m.acknowledged for m in messages), [m.attempts for m in messages]
    # Kill as soon as the first answer is out: the other turns are running or queued.
    eventually(lambda: answered_count(faults, messages, provider) >= 1, timeout=20, interval=0.01)
    before_kill = answered_count(faults, messages, provider)
    old_pid = kill9(faults.supervisor, "actions")
    restarted_by = bring_back(faults.supervisor, "actions", old_pid)

    settle(messages, faults.providers, faults.store, provider=provider, channel=channel,
           timeout=45)  # fmt: skip
    tally = count_replies(f"a. kill -9 action server ({channel})", messages, faults.providers,
                          faults.store, provider=provider, channel=channel)  # fmt: skip
    tally.restarted_by = restarted_by
    tally.notes.append(f"{before_kill} answered before the kill")
    verdict(tally)


# ---------------------------------------------------------------------- b. Rasa


def test_rasa_killed_during_a_burst(faults: FaultStack) -> None:
    driver = WhatsAppDriver(SHARED / "fixtures", faults.stack.settings.public_url)
    acknowledged = burst(driver, BURST)
    deliver_all(acknowledged, faults.rasa_url)
    assert all(m.acknowledged for m in acknowledged), [m.attempts for m in acknowledged]

    eventually(lambda: answered_count(faults, acknowledged, TWILIO) >= 1, timeout=20,
               interval=0.01)  # fmt: skip
    before_kill = answered_count(faults, acknowledged, TWILIO)
    old_pid = kill9(faults.supervisor, "rasa")
    # Shoppers keep writing while Rasa is down; Twilio tries each call twice (its default
    # connection settings), both fail, and it gives up: never acknowledged, so not counted as
    # lost, but reported.
    while_down = burst(driver, 3)
    deliver_all(while_down, faults.rasa_url, TWILIO_DEFAULT)
    restarted_by = bring_back(faults.supervisor, "rasa", old_pid)

    messages = acknowledged + while_down
    settle(messages, faults.providers, faults.store, timeout=45)
    tally = count_replies("b. kill -9 Rasa (WhatsApp)", messages, faults.providers, faults.store)
    tally.restarted_by = restarted_by
    tally.notes.append(f"{before_kill} answered before the kill")
    refused = [m.attempts for m in while_down if not m.acknowledged]
    if refused:
        tally.notes.append(
            f"sent while Rasa was down: {len(while_down)}, attempts {refused} "
            f"({TWILIO_DEFAULT.name}: Twilio gives up on them)"
        )
    verdict(tally)


# ---------------------------------------------------------------------- c. the bridge


def slack_deliver(url: str, body: dict, retry: int | None = None) -> int | str:  # type: ignore[type-arg]
    """One Events API delivery; the status, or "connect" / "timeout" without one."""
    import requests

    try:
        return post_event(url, SECRET, body, retry=retry).status_code
    except requests.ConnectionError:
        return "connect"
    except requests.Timeout:
        return "timeout"


def test_bridge_killed_with_agent_replies_queued(faults: FaultStack) -> None:
    settings = faults.stack.settings
    events_url = faults.stack.slack_events_url
    driver = WhatsAppDriver(SHARED / "fixtures", settings.public_url)
    shopper = driver.new_sender()

    def whatsapp(text: str) -> Message:
        message = Message(shopper, text, text, driver.message(shopper, text))
        message.attempts.append(post_once(message.delivery, faults.rasa_url))  # type: ignore[arg-type]
        return message

    def to_shopper(fragment: str) -> list[str]:
        return [r.text for r in faults.providers.sent(TWILIO, shopper) if fragment in r.text]

    # A ticket with its card in Slack, claimed by Maya (her first reply claims it).
    assert whatsapp("I want to speak to a human please").acknowledged
    assert eventually(lambda: to_shopper("support team"), timeout=30)
    ticket = ticket_for(settings.database_url, f"whatsapp:{shopper}", timeout=15)
    channel, ts = card_for(faults.slack, ticket)
    assert slack_deliver(events_url, message_event(channel, ts, "W111", "Hello, Maya here.")) == 200
    assert eventually(lambda: to_shopper("Hello, Maya here."), timeout=30)

    def thread(fragment: str) -> list[str]:
        return [t for t in faults.slack.thread_texts(channel, ts) if fragment in t]

    # The burst: Maya answers six times, the first one is delivered and the rest wait in the
    # outbox; the shopper writes three messages; one more agent reply is acknowledged just
    # before the kill.
    agent: list[tuple[str, dict, list[int | str]]] = []  # type: ignore[type-arg]

    def agent_says(text: str) -> None:
        body = message_event(channel, ts, "W111", text)
        agent.append((text, body, [slack_deliver(events_url, body)]))

    for n in range(1, 7):
        agent_says(f"Agent update {n}: still on it.")
    eventually(lambda: to_shopper("Agent update 1:"), timeout=15, interval=0.01)
    shopper_notes = [whatsapp(f"shopper note {n}, are you there?") for n in range(1, 4)]
    agent_says("Agent update 7: one more thing.")
    old_pid = kill9(faults.supervisor, "bridge")
    delivered_before_kill = sum(bool(to_shopper(f"Agent update {n}:")) for n in range(1, 8))

    # While the bridge is down: two more agent replies (Slack cannot deliver them and retries
    # at once, which fails too) and two more shopper messages (Rasa takes them).
    for n in (8, 9):
        text = f"Agent update {n}: back soon."
        body = message_event(channel, ts, "W111", text)
        attempts = [slack_deliver(events_url, body), slack_deliver(events_url, body, retry=1)]
        agent.append((text, body, attempts))
    shopper_notes += [whatsapp(f"shopper note {n}, are you there?") for n in (4, 5)]
    restarted_by = bring_back(faults.supervisor, "bridge", old_pid)
    # Slack's later retries (1 and 5 minutes after the failure, compressed here).
    for _text, body, attempts in agent:
        for retry in (2, 3):
            if any(a == 200 for a in attempts):
                break
            attempts.append(slack_deliver(events_url, body, retry))

    acked_agent = [(text, attempts) for text, _body, attempts in agent if 200 in attempts]

    def all_through() -> bool:
        replies_in = all(to_shopper(t.split(":")[0] + ":") for t, _ in acked_agent)
        notes_in = all(thread(m.text) for m in shopper_notes if m.acknowledged)
        return replies_in and notes_in

    eventually(all_through, timeout=45)
    quiet(lambda: len(faults.providers.records) + len(faults.slack.calls), 3.0)

    replies = Tally("c. kill -9 bridge: agent replies -> shopper", sent=len(agent),
                    restarted_by=restarted_by)  # fmt: skip
    for text, attempts in ((t, a) for t, _b, a in agent):
        if 200 not in attempts:
            replies.refused += 1
            continue
        replies.acknowledged += 1
        got = len(to_shopper(text.split(":")[0] + ":"))
        if got != 1:
            replies.notes.append(f"{text.split(':')[0]!r} reached the shopper {got} times")
        replies.answered += got >= 1
        replies.lost += got == 0
        replies.answered_twice += got > 1
        replies.duplicate_sends += max(0, got - 1)
    replies.notes.append(f"{delivered_before_kill} of 7 delivered before the kill; Slack "
                         "attempts " + str([a for _t, _b, a in agent]))  # fmt: skip
    notes = Tally("c. kill -9 bridge: shopper messages -> Slack thread",
                  sent=len(shopper_notes), restarted_by=restarted_by)  # fmt: skip
    for message in shopper_notes:
        if not message.acknowledged:
            notes.refused += 1
            continue
        notes.acknowledged += 1
        got = len(thread(message.text))
        if got != 1:
            notes.notes.append(f"{message.text!r} is in the thread {got} times")
        notes.answered += got >= 1
        notes.lost += got == 0
        notes.answered_twice += got > 1
        notes.duplicate_sends += max(0, got - 1)
    replies.outbound = handoff_outbox(faults.store, ticket.id, "say")
    sends = outbound_rows(faults.store, "whatsapp", [shopper])
    replies.notes.append(f"channel_outbound {dict(Counter(str(r.status) for r in sends))}")
    notes.outbound = handoff_outbox(faults.store, ticket.id, "thread")
    notes.inbound = dict(
        Counter(str(r.status) for r in inbound_rows(faults.store, "whatsapp", [shopper]))
    )
    record(replies)
    verdict(notes)
    assert replies.ok(), replies.line()
    assert replies.store_agrees(), f"the store disagrees: {replies.line()}"
