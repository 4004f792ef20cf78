"""Serve the web chat without Rasa, for working on the page and for tests.

    python -m channels.webchat.devserver [--port 5080]

then open http://127.0.0.1:5080/webhooks/webchat/. A scripted responder answers with every
message type the page renders (text, links, line breaks, quick replies, images), so UI work
needs no trained model. Tests use :class:`WebChatServer` to run it in a background thread with
their own responder (over https if given a certificate), and :class:`AppServer` for any other
Sanic app.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import threading
from collections.abc import Awaitable, Callable
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self

from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.webchat.channel import WebChatInput

Responder = Callable[[UserMessage], Awaitable[Any]]

# Sanic keeps a process-wide registry of app names, so every app needs a fresh one.
_app_numbers = itertools.count(1)


async def demo_responder(message: UserMessage) -> None:
    output, recipient = message.output_channel, message.sender_id
    text = (message.text or "").strip()
    if text == "/image":
        await output.send_image_url(recipient, "static/favicon.svg")
        return
    await output.send_text_with_buttons(
        recipient,
        f"You said: {text}\nLinks become clickable: https://example.com/help.",
        [
            {"title": "Show an image", "payload": "/image"},
            {"title": "Say hello", "payload": "hello"},
        ],
    )


def build_app(responder: Responder, channel: WebChatInput | None = None) -> Sanic:
    """A Sanic app with just the web chat, mounted where Rasa mounts it."""
    channel = channel or WebChatInput(session_persistence=True)
    app = Sanic(f"webchat_dev_{next(_app_numbers)}")
    app.config.MOTD = False  # keeps test output and logs readable
    app.blueprint(channel.blueprint(responder), url_prefix=f"/webhooks/{channel.url_prefix()}")
    return app


class AppServer:
    """Runs a Sanic app on a free local port in a daemon thread (a context manager)."""

    def __init__(self, app: Sanic, ssl: SSLContext | None = None) -> None:
        self.app = app
        self.ssl = ssl
        # Sanic rewrites Sanic.handle_request (its "touchup") when an app starts; a second app in
        # the same process then fails on the already-rewritten method. test_mode (class-wide,
        # Sanic forbids instance attributes) makes it keep the original, as its test client does.
        Sanic.test_mode = True
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="sanic-devserver", daemon=True)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                self.app.create_server(
                    sock=self._sock, return_asyncio_server=True, access_log=False, ssl=self.ssl
                )
            )
            assert server is not None
            loop.run_until_complete(server.startup())
            loop.run_until_complete(server.before_start())
            loop.run_until_complete(server.after_start())
        except BaseException as error:  # surfaced in __enter__, not lost in the thread
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(asyncio.wait_for(server.wait_closed(), timeout=5))

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("dev server did not start within 30 s")
        if self._error is not None:
            raise RuntimeError("dev server failed to start") from self._error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


class WebChatServer(AppServer):
    """Runs :func:`build_app` on a free local port in a daemon thread (a context manager)."""

    def __init__(
        self,
        responder: Responder,
        channel: WebChatInput | None = None,
        ssl: SSLContext | None = None,
    ) -> None:
        super().__init__(build_app(responder, channel), ssl)

    @property
    def webchat_url(self) -> str:
        return f"{self.base_url}/webhooks/webchat/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5080)
    args = parser.parse_args()
    print(f"Web chat: http://{args.host}:{args.port}/webhooks/webchat/")
    build_app(demo_responder).run(host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
