"""Who caused the sends being made in this task, when it is not the shopper's own turn.

`ChannelOutput.send_response` sets it around the delivery of one Rasa response (a bridged
agent reply carries `handoff_delivery` in its bot event's metadata: "handoff:<id>"), and the
connectors pass `current_origin()` on to `Sender.send(..., origin=...)`, which records it in
`channel_outbound.origin`. A ContextVar, so a connector's `deliver` needs no extra parameter
and concurrent deliveries do not see each other's origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ORIGIN: ContextVar[str | None] = ContextVar("channel_send_origin", default=None)

#: The shopper was told their answer has to wait for the action server.
ACTIONS_UNAVAILABLE = "notice:actions-unavailable"
#: The shopper was told a delivery was given up (its actions kept failing).
TURN_GIVEN_UP = "notice:turn-given-up"


def current_origin() -> str | None:
    return _ORIGIN.get()


@contextmanager
def sending_as(origin: str | None) -> Iterator[None]:
    token = _ORIGIN.set(origin)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def handoff_origin(message: dict[str, object]) -> str | None:
    """The origin of a Rasa response dict: a bot event's metadata reaches `send_response` as
    top-level keys (`BotUttered.message()` merges it in)."""
    delivery = message.get("handoff_delivery")
    if delivery is None or isinstance(delivery, bool):
        return None
    return f"handoff:{delivery}"
