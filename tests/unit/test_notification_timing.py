"""The proactive-message timing rules (bot/domain/notification_timing.py), as one table."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.domain.notification_timing import (
    Action,
    MessageKind,
    QuietHours,
    Recipient,
    ShopRules,
    Verdict,
    decide,
)

K = MessageKind
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RULES = ShopRules(zone="Europe/Berlin", cap=2, whatsapp_templates={K.SHIPPED: "HX_shipped"})
RECENT = NOON - timedelta(hours=2)  # inside the 24-hour windows
OLD = NOON - timedelta(days=3)


def who(channel: str = "whatsapp", **changes: object) -> Recipient:
    base: dict[str, object] = {"consented": True, "last_inbound_at": RECENT, "zone": None}
    return Recipient(channel=channel, **{**base, **changes})  # type: ignore[arg-type]


CASES: list[tuple[str, MessageKind, Recipient, datetime, list[datetime], Verdict]] = [
    ("allowed", K.SHIPPED, who(), NOON, [], Verdict(Action.SEND, "allowed")),
    ("opted out wins over consent", K.SHIPPED, who(opted_out=True), NOON, [],
     Verdict(Action.WITHHOLD, "opted_out")),
    ("no consent", K.DELAYED, who(consented=False), NOON, [],
     Verdict(Action.WITHHOLD, "no_consent")),
    ("a person is on the case", K.DELAYED, who(person_working=True), NOON, [],
     Verdict(Action.TO_AGENT, "person_working")),
    ("telegram never started", K.SHIPPED, who("telegram", started=False), NOON, [],
     Verdict(Action.WITHHOLD, "not_started")),
    ("web chat waits for a visit", K.SHIPPED, who("webchat"), NOON, [],
     Verdict(Action.NEXT_VISIT, "next_visit")),
    ("whatsapp outside the window, template", K.SHIPPED, who(last_inbound_at=OLD), NOON, [],
     Verdict(Action.SEND, "allowed", template="HX_shipped")),
    ("whatsapp outside the window, no template", K.DELAYED, who(last_inbound_at=OLD), NOON, [],
     Verdict(Action.WITHHOLD, "no_template")),
    ("whatsapp never wrote", K.DELAYED, who(last_inbound_at=None), NOON, [],
     Verdict(Action.WITHHOLD, "no_template")),
    ("messenger outside the window, post-purchase", K.REFUND_ISSUED,
     who("messenger", last_inbound_at=OLD), NOON, [],
     Verdict(Action.SEND, "allowed", tag="POST_PURCHASE_UPDATE")),
    ("messenger outside the window, checkout", K.CHECKOUT_HELP,
     who("messenger", last_inbound_at=OLD), NOON, [], Verdict(Action.WITHHOLD, "outside_window")),
    ("quiet hours in the shop's zone (22:30 Berlin)", K.SHIPPED, who(),
     datetime(2026, 12, 1, 21, 30, tzinfo=UTC), [],
     Verdict(Action.DEFER, "quiet_hours", not_before=datetime(2026, 12, 2, 7, 0, tzinfo=UTC))),
    ("the shopper's own zone decides (noon UTC is 04:00 in LA)", K.SHIPPED,
     who(zone="America/Los_Angeles"), NOON, [],
     Verdict(Action.DEFER, "quiet_hours", not_before=datetime(2026, 12, 1, 16, 0, tzinfo=UTC))),
    ("cap reached", K.SHIPPED, who(), NOON, [NOON - timedelta(hours=5), NOON - timedelta(hours=1)],
     Verdict(Action.DEFER, "frequency_cap", not_before=NOON + timedelta(hours=19))),
    ("older messages do not count", K.SHIPPED, who(), NOON,
     [NOON - timedelta(hours=30), NOON - timedelta(hours=1)], Verdict(Action.SEND, "allowed")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "recipient", "now", "sent", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(
    kind: MessageKind, recipient: Recipient, now: datetime, sent: list[datetime], expected: Verdict
) -> None:
    assert decide(kind, recipient, RULES, now, sent) == expected


@pytest.mark.parametrize(
    ("start", "end", "moment", "inside"),
    [
        (time(21), time(8), time(23, 30), True),
        (time(21), time(8), time(7, 59), True),
        (time(21), time(8), time(8), False),
        (time(13), time(14), time(13, 30), True),
        (time(13), time(14), time(14, 30), False),
    ],
)
def test_quiet_hours(start: time, end: time, moment: time, inside: bool) -> None:
    assert QuietHours(start, end).contains(moment) is inside


def test_quiet_hours_end_across_a_dst_change() -> None:
    # Berlin leaves summer time on 2026-10-25 at 03:00: 08:00 local is 07:00 UTC that day.
    night = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 local, summer time
    verdict = decide(K.SHIPPED, who(), RULES, night)
    assert verdict.not_before == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        decide(K.SHIPPED, who(), RULES, datetime(2026, 12, 1, 12))
