"""``channels.webchat.WebChatInput``: Rasa's socket.io channel plus the page that talks to it."""

from __future__ import annotations

import inspect
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from sanic import Blueprint
from socketio import AsyncServer

from channels.webchat.page import PageConfig
from channels.webchat.routes import add_routes

logger = logging.getLogger(__name__)

DEFAULT_STORE_NAME = "Northwind Outfitters"

# Long-polling only, by default. Sanic 21.12 (the newest Rasa 3.6 allows) has a websocket
# implementation that fails on Python 3.11 (it hands bare coroutines to asyncio.wait()), and a
# failed websocket upgrade takes the whole socket.io session down with it. Polling works on
# every Sanic and is plenty for a chat; set `transports: [polling, websocket]` in
# credentials.yml once Rasa runs on a Sanic with working websockets.
DEFAULT_TRANSPORTS: tuple[str, ...] = ("polling",)
_VALID_TRANSPORTS = ("polling", "websocket")

# Session ids become Rasa sender ids and socket.io room names; anything else a client sends
# (objects, huge strings) is replaced by a fresh id instead of reaching the tracker store.
_SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _valid_session_id(data: Any) -> str | None:
    session_id = data.get("session_id") if isinstance(data, dict) else None
    if isinstance(session_id, str) and _SESSION_ID_RE.match(session_id):
        return session_id
    return None


def _parse_transports(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_TRANSPORTS
    names = [value] if isinstance(value, str) else list(value)
    transports = tuple(name for name in _VALID_TRANSPORTS if name in names)
    unknown = set(names) - set(_VALID_TRANSPORTS)
    if unknown or not transports:
        raise ValueError(f"webchat transports must be a subset of {_VALID_TRANSPORTS}: {value!r}")
    return transports


class WebChatInput(SocketIOInput):
    """Socket.io input channel that also serves the shopper-facing chat page.

    Under ``/webhooks/webchat/`` it serves the page (``/``), its assets (``/static/<file>``)
    and a health check (``/health``); the socket.io endpoint stays at ``socketio_path``.
    """

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        assert isinstance(channel, WebChatInput)
        channel.store_name = str(credentials.get("store_name") or DEFAULT_STORE_NAME)
        channel.transports = _parse_transports(credentials.get("transports"))
        return channel

    def __init__(
        self,
        *args: Any,
        store_name: str = DEFAULT_STORE_NAME,
        transports: tuple[str, ...] = DEFAULT_TRANSPORTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.store_name = store_name
        self.transports = _parse_transports(list(transports))

    def page_config(self) -> PageConfig:
        return PageConfig(
            store_name=self.store_name,
            socket_path=self.socketio_path or "/socket.io",
            namespace=self.namespace or "",
            user_message_evt=self.user_message_evt,
            bot_message_evt=self.bot_message_evt,
            transports=self.transports,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # Rasa's implementation registers all socket.io handlers on a fresh AsyncServer
        # (kept in self.sio). We reuse those, but drop the Blueprint it returns: that one is
        # named "socketio_webhook" (clashing with the stock socketio channel if both are
        # enabled) and answers "/" with JSON, where we serve the page.
        super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        sio.eio.transports = list(self.transports)
        # Upgrades are advertised independently of `transports`; without this the client
        # would still probe a websocket after connecting over polling.
        sio.eio.allow_upgrades = "websocket" in self.transports
        self._fix_session_request(sio)

        blueprint = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)
        add_routes(blueprint, self.page_config())
        return blueprint

    def _fix_session_request(self, sio: AsyncServer) -> None:
        """Replaces Rasa's ``session_request`` handler.

        Rasa 3.6 calls ``sio.enter_room()`` without ``await``; since python-socketio 5.10 it is
        a coroutine, so the client never joins its session room and, with
        ``session_persistence``, never receives a reply (RasaHQ/rasa#13027).
        """

        async def session_request(sid: str, data: Any = None) -> None:
            session_id = _valid_session_id(data) or uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):  # a coroutine on python-socketio >= 5.10
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug(f"Socket {sid} joined web chat session {session_id}.")

        sio.on("session_request", handler=session_request, namespace=self.namespace)
