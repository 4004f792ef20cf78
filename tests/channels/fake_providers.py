"""Fake Twilio, Graph (Messenger) and Telegram Bot API servers that record what was sent.

One threaded HTTP server answers all three under their real paths, so the real clients (the
twilio SDK, requests, python-telegram-bot) talk to it once their base URL points here:

    Twilio     POST /2010-04-01/Accounts/<sid>/Messages.json     (basic auth: sid + token)
    Graph      POST /<version>/me/messages?access_token=...       (+ appsecret_proof)
    Telegram   POST /bot<token>/<method>                          (getMe, sendMessage,
                                                                   sendPhoto, answerCallbackQuery)

    Twilio     GET  /2010-04-01/Accounts/<sid>/Messages.json?To=...&From=...   (newest first)

Like the real APIs, Twilio SIDs and Graph mids are globally unique, while Telegram numbers
messages per chat (every chat's first message is 1, so two chats' ids collide).

Wrong credentials get the provider's 401 / 400. `fail_next()` injects errors into the next
sends of one provider: a 500, a 429 with `Retry-After`, a slow answer; `stall_next()` a send the
provider carries out but answers too late (the client times out not knowing). Used by
tests/conftest.py, tests/channels/, tests/faults/ and bench/channels_bench.py; never by the
application.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.settings import Settings

TWILIO, GRAPH, TELEGRAM = "twilio", "graph", "telegram"
#: Calls that send a message to the shopper (not typing indicators or callback answers).
MESSAGE_METHODS = frozenset({"Messages", "me/messages", "sendMessage", "sendPhoto"})


@dataclass(frozen=True)
class FakeCredentials:
    twilio_account_sid: str = "AC" + "0" * 30 + "01"
    twilio_auth_token: str = "fake-twilio-auth-token"
    twilio_whatsapp_from: str = "whatsapp:+14155238886"
    twilio_template_content_sid: str = "HX" + "0" * 30 + "01"
    graph_version: str = "v21.0"
    messenger_page_access_token: str = "fake-page-access-token"
    messenger_app_secret: str = "fake-app-secret"
    messenger_verify_token: str = "fake-verify-token"
    telegram_bot_token: str = "123456789:FAKE-telegram-token"
    telegram_webhook_secret: str = "fake-telegram-secret"


@dataclass(frozen=True)
class Record:
    """One call a client made to the fake, successful or not."""

    provider: str
    #: Twilio "Messages", Graph "me/messages", Telegram the method ("sendMessage", ...).
    method: str
    #: The shopper addressed: WhatsApp number (no prefix), PSID or chat id; None if none.
    recipient: str | None
    params: dict[str, Any]
    status: int
    #: time.perf_counter() when the request arrived.
    at: float
    #: The id the fake returned (Twilio sid, Graph message_id, Telegram message_id).
    provider_id: str | None = None

    @property
    def is_message(self) -> bool:
        return self.method in MESSAGE_METHODS

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        """The visible text of a send, whatever the provider calls it."""
        params = self.params
        if self.provider == TWILIO:
            return str(params.get("Body") or "")
        if self.provider == GRAPH:
            return str((params.get("message") or {}).get("text") or "")
        return str(params.get("text") or params.get("caption") or "")


@dataclass
class _Fault:
    status: int
    delay: float
    #: Seconds for a 429's `Retry-After` header (and Telegram's `parameters.retry_after`).
    retry_after: float | None = None

    @property
    def carried_out(self) -> bool:
        """A 2xx "fault" is a send the provider performs and then answers `delay` s late."""
        return 200 <= self.status < 300


@dataclass
class FakeProviders:
    credentials: FakeCredentials = field(default_factory=FakeCredentials)
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._condition = threading.Condition()
        self._faults: dict[str, list[_Fault]] = {TWILIO: [], GRAPH: [], TELEGRAM: []}
        self._listeners: list[Callable[[Record], None]] = []
        # Telegram: message_id counts per chat, from 1, as the Bot API does.
        self._chat_message_ids: defaultdict[str, Iterator[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        #: Twilio Message resources created, oldest first (what GET Messages.json lists).
        self.twilio_messages: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeProviders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def graph_base_url(self) -> str:
        return f"{self.base_url}/{self.credentials.graph_version}"

    def configure(self, settings: Settings) -> Settings:
        """`settings` with every messaging channel set up against this fake."""
        credentials = self.credentials
        return settings.replace(
            whatsapp=settings.whatsapp.replace(
                account_sid=credentials.twilio_account_sid,
                auth_token=credentials.twilio_auth_token,
                whatsapp_from=credentials.twilio_whatsapp_from,
                template_content_sid=credentials.twilio_template_content_sid,
                api_base_url=self.base_url,
            ),
            messenger=settings.messenger.replace(
                page_access_token=credentials.messenger_page_access_token,
                app_secret=credentials.messenger_app_secret,
                verify_token=credentials.messenger_verify_token,
                api_base_url=self.graph_base_url,
            ),
            telegram=settings.telegram.replace(
                bot_token=credentials.telegram_bot_token,
                webhook_secret=credentials.telegram_webhook_secret,
                api_base_url=self.base_url,
            ),
            # Retries should not take the production half-second per step here.
            sending=settings.sending.replace(retry_base_delay=0.05),
        )

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        provider: str,
        count: int = 1,
        *,
        status: int = 500,
        delay: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        """The next `count` messages sent through `provider` answer `status` (after `delay` s),
        a 429 with `Retry-After: <retry_after>` if given. A 2xx `status` is a send that is
        carried out and answered `delay` s late (see `stall_next`).

        Only message sends fail: typing indicators and callback answers pass, so a test
        knows exactly which call got the error."""
        with self._condition:
            self._faults[provider].extend(_Fault(status, delay, retry_after) for _ in range(count))

    def stall_next(
        self, provider: str, count: int = 1, *, seconds: float, carried_out: bool = True
    ) -> None:
        """The next `count` sends stall for `seconds` before the provider answers.

        `carried_out`: the provider performs the send on arrival (recorded as delivered, and
        listed by Twilio's Messages API at once) and its answer is what is late, the case a
        client timeout cannot tell apart from a lost request. Otherwise nothing is sent and
        the late answer is a 500."""
        self.fail_next(provider, count, status=200 if carried_out else 500, delay=seconds)

    def add_listener(self, listener: Callable[[Record], None]) -> None:
        """Called (from the server's thread) for every record; the benchmark uses it."""
        with self._condition:
            self._listeners.append(listener)

    def sent(
        self,
        provider: str | None = None,
        recipient: str | None = None,
        *,
        ok_only: bool = True,
        method: str | None = None,
    ) -> list[Record]:
        """Calls made (messages only, unless `method` asks for another kind)."""
        with self._condition:
            return [
                r
                for r in self.records
                if (provider is None or r.provider == provider)
                and (recipient is None or r.recipient == recipient)
                and (r.ok or not ok_only)
                and (r.method == method if method else r.is_message)
            ]

    def reset_faults(self) -> None:
        with self._condition:
            for faults in self._faults.values():
                faults.clear()

    def wait_for(
        self,
        provider: str,
        recipient: str | None,
        count: int = 1,
        *,
        timeout: float = 30.0,
        method: str | None = None,
    ) -> list[Record]:
        """Waits until `count` successful messages (or `method` calls) to `recipient` arrived;
        returns them all."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = [
                    r
                    for r in self.records
                    if r.provider == provider
                    and (recipient is None or r.recipient == recipient)
                    and r.ok
                    and (r.method == method if method else r.is_message)
                ]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{provider}: {len(found)} of {count} sends to {recipient} after "
                        f"{timeout}s; all records: {self.records[-10:]}"
                    )
                self._condition.wait(remaining)

    # ------------------------------------------------------------------ internals

    def _take_fault(self, provider: str) -> _Fault | None:
        with self._condition:
            faults = self._faults[provider]
            return faults.pop(0) if faults else None

    def _record(self, record: Record) -> None:
        with self._condition:
            self.records.append(record)
            listeners = list(self._listeners)
            self._condition.notify_all()
        for listener in listeners:
            listener(record)

    def next_message_id(self, chat_id: str) -> int:
        """Telegram's next message_id in `chat_id`."""
        with self._condition:
            return next(self._chat_message_ids[chat_id])

    def _twilio_created(self, message: dict[str, Any]) -> None:
        with self._condition:
            self.twilio_messages.append(message)

    def _twilio_list(self, to: str | None, from_: str | None) -> list[dict[str, Any]]:
        with self._condition:
            return [
                m
                for m in reversed(self.twilio_messages)
                if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)
            ]


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    credentials = fake.credentials

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            return

        def _reply(
            self, status: int, body: Any, *, fault: _Fault | None = None, late: float = 0.0
        ) -> None:
            if late:  # the work is done; the answer is what stalls
                time.sleep(late)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if fault is not None and fault.retry_after is not None and status == 429:
                    self.send_header("Retry-After", f"{fault.retry_after:g}")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self) -> None:
            arrived = time.perf_counter()
            url = urlsplit(self.path)
            body = self._body()
            segments = [s for s in url.path.split("/") if s]
            if segments[:1] == ["2010-04-01"]:
                self._twilio(segments, body, arrived)
            elif segments[:1] == [credentials.graph_version]:
                self._graph(segments, parse_qs(url.query), body, arrived)
            elif segments and segments[0].startswith("bot"):
                self._telegram(segments, body, arrived)
            else:
                self._reply(404, {"error": f"fake providers: unknown path {url.path}"})

        def _fault(self, provider: str) -> _Fault | None:
            """The next injected failure; an error's delay is waited here, before answering.
            A carried-out stall is returned for the caller to send first and answer late."""
            fault = fake._take_fault(provider)
            if fault and fault.delay and not fault.carried_out:
                time.sleep(fault.delay)
            return fault

        # -------------------------------------------------------------- Twilio

        def _twilio(self, segments: list[str], body: bytes, arrived: float) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            form = parse_qs(body.decode(), keep_blank_values=True)
            params: dict[str, Any] = {k: v if k == "MediaUrl" else v[0] for k, v in form.items()}
            recipient = str(params.get("To", "")).removeprefix("whatsapp:") or None
            expected = base64.b64encode(
                f"{credentials.twilio_account_sid}:{credentials.twilio_auth_token}".encode()
            ).decode()
            status, reply, sid = 201, {}, None
            fault: _Fault | None = None
            if self.headers.get("Authorization") != f"Basic {expected}":
                status, reply = 401, {"code": 20003, "message": "Authenticate", "status": 401}
            elif segments != ["2010-04-01", "Accounts", credentials.twilio_account_sid,
                              "Messages.json"]:  # fmt: skip
                status, reply = 404, {"code": 20404, "message": "Not found", "status": 404}
            elif self.command == "GET":
                self._twilio_list(query, arrived)
                return
            elif params.get("From") != credentials.twilio_whatsapp_from:
                status, reply = 400, {"code": 63007, "message": "Unknown sender", "status": 400}
            elif (fault := self._fault(TWILIO)) and not fault.carried_out:
                if fault.status == 429:
                    status, reply = 429, {"code": 20429, "message": "Too Many Requests",
                                          "status": 429}  # fmt: skip
                else:
                    status, reply = fault.status, {"code": 20500, "message": "Internal error",
                                                   "status": fault.status}  # fmt: skip
            else:
                sid = "SM" + uuid.uuid4().hex
                now = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)
                media = params.get("MediaUrl") or []
                reply = {
                    "sid": sid, "status": "queued", "to": params.get("To"),
                    "from": params.get("From"), "body": params.get("Body") or "",
                    "account_sid": credentials.twilio_account_sid, "num_media": str(len(media)),
                    "direction": "outbound-api", "api_version": "2010-04-01",
                    "date_created": now, "date_updated": now, "date_sent": None,
                    "uri": f"/2010-04-01/Accounts/{credentials.twilio_account_sid}/Messages/"
                           f"{sid}.json",
                }  # fmt: skip
                fake._twilio_created(reply)
            fake._record(Record(TWILIO, "Messages", recipient, params, status, arrived, sid))
            late = fault.delay if fault is not None and fault.carried_out else 0.0
            self._reply(status, reply, fault=fault, late=late)

        def _twilio_list(self, query: dict[str, list[str]], arrived: float) -> None:
            """GET Messages.json: the account's messages, newest first, filtered by To/From."""
            to = (query.get("To") or [None])[0]
            from_ = (query.get("From") or [None])[0]
            size = int((query.get("PageSize") or ["50"])[0])
            messages = fake._twilio_list(to, from_)[:size]
            uri = f"/2010-04-01/Accounts/{credentials.twilio_account_sid}/Messages.json"
            reply = {
                "messages": messages, "page": 0, "page_size": size, "start": 0,
                "end": max(len(messages) - 1, 0), "uri": uri, "first_page_uri": uri,
                "next_page_uri": None, "previous_page_uri": None,
            }  # fmt: skip
            recipient = to.removeprefix("whatsapp:") if to else None
            fake._record(
                Record(TWILIO, "Messages.list", recipient, {"To": to, "From": from_}, 200, arrived)
            )
            self._reply(200, reply)

        # -------------------------------------------------------------- Graph

        def _graph(
            self, segments: list[str], query: dict[str, list[str]], body: bytes, arrived: float
        ) -> None:
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = {}
            recipient = str((params.get("recipient") or {}).get("id") or "") or None
            token = (query.get("access_token") or [""])[0]
            proof = hmac.new(
                credentials.messenger_app_secret.encode(),
                credentials.messenger_page_access_token.encode(),
                hashlib.sha256,
            ).hexdigest()
            status, reply, mid = 200, {}, None
            fault: _Fault | None = None
            if token != credentials.messenger_page_access_token:
                status, reply = 400, {"error": {"message": "Invalid OAuth access token.",
                                                "type": "OAuthException", "code": 190}}  # fmt: skip
            elif (query.get("appsecret_proof") or [""])[0] != proof:
                status, reply = 400, {"error": {"message": "Invalid appsecret_proof", "code": 100}}
            elif segments[1:] != ["me", "messages"] or not recipient:
                status, reply = 400, {"error": {"message": "Unsupported request", "code": 100}}
            elif "sender_action" in params:
                reply = {"recipient_id": recipient}
            elif (fault := self._fault(GRAPH)) and not fault.carried_out:
                # Graph's codes: 2 "service temporarily unavailable", 100 "invalid parameter",
                # 613 "calls to this api have exceeded the rate limit".
                if fault.status == 429:
                    status, reply = 429, {"error": {
                        "message": "Calls to this api have exceeded the rate limit.",
                        "type": "OAuthException", "code": 613, "is_transient": True,
                    }}  # fmt: skip
                else:
                    code = 2 if fault.status >= 500 else 100
                    status, reply = fault.status, {"error": {"message": "Injected error",
                                                             "code": code}}  # fmt: skip
            else:
                mid = f"m_{uuid.uuid4().hex}"
                reply = {"recipient_id": recipient, "message_id": mid}
            method = "sender_action" if "sender_action" in params else "me/messages"
            fake._record(Record(GRAPH, method, recipient, params, status, arrived, mid))
            late = fault.delay if fault is not None and fault.carried_out else 0.0
            self._reply(status, reply, fault=fault, late=late)

        # -------------------------------------------------------------- Telegram

        def _telegram(self, segments: list[str], body: bytes, arrived: float) -> None:
            token = segments[0].removeprefix("bot")
            method = segments[1] if len(segments) > 1 else ""
            params = _telegram_params(self.headers.get("Content-Type", ""), body)
            recipient = str(params["chat_id"]) if "chat_id" in params else None
            status: int
            reply: dict[str, Any]
            message_id: str | None = None
            fault: _Fault | None = None
            if token != credentials.telegram_bot_token:
                status, reply = 401, {"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}  # fmt: skip
            elif method == "getMe":
                status, reply = 200, {"ok": True, "result": {
                    "id": 123456789, "is_bot": True, "first_name": "Fake", "username": "fake_bot",
                }}  # fmt: skip
            elif method not in ("sendMessage", "sendPhoto", "answerCallbackQuery"):
                status, reply = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            elif method == "answerCallbackQuery":
                status, reply = 200, {"ok": True, "result": True}
            elif (fault := self._fault(TELEGRAM)) and not fault.carried_out:
                if fault.status == 429:
                    wait = round(fault.retry_after or 1)
                    status, reply = 429, {"ok": False, "error_code": 429,
                                          "description": f"Too Many Requests: retry after {wait}",
                                          "parameters": {"retry_after": wait}}  # fmt: skip
                else:
                    description = f"Injected error {fault.status}"
                    status, reply = fault.status, {"ok": False, "error_code": fault.status,
                                                   "description": description}  # fmt: skip
            else:
                # Numbered per chat, like the Bot API: chats' ids collide from the first one.
                message_id = str(fake.next_message_id(recipient or ""))
                result: dict[str, Any] = {
                    "message_id": int(message_id), "date": int(time.time()),
                    "chat": {"id": int(recipient or 0), "type": "private"},
                }  # fmt: skip
                if method == "sendPhoto":
                    result["photo"] = [{"file_id": "fake-photo", "file_unique_id": "fake",
                                        "width": 1, "height": 1}]  # fmt: skip
                else:
                    result["text"] = params.get("text", "")
                status, reply = 200, {"ok": True, "result": result}
            fake._record(Record(TELEGRAM, method, recipient, params, status, arrived, message_id))
            late = fault.delay if fault is not None and fault.carried_out else 0.0
            self._reply(status, reply, fault=fault, late=late)

    return Handler


def _telegram_params(content_type: str, body: bytes) -> dict[str, Any]:
    """PTB posts JSON or form data; complex values (reply_markup) are JSON inside."""
    if not body:
        return {}
    if "json" in content_type:
        data = json.loads(body)
        return dict(data) if isinstance(data, dict) else {}
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    for key in ("reply_markup", "link_preview_options"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params
