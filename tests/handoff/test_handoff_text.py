"""Pure text helpers of the handoff: cues in shopper text, masking, transcripts, ratings,
acknowledgements and signatures."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.domain.csat import SKIPPED, parse_rating
from handoff.domain.escalation_text import Cue, cues
from handoff.domain.masking import mask_secrets
from handoff.domain.messages import (
    QueueState,
    acknowledgement,
    first_name,
    is_internal_note,
    signed,
)
from handoff.domain.transcript import summarise
from handoff.mrkdwn import paginate, thread_line
from handoff.rasa_events import transcript_lines

LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is my order?", set()),
        ("it hasn't arrived yet", {Cue.NOT_RECEIVED}),
        ("let me speak to a manager", {Cue.ASKS_FOR_PERSON}),
        ("HUMAN!!", {Cue.ASKS_FOR_PERSON}),
        ("is there a live agent?", {Cue.ASKS_FOR_PERSON}),
        ("the bottle is dented", {Cue.ITEM_PROBLEM}),
        ("UPS lost my parcel", {Cue.LOST}),
        ("it says delivered but nothing arrived",
         {Cue.MENTIONS_DELIVERED, Cue.NOT_RECEIVED}),
        ("it says delivered but I don't have it", {Cue.MENTIONS_DELIVERED, Cue.NOT_RECEIVED}),
        ("marked as delivered but it is not here", {Cue.MENTIONS_DELIVERED, Cue.NOT_RECEIVED}),
        ("tracking shows delivered, I can't find it anywhere",
         {Cue.MENTIONS_DELIVERED, Cue.NOT_RECEIVED}),
        ("I don't have my order number", set()),
        ("I'm disputing the charge with PayPal, paypal dispute opened", {Cue.CHARGEBACK}),
        ("this is a scam", {Cue.FRAUD}),
        ("I will sue you", {Cue.LEGAL_THREAT}),
        ("I want my money back", {Cue.RETURN_OR_REFUND}),
    ],
)  # fmt: skip
def test_cues(text: str, expected: set[Cue]) -> None:
    assert cues(text) == expected


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("my card is 4242 4242 4242 4242 exp 12/28", "my card is [card ending 4242] exp 12/28"),
        ("4111-1111-1111-1111", "[card ending 1111]"),
        ("cvv: 123", "cvv: •••"),
        ("my password is hunter2", "my password is •••"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN [IBAN ending 3000]"),
        ("ssn 123-45-6789", "ssn [SSN]"),
        # Order and tracking numbers stay readable (not Luhn-valid card-length numbers).
        ("order 10023, tracking 1Z999AA10123456784", "order 10023, tracking 1Z999AA10123456784"),
        ("call +1 415 555 0123 or (415) 555-0124", "call +***0123 or ***0124"),
        ("it's ava.martin@example.com", "it's a***@example.com"),
    ],
)
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def user(text: str, ts: float, **metadata: object) -> dict[str, object]:
    return {"event": "user", "text": text, "timestamp": ts, "metadata": metadata,
            "parse_data": {"intent": {"name": "x"}}}  # fmt: skip


def bot(text: str, ts: float, buttons: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {"event": "bot", "text": text, "timestamp": ts, "data": {"buttons": buttons or []}}


def test_transcript_lines_mask_show_buttons_and_links() -> None:
    events = [
        user("hi, card 4242424242424242", 1.0),
        bot("Hello!", 2.0, [{"title": "Talk to a person", "payload": "/contact_human_agent"}]),
        user("/contact_human_agent", 3.0),
        user("photo", 4.0, attachments=[{"kind": "image", "url": "https://x.example/p.jpg"}]),
        {"event": "user", "text": "EXTERNAL: ping", "timestamp": 5.0,
         "metadata": {"is_external": True}},
    ]  # fmt: skip
    lines = transcript_lines(events)
    assert [thread_line(line) for line in lines] == [
        "*Shopper:* hi, card [card ending 4242]",
        "*Bot:* Hello!",
        "*Shopper:* [clicked] Talk to a person",
        "*Shopper:* photo\n📎 image: https://x.example/p.jpg",
    ]
    assert [line.text for line in transcript_lines(events, after=3.0)] == [lines[-1].text]


def test_transcript_leaves_out_earlier_handoffs() -> None:
    events = [
        user("help", 1.0),
        {"event": "action", "name": "action_handoff", "timestamp": 2.0},
        bot("passed on", 2.1),
        {"event": "pause", "timestamp": 2.2},
        user("during the handoff", 3.0),
        {"event": "resume", "timestamp": 4.0},
        bot("rate us", 4.1),
    ]
    assert [line.text for line in transcript_lines(events)] == ["help", "rate us"]


def test_long_transcripts_are_paginated() -> None:
    events = [user("x" * 500, float(i)) for i in range(20)]
    pages = paginate(transcript_lines(events), limit=1200)
    assert len(pages) == 10
    assert pages[0].startswith("_Transcript (1/10)_") and pages[-1].startswith("_Transcript (10/")
    assert all(len(page) <= 1200 + 30 for page in pages)


def test_summary_quotes_the_latest_shopper_words() -> None:
    lines = transcript_lines([user("one", 1), bot("b", 2), user("two", 3)])
    assert summarise(lines) == "“one” / “two”"


@pytest.mark.parametrize(
    ("text", "rating"),
    [("4", 4), ("5/5", 5), ("I'd give it a 3", 3), ("five stars", 5), ("⭐⭐", 2),
     ("skip", SKIPPED), ("no thanks", SKIPPED), ("6", None), ("where is my order 12345", None),
     ("", None)],
)  # fmt: skip
def test_parse_rating(text: str, rating: int | str | None) -> None:
    assert parse_rating(text) == rating


def test_acknowledgement_is_honest_about_queue_and_hours() -> None:
    now = datetime(2026, 11, 16, 10, tzinfo=LA)
    state = QueueState(12, 3, 4.2, 15, True, now)
    text = acknowledgement(state, now, LA)
    assert "case #12" in text and "number 3 in the queue" in text and "about 5 minutes" in text
    no_history = acknowledgement(QueueState(12, 1, None, 5, True, now), now, LA)
    assert "next in line" in no_history and "aim to reply within about 5 minutes" in no_history
    closed = acknowledgement(
        QueueState(12, 1, None, 5, False, datetime(2026, 11, 17, 9, tzinfo=LA)),
        datetime(2026, 11, 16, 20, tzinfo=LA), LA,
    )  # fmt: skip
    assert "offline" in closed and "tomorrow at 09:00 PST" in closed
    reopened = acknowledgement(QueueState(12, 1, None, 5, True, now, reopened=True), now, LA)
    assert reopened.startswith("I've reopened your case #12")


def test_signatures_and_notes() -> None:
    assert first_name("Maya Lopez") == "Maya" and first_name(" ") == "our team"
    assert signed("Your refund is on its way. ", "Maya") == "Your refund is on its way.\n— Maya"
    assert is_internal_note("// check the carrier", "//")
    assert not is_internal_note("ok, done", "//")
