"""A reply the shopper did not get is never shown as delivered (issue 9, point 7).

The rules are tables (`reply_status`: what each stage recorded → one state; `presentation`:
state → reaction, wording, way forward). Then the real bridge (aiohttp + bolt + workers)
against the fake Slack and a fake Rasa whose "channel" records `channel_outbound` rows the way
the WhatsApp channel does (origin "handoff:<delivery id>"), and `relaydesk agent show`. The
same through the running stack with the fake Twilio: tests/handoff/test_reply_delivery_loop.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.settings import Settings
from bot.store.channel_models import OutboundStatus
from bot.store.channel_store import ChannelStore
from bot.store.database import Database
from handoff.agent_cli import AgentConsole
from handoff.bridge.cards import RETRY
from handoff.bridge.reply_follower import next_look
from handoff.domain.delivery import (
    ChannelSend,
    ReplyState,
    ReplyStatus,
    ReplyTrail,
    origin_of,
    presentation,
    reply_status,
)
from handoff.domain.ticket_views import Agent
from handoff.store.outbox import Outbox
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import RunningBridge, open_ticket
from tests.handoff.fake_rasa import FakeRasa
from tests.handoff.fake_slack import FakeSlack
from tests.handoff.slack_requests import (
    button_click,
    message_event,
    post_event,
    post_interaction,
    vector,
)
from tests.handoff.test_slack_bridge import card_of, wait_until

SECRET = vector()["signing_secret"]
S = ReplyState
NO_TEMPLATE = ("outside WhatsApp's 24-hour window and no template configured "
               "(TWILIO_TEMPLATE_CONTENT_SID)")  # fmt: skip
TEMPLATE_SENT = "outside WhatsApp's 24-hour window; template HX01 sent instead"
ALREADY = ("outside WhatsApp's 24-hour window and the template was already sent; waiting for "
           "the shopper to write")  # fmt: skip


def sent(report: str | None = None) -> ChannelSend:
    return ChannelSend("sent", report)


@pytest.mark.parametrize(
    ("trail", "state", "reason", "template"),
    [
        (ReplyTrail("pending", None, "whatsapp"), S.QUEUED, None, False),
        (ReplyTrail("pending", "HTTP 503", "webchat"), S.QUEUED, "HTTP 503", False),
        (ReplyTrail("failed", "HTTP 404: no such conversation", "webchat"), S.REFUSED,
         "HTTP 404: no such conversation", False),
        # The web chat records nothing: once Rasa took it, "sent" is all anyone can say.
        (ReplyTrail("delivered", None, "webchat"), S.SENT, None, False),
        (ReplyTrail("delivered", None, "rest"), S.SENT, None, False),
        # A provider channel that has not recorded its send yet, and one that never does.
        (ReplyTrail("delivered", None, "whatsapp", waited=3), S.PASSED_ON, None, False),
        (ReplyTrail("delivered", None, "whatsapp", waited=121), S.UNCONFIRMED,
         "the channel recorded no send", False),
        (ReplyTrail("delivered", None, "whatsapp", (ChannelSend("pending"),)), S.SENDING, None,
         False),
        (ReplyTrail("delivered", None, "whatsapp", (sent(),)), S.SENT, None, False),
        (ReplyTrail("delivered", None, "whatsapp", (sent("queued"),)), S.SENT, None, False),
        (ReplyTrail("delivered", None, "whatsapp", (sent("sent"),)), S.SENT, None, False),
        (ReplyTrail("delivered", None, "whatsapp", (sent("delivered"),)), S.DELIVERED, None,
         False),
        (ReplyTrail("delivered", None, "whatsapp", (sent("read"),)), S.READ, None, False),
        # A long reply in two parts is as far as its least advanced part.
        (ReplyTrail("delivered", None, "whatsapp", (sent("read"), sent("sent"))), S.SENT, None,
         False),
        (ReplyTrail("delivered", None, "whatsapp", (sent("read"), sent("delivered"))),
         S.DELIVERED, None, False),
        # Telegram and Messenger accept, and report nothing more.
        (ReplyTrail("delivered", None, "telegram", (sent(),)), S.SENT, None, False),
        (ReplyTrail("delivered", None, "messenger", (sent("delivered"),)), S.SENT, None, False),
        # The 24-hour rule: withheld, with or without the template standing in.
        (ReplyTrail("delivered", None, "whatsapp",
                    (ChannelSend("blocked", last_error=NO_TEMPLATE),)),
         S.WITHHELD, NO_TEMPLATE, False),
        (ReplyTrail("delivered", None, "whatsapp",
                    (ChannelSend("blocked", last_error=TEMPLATE_SENT), sent("delivered"))),
         S.WITHHELD, TEMPLATE_SENT, True),
        # Failures: refused by the provider, or reported undelivered afterwards.
        (ReplyTrail("delivered", None, "whatsapp",
                    (ChannelSend("failed", last_error="HTTP 400: invalid To"),)),
         S.FAILED, "HTTP 400: invalid To", False),
        (ReplyTrail("delivered", None, "whatsapp",
                    (ChannelSend("sent", "undelivered", error_code="63016"),)),
         S.FAILED, None, False),
        (ReplyTrail("delivered", None, "whatsapp",
                    (sent("delivered"), ChannelSend("failed", last_error="HTTP 500"))),
         S.FAILED, "HTTP 500", False),
        (ReplyTrail("delivered", None, "telegram",
                    (ChannelSend("unknown", last_error="read timeout"),)),
         S.UNCONFIRMED, "read timeout", False),
        (ReplyTrail("delivered", None, "whatsapp", (sent("delivered"),), retried=True),
         S.RETRIED, None, False),
    ],
)  # fmt: skip
def test_what_each_stage_recorded_makes_one_state(
    trail: ReplyTrail, state: ReplyState, reason: str | None, template: bool
) -> None:
    status = reply_status(trail)
    assert (status.state, status.reason, status.template_sent) == (state, reason, template)


WA = "whatsapp"


@pytest.mark.parametrize(
    ("status", "reactions", "final", "retry", "says"),
    [
        (ReplyStatus(S.QUEUED, WA), ("hourglass_flowing_sand",), False, False, "Queued"),
        (ReplyStatus(S.PASSED_ON, WA), ("hourglass_flowing_sand",), False, False, "On its way"),
        (ReplyStatus(S.SENDING, WA), ("hourglass_flowing_sand",), False, False, "On its way"),
        (ReplyStatus(S.SENT, WA), ("outbox_tray",), False, False, "waiting for its delivery"),
        (ReplyStatus(S.SENT, "webchat"), ("outbox_tray",), True, False,
         "Sent to the web chat, which reports no deliveries"),
        (ReplyStatus(S.SENT, "telegram"), ("outbox_tray",), True, False, "Sent to Telegram"),
        (ReplyStatus(S.SENT, "jsonapi"), ("outbox_tray",), True, False,
         "the JSON API cannot push messages"),
        (ReplyStatus(S.DELIVERED, WA), ("white_check_mark",), False, False, "Delivered"),
        (ReplyStatus(S.READ, WA), ("white_check_mark", "eyes"), True, False, "Read"),
        (ReplyStatus(S.WITHHELD, WA, NO_TEMPLATE), ("no_entry_sign",), True, True,
         "set TWILIO_TEMPLATE_CONTENT_SID"),
        (ReplyStatus(S.WITHHELD, WA, TEMPLATE_SENT, template_sent=True), ("no_entry_sign",),
         True, True, "got the approved template"),
        (ReplyStatus(S.WITHHELD, WA, ALREADY), ("no_entry_sign",), True, True,
         "The shopper must write first"),
        (ReplyStatus(S.FAILED, WA, "HTTP 400: invalid To"), ("x",), True, True,
         "refused it (HTTP 400: invalid To)"),
        (ReplyStatus(S.FAILED, WA, None, "63016"), ("x",), True, True, "24-hour window"),
        (ReplyStatus(S.FAILED, WA, None, "63003"), ("x",), True, False,
         "reach the shopper another way"),
        (ReplyStatus(S.REFUSED, "webchat", "HTTP 404"), ("warning",), True, True,
         "Rasa refused it (HTTP 404)"),
        (ReplyStatus(S.UNCONFIRMED, "telegram", "read timeout"), ("grey_question",), True, True,
         "Ask the shopper"),
        (ReplyStatus(S.RETRIED, WA), (), True, False, "Sent again"),
    ],
)  # fmt: skip
def test_each_state_has_one_reaction_wording_and_way_forward(
    status: ReplyStatus, reactions: tuple[str, ...], final: bool, retry: bool, says: str
) -> None:
    shown = presentation(status)
    assert (shown.reactions, shown.final, shown.retry) == (reactions, final, retry)
    assert says in f"{shown.wording} {shown.way_forward or ''}"
    # Only "the shopper has it" carries a tick; only "the shopper lacks it" raises a problem.
    has_it = status.state in (S.DELIVERED, S.READ)
    assert ("white_check_mark" in shown.reactions) is has_it
    lacks_it = status.state in (S.WITHHELD, S.FAILED, S.REFUSED, S.UNCONFIRMED)
    assert shown.problem is lacks_it and (shown.way_forward is not None) is lacks_it


def test_follow_ups_back_off_and_stay_under_five_minutes() -> None:
    assert [next_look(w) for w in (0, 0.5, 1, 2, 4, 60, 3600)] == [0.5, 0.5, 1, 2, 4, 60, 300]


# -- the bridge, in-process ------------------------------------------------------------------


class Channel:
    """Plays the shopper's WhatsApp channel behind the fake Rasa: `mode` says what happens to
    the next bot message (sent, failed, withheld by the 24-hour rule)."""

    def __init__(self, database: Database) -> None:
        self.store = ChannelStore(database)
        self.mode = "sent"
        self.sids: dict[int, str] = {}

    def __call__(self, conversation: str, text: str, metadata: dict[str, Any]) -> None:
        delivery = metadata.get("handoff_delivery")
        if not conversation.startswith("whatsapp:") or not isinstance(delivery, int):
            return  # the web chat records nothing
        number, origin = conversation.removeprefix("whatsapp:"), origin_of(delivery)
        if self.mode == "withheld":
            self.store.new_outbound("whatsapp", number, "text", {"body": text}, inbound_id=None,
                                    status=OutboundStatus.BLOCKED, error=NO_TEMPLATE,
                                    origin=origin)  # fmt: skip
            return
        row = self.store.new_outbound("whatsapp", number, "text", {"body": text},
                                      inbound_id=None, origin=origin)  # fmt: skip
        if self.mode == "failed":
            self.store.outbound_attempt_failed(
                row, "HTTP 400: The 'To' number is not a valid WhatsApp user", final=True
            )
        else:
            self.sids[delivery] = f"SM{delivery:032d}"
            self.store.outbound_sent(row, self.sids[delivery])

    def report(self, delivery_id: int, status: str) -> None:
        """A Twilio status callback for the reply (the Rasa process records these)."""
        assert self.store.record_delivery_status("whatsapp", self.sids[delivery_id], status, None)


@pytest.fixture
def channel(database: Database) -> Channel:
    return Channel(database)


@pytest.fixture
def rasa(handoff_settings: Settings, channel: Channel) -> Iterator[FakeRasa]:
    with FakeRasa(handoff_settings.rasa_port, handoff_settings.rasa_token, channel) as fake:
        yield fake


def reply_in_slack(
    bridge: RunningBridge, fake: FakeSlack, tickets: TicketStore, conversation: str, text: str
) -> tuple[int, str, str, str]:
    """An agent's thread reply on a new ticket: (ticket id, channel, thread ts, reply ts)."""
    channel_name = conversation.split(":")[0] if ":" in conversation else "webchat"
    ticket = open_ticket(tickets, conversation, channel=channel_name)
    channel, ts = card_of(fake, ticket)
    event = message_event(channel, ts, "W111", text)
    assert post_event(bridge.events_url, SECRET, event).status_code == 200
    return ticket.id, channel, ts, str(event["event"]["ts"])


def shown_for(database: Database) -> Callable[[int], list[str]]:
    def show(ticket_id: int) -> list[str]:
        lines: list[str] = []
        tickets = TicketStore(database, slack_enabled=False)
        AgentConsole(tickets, Outbox(database), Agent("cli:kim", "Kim Lee"), lines.append).show(
            ticket_id
        )
        return lines

    return show


def reply_delivery(database: Database, ticket_id: int) -> int:
    records = TicketStore(database, slack_enabled=False).replies(ticket_id)
    assert len(records) == 1
    return next(iter(records.values())).delivery_id


def test_whatsapp_reply_gets_the_tick_only_after_the_delivered_report(
    running_bridge: RunningBridge,
    rasa: FakeRasa,
    channel: Channel,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket_id, slack_channel, _, reply_ts = reply_in_slack(
        running_bridge, fake_slack_api, tickets, "whatsapp:+14155550101", "Checking now."
    )
    wait_until(lambda: fake_slack_api.reactions(slack_channel, reply_ts) == ["outbox_tray"])
    time.sleep(1.5)  # several follow-ups later, still no report: still no tick
    assert fake_slack_api.reactions(slack_channel, reply_ts) == ["outbox_tray"]
    assert any("waiting for its delivery report" in line for line in shown_for(database)(1))

    channel.report(reply_delivery(database, ticket_id), "delivered")
    wait_until(lambda: fake_slack_api.reactions(slack_channel, reply_ts) == ["white_check_mark"])
    assert any("Delivered: the shopper has it" in line for line in shown_for(database)(1))
    channel.report(reply_delivery(database, ticket_id), "read")
    wait_until(
        lambda: fake_slack_api.reactions(slack_channel, reply_ts) == ["white_check_mark", "eyes"]
    )
    # The reaction calls went out in order: queued, sent, delivered, read.
    adds = [c.args["name"] for c in fake_slack_api.calls_to("reactions.add", timestamp=reply_ts)]
    assert adds == ["hourglass_flowing_sand", "outbox_tray", "white_check_mark", "eyes"]
    # Nothing went wrong, so no notice in the thread (notices are the thread posts with blocks).
    thread_posts = [
        c for c in fake_slack_api.calls_to("chat.postMessage") if c.args.get("thread_ts")
    ]
    assert thread_posts and not [c for c in thread_posts if c.args.get("blocks")]


def test_withheld_and_failed_replies_never_get_the_tick_and_say_why(
    running_bridge: RunningBridge,
    rasa: FakeRasa,
    channel: Channel,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    channel.mode = "withheld"
    ticket_id, slack_channel, ts, reply_ts = reply_in_slack(
        running_bridge, fake_slack_api, tickets, "whatsapp:+14155550102", "Your refund is done."
    )
    wait_until(lambda: fake_slack_api.reactions(slack_channel, reply_ts) == ["no_entry_sign"])
    notice = fake_slack_api.wait_for(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == ts and RETRY in str(c.args)
    )
    assert "24-hour rule" in notice.args["text"]
    assert "TWILIO_TEMPLATE_CONTENT_SID" in notice.args["text"]
    shown = "\n".join(shown_for(database)(ticket_id))
    assert "Withheld by WhatsApp's 24-hour rule" in shown
    assert "set TWILIO_TEMPLATE_CONTENT_SID" in shown and "relaydesk agent retry" in shown

    # The shopper writes again; the agent presses Retry (twice): one new send, which fails
    # at Twilio this time.
    channel.mode = "failed"
    delivery = reply_delivery(database, ticket_id)
    for _ in range(2):
        click = button_click(RETRY, delivery, "W111", slack_channel, notice.response["ts"],
                             response_url=fake_slack_api.response_url("retry"))  # fmt: skip
        assert post_interaction(running_bridge.events_url, SECRET, click).status_code == 200
    wait_until(lambda: fake_slack_api.reactions(slack_channel, reply_ts) == ["x"])
    failed = fake_slack_api.wait_for(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == ts and "Not delivered" in
        c.args["text"],
    )  # fmt: skip
    assert "not a valid WhatsApp user" in failed.args["text"]
    assert len([s for s in rasa.said if s[1].startswith("Your refund")]) == 2  # once + 1 retry
    assert "sent it again" in fake_slack_api.wait_for("response_url").args["text"]
    shown = "\n".join(shown_for(database)(ticket_id))
    assert "not a valid WhatsApp user" in shown
    every_reaction = {
        c.args["name"] for c in fake_slack_api.calls_to("reactions.add", timestamp=reply_ts)
    }
    assert "white_check_mark" not in every_reaction  # fmt: skip


def test_web_chat_replies_are_sent_never_delivered(
    running_bridge: RunningBridge,
    rasa: FakeRasa,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket_id, slack_channel, _, reply_ts = reply_in_slack(
        running_bridge, fake_slack_api, tickets, "webchat-session-1", "Hello from Maya"
    )
    wait_until(lambda: fake_slack_api.reactions(slack_channel, reply_ts) == ["outbox_tray"])
    assert any("Hello from Maya" in said for _, said, _ in rasa.said)
    time.sleep(1.0)
    assert fake_slack_api.reactions(slack_channel, reply_ts) == ["outbox_tray"]
    assert any("Sent to the web chat, which reports no deliveries" in line
               for line in shown_for(database)(ticket_id))  # fmt: skip
    # Final: nothing is followed any more, so the idle bridge has nothing to look at.
    assert Outbox(database).next_follow_up() is None


def test_an_idle_follower_asks_the_database_nothing(database: Database) -> None:
    """No busy polling: with nothing on its way the follower knows it has nothing to do."""
    from sqlalchemy import event

    from handoff.bridge.reply_follower import ReplyFollower
    from handoff.store.receipts import ReplySends

    tickets = TicketStore(database, slack_enabled=False)
    now = {"at": datetime.now(UTC)}
    outbox = Outbox(database, clock=lambda: now["at"])
    follower = ReplyFollower(outbox, tickets, ReplySends(database), clock=lambda: now["at"])
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))  # fmt: skip

    follower.run_due()  # the first round looks (a restart resumes what was followed)
    assert statements
    statements.clear()
    for _ in range(1000):
        now["at"] += timedelta(seconds=0.25)
        assert follower.run_due() == 0
    assert statements == []

    # A reply handed over is looked at at once; once final, the quiet returns.
    ticket = open_ticket(tickets, "webchat-idle")
    outcome = tickets.reply(ticket.id, Agent("cli:kim", "Kim Lee"), "hi", via="cli")
    assert outcome.shopper_delivery_id is not None
    outbox.delivered(outcome.shopper_delivery_id)
    outbox.follow(outcome.shopper_delivery_id)
    follower.expect()
    assert follower.run_due() == 1
    statements.clear()
    for _ in range(100):
        now["at"] += timedelta(seconds=0.25)
        follower.run_due()
    assert statements == []


def test_the_worker_loop_wakes_for_a_due_follow_up_without_polling() -> None:
    """However long the bridge's idle wait (event-driven: seconds between store writes), a
    reply due to be looked at is looked at on time, and an idle worker is not woken."""
    import asyncio

    from handoff.bridge.workers import run_forever

    class Worker:
        def __init__(self, due: float | None) -> None:
            self.due, self.rounds = due, 0

        async def run_once(self) -> int:
            self.rounds += 1
            return 0

        def seconds_until_due(self) -> float | None:
            return self.due

    async def rounds_in(worker: Worker, seconds: float) -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_forever(worker.run_once, asyncio.Event(), stop, idle_seconds=30, name="test")
        )
        await asyncio.sleep(seconds)
        stop.set()
        task.cancel()
        return worker.rounds

    assert asyncio.run(rounds_in(Worker(0.1), 0.55)) in range(4, 8)
    assert asyncio.run(rounds_in(Worker(None), 0.55)) == 1
