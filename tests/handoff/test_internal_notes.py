"""Internal notes never reach a shopper by a typo (issue 9, point 4).

The rule (`classify_agent_text`) is a table; the rest goes through the bridge's real HTTP
Slack endpoint (aiohttp + slack-bolt, signed like Slack signs) against the fake Slack Web API,
and through `relaydesk agent`.
"""

from __future__ import annotations

import time

import pytest

from bot.cli import main
from bot.settings import Settings
from bot.store.database import Database
from handoff.bridge.cards import KEEP_HELD, NOTE, NOTE_FORM, NOTE_INPUT, SEND_HELD
from handoff.domain.messages import AgentText, classify_agent_text
from handoff.domain.ticket import MessageDirection, TicketStatus
from handoff.store.tickets import TicketStore
from tests.handoff.conftest import RunningBridge, open_ticket
from tests.handoff.fake_slack import FakeSlack
from tests.handoff.slack_requests import (
    button_click,
    message_event,
    post_event,
    post_interaction,
    vector,
    view_submission,
)
from tests.handoff.test_slack_bridge import card_of, shopper_deliveries, wait_until

SECRET = vector()["signing_secret"]
NOTE_, NEAR, REPLY = AgentText.NOTE, AgentText.NEAR_MISS, AgentText.REPLY


@pytest.mark.parametrize(
    ("prefix", "text", "expected"),
    [
        # The prefix, in any case and after spaces, is a note.
        ("!note", "!note VIP, keep it short", NOTE_),
        ("!note", "!Note VIP", NOTE_),
        ("!note", "  !NOTE called UPS", NOTE_),
        ("!note", "!notes: called UPS", NOTE_),
        ("//", "// she sounds stressed", NOTE_),
        ("//", "\uff0f\uff0f full-width slashes are the same characters", NOTE_),
        # Near misses of "!note" (the list, and their cousins) are held back.
        ("!note", "note: she sounds stressed", NEAR),
        ("!note", "!nte called UPS", NEAR),
        ("!note", "! note called UPS", NEAR),
        ("!note", "(note) called UPS", NEAR),
        ("!note", "internal: refund approved", NEAR),
        ("!note", "!ntoe swapped letters", NEAR),
        ("!note", "!nteVIP glued to the text", NEAR),
        ("!note", "note VIP, forgot the bang", NEAR),
        ("!note", "Note that she is a VIP", NEAR),  # ambiguous: one click to send it anyway
        ("!note", "[Internal] escalate to billing", NEAR),
        ("!note", "*private* she disputes it", NEAR),
        ("!note", "NOTE - called UPS", NEAR),
        ("!note", "note to self: call back", NEAR),
        ("!note", ":memo: called UPS", NEAR),
        ("!note", "/note called UPS", NEAR),
        # Near misses of "//".
        ("//", "/ she sounds stressed", NEAR),
        ("//", "/", NEAR),
        ("//", "/ / spaced out", NEAR),
        ("//", "\\\\ backslashes", NEAR),
        ("//", "note: she sounds stressed", NEAR),
        ("//", "(internal) refund approved", NEAR),
        ("//", "!note another team's habit", NEAR),
        # Replies stay replies, including ones that start like a note word.
        ("!note", "Your replacement ships today.", REPLY),
        ("!note", "Noted, thanks! I'll check.", REPLY),
        ("!note", "Noted.", REPLY),
        ("!note", "Not sure yet, checking with UPS.", REPLY),
        ("!note", "Nothing to worry about.", REPLY),
        ("!note", "Notifications are on their way.", REPLY),
        ("!note", "Private sale starts Monday!", REPLY),
        ("//", "1/2 of the refund is already back", REPLY),
        ("//", "https://northwind.example/returns", REPLY),
        ("//", "? sorry, which order?", REPLY),
        ("//", "Note that the courier may call.", REPLY),
        ("//", "", REPLY),
        # No prefix configured: only the label words hold a message back.
        ("", "note: called UPS", NEAR),
        ("", "// looks like a note", REPLY),
        ("", "Your replacement ships today.", REPLY),
    ],
)
def test_which_thread_messages_are_notes(prefix: str, text: str, expected: AgentText) -> None:
    assert classify_agent_text(text, prefix) is expected


def _notes(tickets: TicketStore, ticket_id: int) -> list[str]:
    return [m.text for m in tickets.messages(ticket_id) if m.direction is MessageDirection.NOTE]


def test_a_near_miss_in_the_thread_never_reaches_the_shopper(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
    handoff_settings: Settings,
) -> None:
    assert handoff_settings.handoff.note_prefix == "//"
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)
    near = message_event(channel, ts, "W111", "/ she sounds stressed, keep it short")
    note = message_event(channel, ts, "W111", "// VIP, be generous")

    assert post_event(running_bridge.events_url, SECRET, near).status_code == 200
    assert post_event(running_bridge.events_url, SECRET, near, retry=1).status_code == 200
    assert post_event(running_bridge.events_url, SECRET, note).status_code == 200

    # The agent is asked, in the thread and only they see it, with two buttons.
    prompt = fake_slack_api.wait_for("chat.postEphemeral", lambda c: "blocks" in c.args)
    assert prompt.args["user"] == "W111" and prompt.args["thread_ts"] == ts
    assert SEND_HELD in str(prompt.args["blocks"]) and KEEP_HELD in str(prompt.args["blocks"])
    assert "Not sent to the shopper" in prompt.args["text"]
    wait_until(lambda: len(_notes(tickets, ticket.id)) == 2)
    wait_until(lambda: fake_slack_api.reactions(channel, note["event"]["ts"]) == ["memo"])
    time.sleep(0.3)  # a duplicate or a send would have shown by now
    assert shopper_deliveries(database) == []  # not even the "joined" notice: nobody replied
    assert len(fake_slack_api.calls_to("chat.postEphemeral")) == 1  # the retry did nothing
    assert tickets.get(ticket.id).status is TicketStatus.OPEN  # type: ignore[union-attr]


def test_the_agent_can_send_a_held_message_after_all_once(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)
    held = message_event(channel, ts, "W111", "Note: your parcel is insured.")
    post_event(running_bridge.events_url, SECRET, held)
    prompt = fake_slack_api.wait_for("chat.postEphemeral", lambda c: "blocks" in c.args)
    note_id = int(str(prompt.args["blocks"]).split("'value': '")[1].split("'")[0])
    url = fake_slack_api.response_url("held")

    for _ in range(2):  # a double click
        click = button_click(SEND_HELD, note_id, "W111", channel, ts, ephemeral=True,
                             response_url=url)  # fmt: skip
        assert post_interaction(running_bridge.events_url, SECRET, click).status_code == 200
    wait_until(lambda: len(shopper_deliveries(database, "say")) == 2)
    time.sleep(0.3)
    says = [s["text"] for s in shopper_deliveries(database, "say")]
    assert says == [
        "Maya from the Northwind Outfitters team has joined the chat.",
        "Note: your parcel is insured.\n— Maya",
    ]
    replaced = fake_slack_api.wait_for("response_url")
    assert replaced.args["replace_original"] is True and "after all" in replaced.args["text"]


def test_keeping_a_held_message_internal_sends_nothing(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)
    post_event(running_bridge.events_url, SECRET,
               message_event(channel, ts, "W111", "!note wrong team's prefix"))  # fmt: skip
    prompt = fake_slack_api.wait_for("chat.postEphemeral", lambda c: "blocks" in c.args)
    note_id = int(str(prompt.args["blocks"]).split("'value': '")[1].split("'")[0])
    click = button_click(KEEP_HELD, note_id, "W111", channel, ts, ephemeral=True,
                         response_url=fake_slack_api.response_url("keep"))  # fmt: skip
    assert post_interaction(running_bridge.events_url, SECRET, click).status_code == 200
    assert "Kept as an internal note" in fake_slack_api.wait_for("response_url").args["text"]
    time.sleep(0.3)
    assert shopper_deliveries(database) == []
    assert _notes(tickets, ticket.id) == ["!note wrong team's prefix"]


def test_add_note_on_the_card_opens_a_form_whose_text_is_always_internal(
    running_bridge: RunningBridge,
    tickets: TicketStore,
    database: Database,
    fake_slack_api: FakeSlack,
) -> None:
    ticket = open_ticket(tickets)
    channel, ts = card_of(fake_slack_api, ticket)
    card = fake_slack_api.wait_for("chat.postMessage", lambda c: c.response.get("ts") == ts)
    assert NOTE in str(card.args["blocks"])

    click = button_click(NOTE, ticket.id, "W111", channel, ts)
    assert post_interaction(running_bridge.events_url, SECRET, click).status_code == 200
    opened = fake_slack_api.wait_for("views.open")
    assert opened.args["trigger_id"] == click["trigger_id"]
    view = opened.args["view"]
    assert view["callback_id"] == NOTE_FORM and view["private_metadata"] == str(ticket.id)

    # Text that would be a reply in the thread is a note here.
    submitted = view_submission(view, "W111", {NOTE_INPUT: {NOTE_INPUT: "Your refund is done"}})
    for _ in range(2):  # Slack retries a slow submission with the same view
        response = post_interaction(running_bridge.events_url, SECRET, submitted)
        assert response.status_code == 200 and not response.text.strip()  # the form closes
    wait_until(lambda: _notes(tickets, ticket.id) == ["Your refund is done"])
    echo = fake_slack_api.wait_for("chat.postMessage", lambda c: "(note)" in c.args["text"])
    assert echo.args["thread_ts"] == ts and "Your refund is done" in echo.args["text"]
    time.sleep(0.3)
    assert shopper_deliveries(database) == [] and len(_notes(tickets, ticket.id)) == 1

    # Someone not on the list can neither open the form nor save through it.
    outsider = view_submission(view, "W999", {NOTE_INPUT: {NOTE_INPUT: "sneaky"}})
    post_interaction(running_bridge.events_url, SECRET, outsider)
    time.sleep(0.3)
    assert _notes(tickets, ticket.id) == ["Your refund is done"]


def relaydesk(*argv: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return int(exit_.value.code or 0)


def test_the_terminal_has_an_explicit_note_and_refuses_note_looking_replies(
    monkeypatch: pytest.MonkeyPatch, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(database.url))
    monkeypatch.setenv("RELAYDESK_AGENT", "Maya Lopez")
    monkeypatch.setenv("HANDOFF_NOTE_PREFIX", "!note")
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    tickets = TicketStore(database, slack_enabled=False)
    ticket = open_ticket(tickets)

    assert relaydesk("agent", "note", str(ticket.id), "Your refund is done") == 0
    for text in ("!nte called UPS", "note: called UPS", "!note called UPS"):
        assert relaydesk("agent", "reply", str(ticket.id), text, "--wait", "0") == 1
        refused = capsys.readouterr().out
        assert "Not sent" in refused and "relaydesk agent note" in refused
    assert shopper_deliveries(database) == []
    assert _notes(tickets, ticket.id) == ["Your refund is done"]

    assert relaydesk("agent", "reply", str(ticket.id), "note: insured", "--as-is",
                     "--wait", "0") == 0  # fmt: skip
    assert [s["text"] for s in shopper_deliveries(database, "say")][-1] == "note: insured\n— Maya"
