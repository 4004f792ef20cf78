"""Whether a proactive message (a shipping update, a delay notice...) may go to a shopper now.

Issue 12 (proactive messages) builds on this; nothing sends with it yet. The rules, checked in
this order, first match wins:

| # | Case | Verdict |
| --- | --- | --- |
| 1 | the shopper opted out on this channel | withhold (`opted_out`) |
| 2 | no consent recorded on this channel | withhold (`no_consent`) |
| 3 | a person is working the shopper's case | to the agent's thread (`person_working`) |
| 4 | Telegram, and the shopper never started the bot | withhold (`not_started`) |
| 5 | web chat | at the next visit (`next_visit`) |
| 6 | WhatsApp outside the 24-hour window, no template for the kind | withhold (`no_template`) |
| 7 | Messenger outside the 24-hour window, a kind no tag covers | withhold (`outside_window`) |
| 8 | quiet hours in the shopper's zone (else the shop's) | defer to their end |
| 9 | the frequency cap reached in the last 24 hours | defer until the cap frees up |
| 10 | otherwise | send (with the template or tag rule 6 / 7 needs) |

Pure: plain values in, a verdict out; every time is passed in (aware datetimes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

#: WhatsApp's customer-service window and Messenger's standard messaging window.
SERVICE_WINDOW = timedelta(hours=24)
CAP_PERIOD = timedelta(hours=24)


class MessageKind(StrEnum):
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELAYED = "delayed"
    DELIVERY_CHECK_IN = "delivery_check_in"
    BACK_IN_STOCK = "back_in_stock"
    CHECKOUT_HELP = "checkout_help"
    REFUND_ISSUED = "refund_issued"


#: Messenger outside the window only with a message tag; POST_PURCHASE_UPDATE covers updates
#: about a purchase (shipping, delivery, refunds), nothing promotional or about a cart.
MESSENGER_POST_PURCHASE = frozenset(
    {
        MessageKind.SHIPPED,
        MessageKind.OUT_FOR_DELIVERY,
        MessageKind.DELAYED,
        MessageKind.REFUND_ISSUED,
    }
)
POST_PURCHASE_TAG = "POST_PURCHASE_UPDATE"


class Action(StrEnum):
    SEND = "send"
    DEFER = "defer"
    WITHHOLD = "withhold"
    #: Post it in the thread of the person working the case instead.
    TO_AGENT = "to_agent"
    #: The web chat has no way to reach a shopper who is not there: show it next visit.
    NEXT_VISIT = "next_visit"


@dataclass(frozen=True)
class QuietHours:
    """Local hours without proactive messages; `start` after `end` spans midnight."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Recipient:
    channel: str
    consented: bool
    opted_out: bool = False
    #: When the shopper last wrote on this channel (opens the 24-hour windows).
    last_inbound_at: datetime | None = None
    #: Telegram: the shopper started the bot (a bot may not write first).
    started: bool = True
    #: IANA zone of the shopper, when known.
    zone: str | None = None
    #: A person is working the shopper's case right now.
    person_working: bool = False


@dataclass(frozen=True)
class ShopRules:
    zone: str = "UTC"
    quiet_hours: QuietHours = QuietHours()
    #: At most this many proactive messages per shopper in 24 hours.
    cap: int = 3
    #: Approved WhatsApp templates by kind (the template's SID or name).
    whatsapp_templates: dict[MessageKind, str] | None = None


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str
    #: DEFER: not before then.
    not_before: datetime | None = None
    #: SEND on WhatsApp outside the window: the approved template to send.
    template: str | None = None
    #: SEND on Messenger outside the window: the message tag.
    tag: str | None = None


def decide(
    kind: MessageKind,
    recipient: Recipient,
    rules: ShopRules,
    now: datetime,
    sent_recently: Sequence[datetime] = (),
) -> Verdict:
    """The verdict for sending `kind` to `recipient` at `now`; `sent_recently` are the times
    proactive messages already went to this shopper (any channel)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if recipient.opted_out:
        return Verdict(Action.WITHHOLD, "opted_out")
    if not recipient.consented:
        return Verdict(Action.WITHHOLD, "no_consent")
    if recipient.person_working:
        return Verdict(Action.TO_AGENT, "person_working")
    if recipient.channel == "telegram" and not recipient.started:
        return Verdict(Action.WITHHOLD, "not_started")
    if recipient.channel == "webchat":
        return Verdict(Action.NEXT_VISIT, "next_visit")
    in_window = (
        recipient.last_inbound_at is not None and now - recipient.last_inbound_at < SERVICE_WINDOW
    )
    template = tag = None
    if recipient.channel == "whatsapp" and not in_window:
        template = (rules.whatsapp_templates or {}).get(kind)
        if template is None:
            return Verdict(Action.WITHHOLD, "no_template")
    if recipient.channel == "messenger" and not in_window:
        if kind not in MESSENGER_POST_PURCHASE:
            return Verdict(Action.WITHHOLD, "outside_window")
        tag = POST_PURCHASE_TAG
    quiet_end = _quiet_hours_end(now, ZoneInfo(recipient.zone or rules.zone), rules.quiet_hours)
    if quiet_end is not None:
        return Verdict(Action.DEFER, "quiet_hours", not_before=quiet_end)
    counted = sorted(t for t in sent_recently if now - t < CAP_PERIOD)
    if len(counted) >= rules.cap:
        # The earliest moment the count in the last 24 hours falls below the cap.
        return Verdict(
            Action.DEFER, "frequency_cap", not_before=counted[len(counted) - rules.cap] + CAP_PERIOD
        )
    return Verdict(Action.SEND, "allowed", template=template, tag=tag)


def _quiet_hours_end(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """When the quiet hours `now` falls in end (an aware datetime), or None outside them."""
    local = now.astimezone(zone)
    if not quiet.contains(local.timetz().replace(tzinfo=None)):
        return None
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Built from local wall time, then normalised: correct across a DST change.
    return end.replace(tzinfo=None).replace(tzinfo=zone).astimezone(now.tzinfo)
