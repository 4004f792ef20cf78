"""Did the shopper get the agent's reply? The true state of one reply, and how it is shown. Pure.

A reply travels: the bridge's outbox → Rasa (`POST tracker/events`, a `bot` event tagged with
the outbox delivery id) → the shopper's channel, which records every provider send in
`channel_outbound` with `origin = "handoff:<delivery id>"` → the provider's delivery reports
(Twilio's status callbacks). `reply_status` folds what each stage recorded into one state;
`presentation` says how the agent sees it (Slack reaction, wording, what to do next).

Only WhatsApp (Twilio) reports deliveries. Messenger and Telegram say "accepted" and nothing
more; the web chat writes into an open socket and records nothing at all. For those the honest
best is "sent", never a ✅.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

#: Channels whose sends are recorded in `channel_outbound` (channels/core/channel.py).
PROVIDER_CHANNELS = frozenset({"whatsapp", "messenger", "telegram"})
#: Channels whose provider reports delivered / read (Twilio status callbacks).
RECEIPT_CHANNELS = frozenset({"whatsapp"})
#: Channels that answer only within the shopper's own request (Rasa's REST channel, the JSON
#: API): a message pushed later is recorded in the conversation but reaches nobody by itself.
NO_PUSH_CHANNELS = frozenset({"rest", "jsonapi"})
#: How long a provider channel may take to record its send before we stop expecting one.
NO_RECORD_AFTER_SECONDS = 120.0

CHANNEL_NAMES = {"webchat": "the web chat", "whatsapp": "WhatsApp", "messenger": "Messenger",
                 "telegram": "Telegram", "rest": "the REST channel",
                 "jsonapi": "the JSON API"}  # fmt: skip

# Twilio's delivery progression (bot/store/channel_store.py keeps the same order).
_DELIVERED = frozenset({"delivered", "received"})
_UNDELIVERED = frozenset({"undelivered", "failed", "canceled"})


def origin_of(delivery_id: int) -> str:
    """The `channel_outbound.origin` of the sends one outbox delivery caused."""
    return f"handoff:{delivery_id}"


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel or "the shopper's channel")


class ReplyState(StrEnum):
    #: In the bridge's outbox, waiting for Rasa to take it.
    QUEUED = "queued"
    #: Rasa took it; the shopper's channel has not recorded a send yet.
    PASSED_ON = "passed_on"
    #: The channel is still trying the provider (a retry after a temporary error).
    SENDING = "sending"
    #: The provider accepted it; no delivery report (yet, or ever on this channel).
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    #: Not sent: WhatsApp's 24-hour rule.
    WITHHELD = "withheld"
    #: The provider refused it or reported it undelivered.
    FAILED = "failed"
    #: Rasa refused it (parked in the outbox).
    REFUSED = "refused"
    #: Nobody can say: the provider stalled, or the channel never recorded a send.
    UNCONFIRMED = "unconfirmed"
    #: An agent sent it again (a new delivery follows it); this one is no longer followed.
    RETRIED = "retried"


#: States a retry may start from: the shopper certainly (or possibly) does not have it.
RETRYABLE = frozenset(
    {ReplyState.WITHHELD, ReplyState.FAILED, ReplyState.REFUSED, ReplyState.UNCONFIRMED}
)


@dataclass(frozen=True)
class ChannelSend:
    """One `channel_outbound` row of the reply, as far as its state goes."""

    #: pending, sent, failed, blocked, unknown (bot.store.channel_models.OutboundStatus).
    status: str
    #: The provider's latest report (Twilio: queued, sent, delivered, read, undelivered, ...).
    delivery_status: str | None = None
    last_error: str | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class ReplyTrail:
    """Everything recorded about one reply, from the outbox row to the provider's reports."""

    #: The outbox row: pending, delivered (Rasa took it), failed (parked).
    outbox_status: str
    outbox_error: str | None
    #: The ticket's channel (webchat, whatsapp, ...).
    channel: str
    sends: Sequence[ChannelSend] = ()
    #: Seconds since Rasa took it (0 before).
    waited: float = 0.0
    retried: bool = False


@dataclass(frozen=True)
class ReplyStatus:
    state: ReplyState
    channel: str
    #: What the failing stage said (the provider's error, the 24-hour rule's reason).
    reason: str | None = None
    #: Twilio's error code of an undelivered message.
    error_code: str | None = None
    #: Withheld, but the approved template went out instead, inviting the shopper back.
    template_sent: bool = False


def reply_status(trail: ReplyTrail) -> ReplyStatus:
    """The state of one reply from what each stage recorded."""
    channel = trail.channel
    if trail.retried:
        return ReplyStatus(ReplyState.RETRIED, channel)
    if trail.outbox_status == "pending":
        return ReplyStatus(ReplyState.QUEUED, channel, trail.outbox_error)
    if trail.outbox_status == "failed":
        return ReplyStatus(ReplyState.REFUSED, channel, trail.outbox_error)
    sends = list(trail.sends)
    if not sends:
        if channel not in PROVIDER_CHANNELS:
            return ReplyStatus(ReplyState.SENT, channel)  # web chat: gone into the socket
        if trail.waited >= NO_RECORD_AFTER_SECONDS:
            return ReplyStatus(ReplyState.UNCONFIRMED, channel, "the channel recorded no send")
        return ReplyStatus(ReplyState.PASSED_ON, channel)
    blocked = [send for send in sends if send.status == "blocked"]
    if blocked:
        template = any(send.status == "sent" for send in sends)
        return ReplyStatus(
            ReplyState.WITHHELD, channel, blocked[0].last_error, template_sent=template
        )
    for send in sends:
        if send.status == "failed" or send.delivery_status in _UNDELIVERED:
            return ReplyStatus(ReplyState.FAILED, channel, send.last_error, send.error_code)
    if any(send.status == "unknown" for send in sends):
        reason = next(send.last_error for send in sends if send.status == "unknown")
        return ReplyStatus(ReplyState.UNCONFIRMED, channel, reason)
    if any(send.status == "pending" for send in sends):
        return ReplyStatus(ReplyState.SENDING, channel)
    # Every part sent: the reply is only as far as its least advanced part.
    if channel in RECEIPT_CHANNELS:
        reports = [send.delivery_status for send in sends]
        if all(report == "read" for report in reports):
            return ReplyStatus(ReplyState.READ, channel)
        if all(report == "read" or report in _DELIVERED for report in reports):
            return ReplyStatus(ReplyState.DELIVERED, channel)
    return ReplyStatus(ReplyState.SENT, channel)


@dataclass(frozen=True)
class Presentation:
    #: Reactions the agent's Slack message carries in this state (exactly these).
    reactions: tuple[str, ...]
    #: One line for the agent: what happened.
    wording: str
    #: What the agent can do about it, when the shopper did not get it.
    way_forward: str | None
    #: Nothing more will happen on its own: stop following it.
    final: bool
    #: Offer "Retry".
    retry: bool
    #: Worth a message in the thread (not only a reaction): the shopper does not have it.
    problem: bool


#: Twilio error codes agents meet, and what they mean for the agent.
_TWILIO_ERRORS = {
    "63016": ("outside WhatsApp's 24-hour window", "window"),
    "63003": ("the number cannot receive WhatsApp messages", "unreachable"),
    "63024": ("the number is not a valid WhatsApp recipient", "unreachable"),
    "30003": ("the phone is unreachable (off or out of coverage)", "later"),
    "30005": ("the number is unknown or no longer exists", "unreachable"),
    "30006": ("the number is a landline or cannot receive messages", "unreachable"),
    "30007": ("the carrier filtered the message", "other_way"),
    "63018": ("WhatsApp's rate limit for this sender was reached", "later"),
}
_WAYS = {
    "window": "WhatsApp allows free-form messages only within 24 h of the shopper's last "
    "message: wait until they write again, then Retry (or set TWILIO_TEMPLATE_CONTENT_SID so "
    "an approved template can invite them back).",
    "unreachable": "Retrying will not help: reach the shopper another way (the e-mail on the "
    "card).",
    "later": "Retry in a while.",
    "other_way": "Rephrase it (no links or marketing wording) and Retry, or reach the shopper "
    "another way.",
}


def _withheld(status: ReplyStatus) -> tuple[str, str]:
    reason = (status.reason or "").lower()
    if status.template_sent:
        return (
            "Withheld by WhatsApp's 24-hour rule: the shopper got the approved template, "
            "inviting them to reply, instead of your message.",
            "When they write back, press Retry to send your message.",
        )
    if "no template" in reason or "template_content_sid" in reason:
        return (
            "Withheld by WhatsApp's 24-hour rule: more than 24 h since the shopper's last "
            "message, and no approved template is configured.",
            "WhatsApp only allows an approved template 24 h after the shopper's last message: "
            "set TWILIO_TEMPLATE_CONTENT_SID, or wait until the shopper writes; then Retry.",
        )
    return (
        "Withheld by WhatsApp's 24-hour rule: the approved template already went out and the "
        "shopper has not written since.",
        "The shopper must write first; when they do, press Retry.",
    )


def _failed(status: ReplyStatus) -> tuple[str, str, bool]:
    """Wording, way forward, and whether a retry can help."""
    where = channel_name(status.channel)
    known = _TWILIO_ERRORS.get(status.error_code or "")
    if known is not None:
        meaning, way = known
        wording = f"Not delivered by {where}: {meaning} (error {status.error_code})."
        return wording, _WAYS[way], way != "unreachable"
    detail = status.reason or (f"error {status.error_code}" if status.error_code else "")
    return (
        f"Not delivered: {where} refused it" + (f" ({detail})." if detail else "."),
        "Retry; if it fails again, reach the shopper another way (the e-mail on the card).",
        True,
    )


def presentation(status: ReplyStatus) -> Presentation:
    """How the agent sees a reply in this state: the one mapping Slack and the CLI share."""
    where = channel_name(status.channel)
    state = status.state
    if state is ReplyState.QUEUED:
        waiting = f" (last try: {status.reason})" if status.reason else ""
        return Presentation(
            ("hourglass_flowing_sand",), f"Queued: waiting for Rasa to take it{waiting}.",
            None, False, False, False,
        )  # fmt: skip
    if state in (ReplyState.PASSED_ON, ReplyState.SENDING):
        return Presentation(
            ("hourglass_flowing_sand",), f"On its way: {where} is sending it.",
            None, False, False, False,
        )  # fmt: skip
    if state is ReplyState.SENT:
        if status.channel in RECEIPT_CHANNELS:
            return Presentation(
                ("outbox_tray",), f"Sent to {where}; waiting for its delivery report.",
                None, False, False, False,
            )  # fmt: skip
        if status.channel in NO_PUSH_CHANNELS:
            return Presentation(
                ("outbox_tray",),
                f"Recorded in the conversation, but {where} cannot push messages: the shopper "
                "sees it only if their client fetches the conversation.",
                None, True, False, False,
            )  # fmt: skip
        return Presentation(
            ("outbox_tray",),
            f"Sent to {where}, which reports no deliveries: not confirmed that the shopper "
            "has it.",
            None, True, False, False,
        )  # fmt: skip
    if state is ReplyState.DELIVERED:
        return Presentation(
            ("white_check_mark",), f"Delivered: the shopper has it on {where}.",
            None, False, False, False,
        )  # fmt: skip
    if state is ReplyState.READ:
        return Presentation(
            ("white_check_mark", "eyes"), f"Read by the shopper on {where}.",
            None, True, False, False,
        )  # fmt: skip
    if state is ReplyState.WITHHELD:
        wording, way = _withheld(status)
        return Presentation(("no_entry_sign",), wording, way, True, True, True)
    if state is ReplyState.FAILED:
        wording, way, can_retry = _failed(status)
        return Presentation(("x",), wording, way, True, can_retry, True)
    if state is ReplyState.REFUSED:
        detail = f" ({status.reason})" if status.reason else ""
        return Presentation(
            ("warning",), f"Not sent: Rasa refused it{detail}.",
            "Check the bridge log (var/logs/bridge.log); Retry once Rasa is fixed.",
            True, True, True,
        )  # fmt: skip
    if state is ReplyState.UNCONFIRMED:
        detail = f" ({status.reason})" if status.reason else ""
        return Presentation(
            ("grey_question",),
            f"Unconfirmed: {where} did not say whether it went out{detail}.",
            "Ask the shopper whether they got it before you Retry (it may arrive twice).",
            True, True, True,
        )  # fmt: skip
    return Presentation((), "Sent again (see the retry).", None, True, False, False)
