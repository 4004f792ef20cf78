"""A local stand-in for Slack's Web API (https://slack.com/api/<method>), for tests and the
benchmark: the bridge's slack-sdk client is pointed at it with `base_url`.

It answers the methods the handoff uses like Slack does (ids, ts values, `ok`/`error`;
reactions are kept per message, so `already_reacted` / `no_reaction` come back as from Slack),
records every call with the time it arrived, and can simulate an outage (HTTP 503) or a
rate limit (HTTP 429 with Retry-After). Interactions' `response_url`s point at
`response_url()` here; what is posted to them is recorded as a call to "response_url".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

TEAM_ID = "T111"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float
    response: dict[str, Any] = field(default_factory=dict)


class FakeSlack:
    def __init__(self, users: dict[str, str] | None = None) -> None:
        #: Slack user id → real name (users.info).
        self.users = dict(users or {})
        self.calls: list[Call] = []
        #: Number of upcoming calls answered with HTTP 503 (an outage), or -1 for "until told".
        self.outage = 0
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._channels: dict[str, str] = {}
        self._reactions: dict[tuple[str, str], list[str]] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-slack", daemon=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # -- what tests look at -------------------------------------------------------------------
    def calls_to(self, method: str, **match: Any) -> list[Call]:
        with self._lock:
            calls = [c for c in self.calls if c.method == method and c.response.get("ok")]
        return [c for c in calls if all(c.args.get(k) == v for k, v in match.items())]

    def wait_for(
        self, method: str, predicate: Callable[[Call], bool] = lambda _: True, timeout: float = 15
    ) -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.calls_to(method):
                if predicate(call):
                    return call
            time.sleep(0.01)
        recent = [(c.method, c.args.get("text", "")[:80]) for c in self.calls[-15:]]
        raise AssertionError(f"no matching {method} within {timeout}s; recent calls: {recent}")

    def thread_texts(self, channel: str, thread_ts: str) -> list[str]:
        return [
            str(c.args.get("text"))
            for c in self.calls_to("chat.postMessage", channel=channel, thread_ts=thread_ts)
        ]

    def reactions(self, channel: str, ts: str) -> list[str]:
        """The reactions a message carries now, in the order they were added."""
        with self._lock:
            return list(self._reactions.get((channel, ts), []))

    def response_url(self, name: str = "r1") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def channel_id(self, name: str) -> str:
        with self._lock:
            return self._channels.setdefault(name, f"C{len(self._channels) + 1:08d}")

    def set_outage(self, on: bool) -> None:
        self.outage = -1 if on else 0

    def configure(self, settings: Any, workdir: Any, *, agents: frozenset[str]) -> Any:
        """`settings` (a bot.settings.Settings) with the handoff using this fake: its URL, the
        signing secret of Slack's published test vector, `agents` allowed, always open, and
        Rasa's event broker file in `workdir`."""
        return configure(settings, workdir, url=self.url, agents=agents)

    # -- the API ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        body = await request.read()
        if body:
            if request.content_type == "application/json":
                args.update(json.loads(body))
            else:
                args.update(parse_qsl(body.decode()))
        call = Call(method, args, time.time())
        with self._lock:
            self.calls.append(call)
            if self.outage:
                self.outage = self.outage - 1 if self.outage > 0 else -1
                return web.Response(status=503, text="service unavailable")
        call.response = self._answer(method, args)
        return web.json_response(call.response)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                    "team": "Northwind", "user": "relaydesk"}  # fmt: skip
        if method in ("chat.postMessage", "chat.update"):
            channel = str(args.get("channel", ""))
            channel_id = channel if channel.startswith("C") else self.channel_id(channel)
            ts = args.get("ts") or f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": channel_id, "ts": ts,
                    "message": {"text": args.get("text"), "ts": ts}}  # fmt: skip
        if method == "conversations.replies":
            # The thread as posted so far: the parent's replies, with their message metadata
            # (the bridge looks a post up by it after a restart).
            channel, parent = str(args.get("channel", "")), str(args.get("ts", ""))
            messages = []
            for call in self.calls_to("chat.postMessage", channel=channel, thread_ts=parent):
                metadata = call.args.get("metadata")
                metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
                messages.append({"text": call.args.get("text"), "metadata": metadata or {}})
            return {"ok": True, "messages": messages, "has_more": False}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000001.{next(self._ts):06d}"}
        if method == "users.info":
            user = str(args.get("user"))
            name = self.users.get(user)
            if name is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "name": name.lower(), "real_name": name,
                                         "profile": {"real_name": name}}}  # fmt: skip
        if method in ("reactions.add", "reactions.remove"):
            key = (str(args.get("channel")), str(args.get("timestamp")))
            name = str(args.get("name"))
            with self._lock:
                names = self._reactions.setdefault(key, [])
                if method == "reactions.add":
                    if name in names:
                        return {"ok": False, "error": "already_reacted"}
                    names.append(name)
                elif name not in names:
                    return {"ok": False, "error": "no_reaction"}
                else:
                    names.remove(name)
            return {"ok": True}
        if method == "views.open":
            if not args.get("trigger_id"):
                return {"ok": False, "error": "invalid_trigger_id"}
            view = args.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {**(view or {}), "id": f"V{next(self._ts):08d}"}}
        return {"ok": False, "error": "unknown_method"}

    async def _respond(self, request: web.Request) -> web.Response:
        """A message posted to an interaction's response_url (bolt's `respond`)."""
        call = Call("response_url", json.loads(await request.read() or b"{}"), time.time())
        call.response = {"ok": True}
        with self._lock:
            self.calls.append(call)
        return web.Response(text="ok")

    # -- lifecycle ----------------------------------------------------------------------------
    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/response/{name}", self._respond)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Slack did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def configure(settings: Any, workdir: Any, *, url: str, agents: frozenset[str]) -> Any:
    """`settings` with the handoff pointed at a fake Slack at `url` (see FakeSlack.configure)."""
    from tests.handoff.slack_requests import vector

    return settings.replace(
        handoff=settings.handoff.replace(
            slack_bot_token="xoxb-test",
            slack_signing_secret=vector()["signing_secret"],
            slack_api_url=url,
            slack_allowed_user_ids=agents,
            business_hours="24/7",
            events_db_path=workdir / "events.db",
        ),
    )
