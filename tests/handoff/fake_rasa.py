"""A local stand-in for the two Rasa HTTP API calls the bridge makes to reach a shopper, for
in-process bridge tests (the full stack runs the real Rasa: tests/handoff/test_handoff_loop.py).

`POST /conversations/<id>/tracker/events` (a `bot` event) is answered like Rasa answers it and
handed to `on_bot(conversation_id, text, metadata)`, which plays the shopper's channel: a test
records there what a WhatsApp channel would (`channel_outbound` rows with
`origin = "handoff:<delivery id>"`). The token is checked like Rasa's `--auth-token`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

OnBot = Callable[[str, str, dict[str, Any]], None]


class FakeRasa:
    def __init__(self, port: int, token: str, on_bot: OnBot) -> None:
        self.port = port
        self.token = token
        self.on_bot = on_bot
        #: (conversation id, bot text, metadata) of every accepted bot event.
        self.said: list[tuple[str, str, dict[str, Any]]] = []
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-rasa", daemon=True)

    async def _tracker_events(self, request: web.Request) -> web.Response:
        if request.query.get("token") != self.token:
            return web.json_response({"status": "failure", "code": 401}, status=401)
        conversation = request.match_info["conversation"]
        for event in await request.json():
            if event.get("event") == "bot":
                metadata = dict(event.get("metadata") or {})
                self._events.setdefault(conversation, []).append(event)
                self.said.append((conversation, str(event.get("text")), metadata))
                # Rasa sends through the output channel before it answers the request.
                await asyncio.to_thread(self.on_bot, conversation, str(event["text"]), metadata)
        return web.json_response({"sender_id": conversation, "events": None})

    async def _tracker(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conversation"]
        return web.json_response({"sender_id": conversation,
                                  "events": self._events.get(conversation, [])})  # fmt: skip

    async def _execute(self, request: web.Request) -> web.Response:
        return web.json_response({"tracker": {}, "messages": []})

    async def _root(self, _request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_post("/conversations/{conversation}/tracker/events", self._tracker_events)
        app.router.add_get("/conversations/{conversation}/tracker", self._tracker)
        app.router.add_post("/conversations/{conversation}/execute", self._execute)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> FakeRasa:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Rasa did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
