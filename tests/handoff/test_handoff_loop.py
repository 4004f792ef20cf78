"""The whole handoff on the running stack (Rasa, action server, bridge) with the fake Slack:
shopper → handoff → card → shopper's messages in the thread → agent's reply on the shopper's
channel → resolve → rating → the bot answers again; plus Slack retries, restarts and outages."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from handoff.bridge.cards import CLAIM, RESOLVE
from handoff.domain.ticket import TicketStatus
from tests.conftest import SHARED, RunningStack
from tests.handoff.fake_slack import FakeSlack
from tests.handoff.shoppers import (
    WebChatShopper,
    card_for,
    fresh_ticket,
    ticket_for,
    wait_for_thread,
)
from tests.handoff.slack_requests import (
    button_click,
    message_event,
    post_event,
    post_interaction,
    vector,
)

pytestmark = pytest.mark.integration
SECRET = vector()["signing_secret"]


@pytest.fixture
def webchat(rasa_stack: RunningStack) -> Iterator[WebChatShopper]:
    shopper = WebChatShopper(rasa_stack.rasa_url)
    yield shopper
    shopper.close()


def agent_says(stack: RunningStack, channel: str, ts: str, text: str, user: str = "W111") -> None:
    response = post_event(stack.slack_events_url, SECRET, message_event(channel, ts, user, text))
    assert response.status_code == 200


def click(stack: RunningStack, action: str, ticket_id: int, channel: str, ts: str) -> None:
    payload = button_click(action, ticket_id, "W111", channel, ts)
    assert post_interaction(stack.slack_events_url, SECRET, payload).status_code == 200


def test_full_loop_on_the_web_chat(
    rasa_stack: RunningStack, fake_slack: FakeSlack, webchat: WebChatShopper
) -> None:
    url = rasa_stack.settings.database_url
    webchat.say("where is my order")
    webchat.wait_for(lambda t: "order number" in t)
    webchat.say("10023")
    webchat.wait_for(lambda t: "email address or phone number" in t)
    webchat.say("ava.martin@example.com")
    webchat.wait_for(lambda t: "1Z999AA10123456784" in t)

    webchat.say("the tracking is useless, I want to speak to a real person")
    ack = webchat.wait_for(lambda t: "support team" in t)
    ticket = ticket_for(url, webchat.session_id)
    assert f"case #{ticket.id}" in ack and "in the queue" in ack
    assert ticket.channel == "webchat" and "customer_request" in ticket.reasons

    # The card: masked contact, the verified order with tracking, buttons; transcript in thread.
    channel, ts = card_for(fake_slack, ticket)
    card = str(fake_slack.wait_for("chat.postMessage", lambda c: c.response["ts"] == ts).args)
    for expected in ("a***@example.com", "#10023", "1Z999AA10123456784", "webchat", CLAIM):
        assert expected in card
    transcript = wait_for_thread(fake_slack, channel, ts, lambda t: "_Transcript (1/1)_" in t)
    assert "*Shopper:* 10023" in transcript and "*Shopper:* a***@example.com" in transcript
    assert "ava.martin" not in transcript

    # The shopper writes while waiting: it appears in the thread.
    webchat.say("my daughter's birthday is on Saturday")
    wait_for_thread(fake_slack, channel, ts, lambda t: "birthday is on Saturday" in t)

    # The agent replies in the thread (Slack retries the event once): one message arrives,
    # signed, after the "joined" notice, on the web chat.
    event = message_event(channel, ts, "W111", "Hi Ava! I've asked UPS to prioritise it.")
    post_event(rasa_stack.slack_events_url, SECRET, event)
    post_event(rasa_stack.slack_events_url, SECRET, event, retry=1)
    webchat.wait_for(lambda t: "Maya from the" in t and "joined" in t)
    webchat.wait_for(lambda t: t == "Hi Ava! I've asked UPS to prioritise it.\n— Maya")
    agent_says(rasa_stack, channel, ts, "// she sounds stressed, keep it short")
    agent_says(rasa_stack, channel, ts, "note: VIP, be generous with the voucher")  # a typo
    fake_slack.wait_for("chat.postEphemeral", lambda c: "be generous" in str(c.args))
    # The web chat cannot confirm delivery: the reply is marked sent, never ✅.
    reply_ts = event["event"]["ts"]
    fake_slack.wait_for(
        "reactions.add",
        lambda c: c.args.get("timestamp") == reply_ts and c.args.get("name") == "outbox_tray",
    )

    # Resolve (double-clicked): the bot comes back once and asks for a rating.
    click(rasa_stack, RESOLVE, ticket.id, channel, ts)
    click(rasa_stack, RESOLVE, ticket.id, channel, ts)
    webchat.wait_for(lambda t: "marked your case as resolved" in t)
    webchat.wait_for(lambda t: "from 1 (poor) to 5" in t)
    webchat.say("5")
    webchat.wait_for(lambda t: "Thank you for the rating" in t)
    assert fresh_ticket(url, ticket.id).csat_score == 5

    # The bot answers again.
    webchat.say("which payment methods do you accept?")
    webchat.wait_for(lambda t: "PayPal" in t)

    texts = webchat.texts()
    assert sum("I've asked UPS" in t for t in texts) == 1  # the retried event did nothing
    assert sum("marked your case as resolved" in t for t in texts) == 1  # nor the double click
    assert not any("stressed" in t or "generous" in t for t in texts)  # notes stay internal
    assert "white_check_mark" not in fake_slack.reactions(channel, reply_ts)
    tracker = rasa_stack.tracker(webchat.session_id)
    bot_texts = [e.get("text") for e in tracker["events"] if e["event"] == "bot"]
    assert "Hi Ava! I've asked UPS to prioritise it.\n— Maya" in bot_texts  # transcript whole
    assert not tracker["paused"]


def test_escalating_again_reopens_the_ticket(
    rasa_stack: RunningStack, fake_slack: FakeSlack, webchat: WebChatShopper
) -> None:
    url = rasa_stack.settings.database_url
    webchat.say("I want to talk to a human")
    webchat.wait_for(lambda t: "support team" in t)
    ticket = ticket_for(url, webchat.session_id)
    channel, ts = card_for(fake_slack, ticket)
    click(rasa_stack, RESOLVE, ticket.id, channel, ts)
    webchat.wait_for(lambda t: "from 1 (poor) to 5" in t)
    webchat.say("skip")
    time.sleep(0.5)

    webchat.say("the parcel arrived damaged, I want a person again")
    ack = webchat.wait_for(lambda t: "reopened your case" in t)
    reopened = ticket_for(url, webchat.session_id)
    assert reopened.id == ticket.id and f"#{ticket.id}" in ack
    assert reopened.status is TicketStatus.OPEN and reopened.reopen_count == 1
    wait_for_thread(fake_slack, channel, ts, lambda t: "Reopened" in t)
    wait_for_thread(fake_slack, channel, ts, lambda t: "arrived damaged" in t)


def test_full_loop_on_whatsapp(
    rasa_stack: RunningStack, fake_slack: FakeSlack, fake_providers: object
) -> None:
    from tests.channels.drivers import WhatsAppDriver
    from tests.channels.fake_providers import TWILIO, FakeProviders

    assert isinstance(fake_providers, FakeProviders)
    driver = WhatsAppDriver(SHARED / "fixtures", rasa_stack.settings.public_url)
    shopper = driver.new_sender()

    def whatsapp(text: str) -> None:
        assert driver.message(shopper, text).post(rasa_stack.rasa_url).status_code < 300

    def replies(count: int) -> list[str]:
        return [r.text for r in fake_providers.wait_for(TWILIO, shopper, count, timeout=30)]

    whatsapp("I want to speak to a human please")
    assert "support team" in replies(1)[-1]
    ticket = ticket_for(rasa_stack.settings.database_url, f"whatsapp:{shopper}")
    assert ticket.channel == "whatsapp"
    channel, ts = card_for(fake_slack, ticket)

    whatsapp("it's about order 10023")
    wait_for_thread(fake_slack, channel, ts, lambda t: "about order 10023" in t)
    agent_says(rasa_stack, channel, ts, "Happy to help! Checking 10023 now.")
    sent = replies(3)
    assert "joined the chat" in sent[1] and sent[2] == "Happy to help! Checking 10023 now.\n— Maya"

    def eventually_sent(predicate: Callable[[str], bool]) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for record in fake_providers.sent(TWILIO, shopper):
                if predicate(record.text):
                    return record.text
            time.sleep(0.05)
        raise AssertionError([r.text for r in fake_providers.sent(TWILIO, shopper)])

    click(rasa_stack, RESOLVE, ticket.id, channel, ts)
    eventually_sent(lambda t: "marked your case as resolved" in t)
    eventually_sent(lambda t: "from 1 (poor) to 5" in t)
    whatsapp("4")
    eventually_sent(lambda t: "Thank you for the rating" in t)
    assert fresh_ticket(rasa_stack.settings.database_url, ticket.id).csat_score == 4
    whatsapp("which payment methods do you accept?")
    eventually_sent(lambda t: "PayPal" in t)


def test_restart_mid_handoff_loses_nothing(
    rasa_stack: RunningStack, fake_slack: FakeSlack, webchat: WebChatShopper
) -> None:
    url = rasa_stack.settings.database_url
    supervisor = rasa_stack.supervisor
    webchat.say("I want to talk to a human")
    webchat.wait_for(lambda t: "support team" in t)
    ticket = ticket_for(url, webchat.session_id)
    channel, ts = card_for(fake_slack, ticket)
    click(rasa_stack, CLAIM, ticket.id, channel, ts)
    webchat.wait_for(lambda t: "joined the chat" in t)

    # The bridge hangs (SIGSTOP) while the shopper writes, then crashes (SIGKILL) and starts
    # again: it picks up Rasa's event stream where its stored cursor left it.
    bridge_pid = supervisor._procs["bridge"].pid  # the supervisor has no "pause one" API
    os.killpg(bridge_pid, signal.SIGSTOP)
    webchat.say("still there?")
    time.sleep(0.5)
    supervisor.restart("bridge", kill_signal=signal.SIGKILL)
    wait_for_thread(fake_slack, channel, ts, lambda t: "still there?" in t)
    agent_says(rasa_stack, channel, ts, "Yes! One moment please.")
    webchat.wait_for(lambda t: t == "Yes! One moment please.\n— Maya")

    # Rasa and the action server crash too: the conversation is still paused and with Maya,
    # and the web chat reconnects to the same session.
    supervisor.restart("rasa", kill_signal=signal.SIGKILL)
    supervisor.restart("actions", kill_signal=signal.SIGKILL)
    assert rasa_stack.tracker(webchat.session_id)["paused"]
    webchat.say("thanks, waiting")
    wait_for_thread(fake_slack, channel, ts, lambda t: "thanks, waiting" in t)
    agent_says(rasa_stack, channel, ts, "Done: it ships today.")
    webchat.wait_for(lambda t: t == "Done: it ships today.\n— Maya")
    assert fresh_ticket(url, ticket.id).status is TicketStatus.CLAIMED


def test_slack_outage_queues_shopper_messages_in_order(
    rasa_stack: RunningStack, fake_slack: FakeSlack, sender_id: str
) -> None:
    rasa_stack.say(sender_id, "I want to talk to a human")
    ticket = ticket_for(rasa_stack.settings.database_url, sender_id)
    channel, ts = card_for(fake_slack, ticket)

    fake_slack.set_outage(True)
    try:
        for n in range(4):
            rasa_stack.say(sender_id, f"update number {n}")
        time.sleep(2.0)  # the bridge retries against a Slack that answers 503
    finally:
        fake_slack.set_outage(False)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        relayed = [t for t in fake_slack.thread_texts(channel, ts) if "update number" in t]
        if len(relayed) == 4:
            break
        time.sleep(0.05)
    assert relayed == [f"*Shopper:* update number {n}" for n in range(4)]


def test_an_agent_in_the_terminal_reaches_the_web_chat_shopper(
    rasa_stack: RunningStack, fake_slack: FakeSlack, webchat: WebChatShopper
) -> None:
    from bot.processes.stack import rasa_environment, venv_bin

    def relaydesk(*argv: str) -> str:
        settings = rasa_stack.settings
        env = {
            **os.environ, **settings.to_env(), **rasa_environment(settings),
            "RELAYDESK_AGENT": "Kim Lee",
        }  # fmt: skip
        done = subprocess.run(
            [venv_bin("relaydesk"), "agent", *argv], env=env, capture_output=True, text=True,
            timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    webchat.say("can I speak to someone please")
    webchat.wait_for(lambda t: "support team" in t)
    ticket = ticket_for(rasa_stack.settings.database_url, webchat.session_id)
    assert f"#{ticket.id}" in relaydesk("list")
    relaydesk("claim", str(ticket.id))
    webchat.wait_for(lambda t: t.startswith("Kim from the") and "joined" in t)
    said = relaydesk("reply", str(ticket.id), "Hello from Kim!")
    assert "Sent to the web chat, which reports no deliveries" in said
    webchat.wait_for(lambda t: t == "Hello from Kim!\n— Kim")
    relaydesk("resolve", str(ticket.id))
    webchat.wait_for(lambda t: "Kim has marked your case as resolved" in t)
    # The Slack side shows it too: the card and the thread follow the CLI's actions.
    channel, ts = card_for(fake_slack, ticket)
    wait_for_thread(fake_slack, channel, ts, lambda t: "Hello from Kim!" in t)
