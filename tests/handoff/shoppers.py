"""Shoppers for the full-stack handoff tests: one on the web chat (a real socket.io client,
as the chat page speaks it) and helpers to find their ticket, card and thread."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import socketio

from bot.store.database import Database
from handoff.domain.ticket_views import TicketView
from handoff.store.tickets import TicketStore
from tests.handoff.fake_slack import FakeSlack


class WebChatShopper:
    """Talks to Rasa's web chat channel over socket.io (long-polling, like the page)."""

    def __init__(self, rasa_url: str) -> None:
        self.session_id = uuid.uuid4().hex
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._confirmed = threading.Event()
        self._client = socketio.Client(reconnection=True)
        self._client.on("session_confirm", lambda _sid: self._confirmed.set())
        self._client.on("bot_uttered", self._on_bot)
        self._client.on("connect", self._request_session)
        self._client.on("disconnect", self._confirmed.clear)
        self._client.connect(rasa_url, transports=["polling"], socketio_path="socket.io")
        assert self._confirmed.wait(15), "no session_confirm from the web chat"

    def _request_session(self) -> None:
        self._client.emit("session_request", {"session_id": self.session_id})

    def _on_bot(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.received.append({**data, "_at": time.time()})

    def say(self, text: str, reconnect_timeout: float = 30) -> None:
        # After a Rasa restart the client reconnects with backoff (1-5 s) and must rejoin its
        # session before it can emit; wait for that instead of guessing a sleep.
        assert self._confirmed.wait(reconnect_timeout), "the web chat did not reconnect"
        self._client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def texts(self) -> list[str]:
        with self._lock:
            return [str(m.get("text", "")) for m in self.received]

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            texts = self.texts()
            for text in texts[seen:]:
                if predicate(text):
                    return text
            time.sleep(0.02)
        raise AssertionError(f"the shopper never got it; they got: {self.texts()}")

    def close(self) -> None:
        # Disconnecting over long-polling waits out the pending poll (up to ~25 s); nobody
        # needs to wait for that.
        threading.Thread(target=self._client.disconnect, daemon=True).start()


def ticket_for(database_url: str, conversation_id: str, timeout: float = 10) -> TicketView:
    database = Database(database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ticket = TicketStore(database, slack_enabled=True).for_conversation(conversation_id)
            if ticket is not None:
                return ticket
            time.sleep(0.05)
    finally:
        database.dispose()
    raise AssertionError(f"no ticket for {conversation_id}")


def fresh_ticket(database_url: str, ticket_id: int) -> TicketView:
    database = Database(database_url)
    try:
        ticket = TicketStore(database, slack_enabled=True).get(ticket_id)
        assert ticket is not None
        return ticket
    finally:
        database.dispose()


def card_for(fake: FakeSlack, ticket: TicketView) -> tuple[str, str]:
    """(channel id, ts) of the ticket's card in the fake Slack."""
    call = fake.wait_for(
        "chat.postMessage",
        lambda c: bool(c.args.get("blocks")) and f"ticket #{ticket.id} " in c.args["text"],
    )
    return call.response["channel"], call.response["ts"]


def wait_for_thread(
    fake: FakeSlack, channel: str, ts: str, predicate: Callable[[str], bool], timeout: float = 15
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in fake.thread_texts(channel, ts):
            if predicate(text):
                return text
        time.sleep(0.01)
    raise AssertionError(f"not in the thread: {fake.thread_texts(channel, ts)}")
