"""``channels.webchat.WebChatInput``: Rasa's socket.io channel plus the page that talks to it."""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic
from socketio import AsyncServer

from bot.settings import process_settings
from channels.core.inbound_text import screen_text
from channels.webchat.embedding import parse_embed_origins
from channels.webchat.page import PageConfig
from channels.webchat.routes import add_routes

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

DEFAULT_STORE_NAME = "Northwind Outfitters"

# Long-polling only, by default. Sanic 21.12 (the newest Rasa 3.6 allows) has a websocket
# implementation that fails on Python 3.11 (it hands bare coroutines to asyncio.wait()), and a
# failed websocket upgrade takes the whole socket.io session down with it. Polling works on
# every Sanic and is plenty for a chat; set `transports: [polling, websocket]` in
# credentials.yml once Rasa runs on a Sanic with working websockets.
DEFAULT_TRANSPORTS: tuple[str, ...] = ("polling",)
_VALID_TRANSPORTS = ("polling", "websocket")

# Where Rasa mounts the channel's blueprint (rasa.core.channels.channel.register).
MOUNT_PREFIX = "/webhooks/webchat/"
# The socket.io endpoint lives under the channel's own prefix, so the one reverse-proxy rule
# for /webhooks/webchat/ serves the page and its socket (README, "A public HTTPS address").
DEFAULT_SOCKETIO_PATH = MOUNT_PREFIX + "socket.io"
# Rasa's default, still answered for socket.io clients written against it (the handoff
# tests' shopper, bench/). The proxy does not forward it; `legacy_socketio_path: ""` drops it.
LEGACY_SOCKETIO_PATH = "/socket.io"

# Session ids become Rasa sender ids and socket.io room names. Only the form this channel
# issues (uuid4().hex) is accepted: other channels' conversation ids ("whatsapp:+1...") and
# the JSON endpoint's ids can never be written this way (channels/jsonapi/ refuses this
# form in turn), and anything else a client sends (objects, huge strings) is replaced by a
# fresh id instead of reaching the tracker store.
SESSION_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def _valid_session_id(data: Any) -> str | None:
    session_id = data.get("session_id") if isinstance(data, dict) else None
    if isinstance(session_id, str) and SESSION_ID_RE.match(session_id):
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


def _metadata(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


class _WebChatBlueprint(SocketBlueprint):
    """Rasa's SocketBlueprint, also answering socket.io on a second (legacy) path."""

    def __init__(self, sio: AsyncServer, socketio_path: str, legacy_path: str, *args: Any) -> None:
        super().__init__(sio, socketio_path, *args)
        self.ctx.legacy_path = legacy_path

    def register(self, app: Sanic, options: dict[str, Any]) -> None:
        super().register(app, options)
        legacy = self.ctx.legacy_path.strip("/")
        if legacy and legacy != self.ctx.socketio_path.strip("/"):
            app.add_route(
                self.ctx.sio.eio.handle_request,
                f"/{legacy}/",
                methods=["GET", "POST", "OPTIONS"],
                name="webchat_legacy_socketio",
            )


class WebChatInput(SocketIOInput):
    """Socket.io input channel that also serves the shopper-facing chat page.

    Under ``/webhooks/webchat/`` it serves the page (``/``), its assets (``/static/<file>``),
    a health check (``/health``) and, by default, the socket.io endpoint (``socket.io/``).
    """

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = dict(credentials or {})
        credentials["socketio_path"] = credentials.get("socketio_path") or DEFAULT_SOCKETIO_PATH
        channel = super().from_credentials(credentials)
        assert isinstance(channel, WebChatInput)
        channel.store_name = str(credentials.get("store_name") or DEFAULT_STORE_NAME)
        channel.transports = _parse_transports(credentials.get("transports"))
        # Raises EmbedOriginsError on a bad WEBCHAT_EMBED_ORIGINS: Rasa does not start.
        channel.embed_origins = parse_embed_origins(
            credentials.get("embed_origins") or process_settings().webchat.embed_origins
        )
        legacy = credentials.get("legacy_socketio_path", LEGACY_SOCKETIO_PATH)
        channel.legacy_socketio_path = str(legacy or "")
        return channel

    def __init__(
        self,
        *args: Any,
        store_name: str = DEFAULT_STORE_NAME,
        transports: tuple[str, ...] = DEFAULT_TRANSPORTS,
        embed_origins: Iterable[str] | str | None = (),
        legacy_socketio_path: str = LEGACY_SOCKETIO_PATH,
        **kwargs: Any,
    ) -> None:
        # Rasa's from_credentials passes everything positionally, socketio_path 5th.
        if len(args) < 5:
            kwargs.setdefault("socketio_path", DEFAULT_SOCKETIO_PATH)
        super().__init__(*args, **kwargs)
        self.store_name = store_name
        self.transports = _parse_transports(list(transports))
        self.embed_origins = parse_embed_origins(embed_origins)
        self.legacy_socketio_path = legacy_socketio_path

    def _page_socket_path(self) -> str:
        """The socket path as the page should use it: relative to the page when it is under
        the channel's prefix, so it still resolves behind a proxy that adds a path prefix."""
        path = "/" + (self.socketio_path or DEFAULT_SOCKETIO_PATH).strip("/")
        if path.startswith(MOUNT_PREFIX):
            return path[len(MOUNT_PREFIX) :]
        return path

    def page_config(self) -> PageConfig:
        return PageConfig(
            store_name=self.store_name,
            socket_path=self._page_socket_path(),
            namespace=self.namespace or "",
            user_message_evt=self.user_message_evt,
            bot_message_evt=self.bot_message_evt,
            transports=self.transports,
        )

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
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
        self._screen_messages(sio, on_new_message)

        blueprint = _WebChatBlueprint(
            sio,
            self.socketio_path or DEFAULT_SOCKETIO_PATH,
            self.legacy_socketio_path,
            "webchat_webhook",
            __name__,
        )
        add_routes(blueprint, self.page_config(), embed_origins=self.embed_origins)
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
                session = await sio.get_session(sid, namespace=self.namespace)
                previous = session.get("session_id")
                if previous and previous != session_id:
                    left = sio.leave_room(sid, previous, namespace=self.namespace)
                    if inspect.isawaitable(left):
                        await left
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):  # a coroutine on python-socketio >= 5.10
                    await entered
                # The one conversation this socket may speak in (see _screen_messages).
                await sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug(f"Socket {sid} joined web chat session {session_id}.")

        sio.on("session_request", handler=session_request, namespace=self.namespace)

    def _screen_messages(self, sio: AsyncServer, on_new_message: OnNewMessage) -> None:
        """Replaces Rasa's handler of the user message event.

        Rasa's takes the conversation from the message's own ``session_id``, so any socket
        could write into any conversation, another channel's included
        (``{"session_id": "whatsapp:+14155550123"}``). Here a message counts only for the
        session this socket joined through ``session_request``. Its text goes through
        channels.core.inbound_text: blank and over-long messages get their answer here.
        """

        async def handle_message(sid: str, data: Any = None) -> None:
            if not isinstance(data, dict):
                return
            if self.session_persistence:
                session = await sio.get_session(sid, namespace=self.namespace)
                sender_id = session.get("session_id")
                if sender_id is None or data.get("session_id") != sender_id:
                    logger.warning(
                        "web chat: dropped a message from socket %s for a session it has not "
                        "joined",
                        sid,
                    )
                    return
            else:
                sender_id = sid
            raw = data.get("message", "")
            if not isinstance(raw, str):
                logger.warning("web chat: dropped a message whose text is not a string")
                return
            output = SocketIOOutput(sio, self.bot_message_evt)
            text, reply = screen_text(raw)
            if reply is not None:
                await output.send_text_message(sender_id, reply)
                return
            await on_new_message(
                UserMessage(
                    text,
                    output,
                    sender_id,
                    input_channel=self.name(),
                    metadata=_metadata(data.get(self.metadata_key)),
                )
            )

        sio.on(self.user_message_evt, handler=handle_message, namespace=self.namespace)
