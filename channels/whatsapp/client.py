"""The twilio SDK, pointed at a configurable API base URL (tests: a local fake Twilio)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.core.messages import ProviderRequest
from channels.core.sending import (
    ProviderError,
    parse_retry_after,
    requests_never_sent,
    retryable_status,
)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
#: Seconds per API call; a slow Twilio is asked about (see `find_sent`) rather than waited on.
TIMEOUT = 10.0
#: Messages created up to this long before our attempt started still count as its outcome
#: (clock skew between us and Twilio; date_created has whole seconds). Messages we recorded
#: for other sends are excluded by the caller, so a generous margin does no harm.
CLOCK_SKEW = timedelta(minutes=2)
#: Newest messages to the shopper that are compared (one page).
RECONCILE_PAGE = 20


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends the SDK's requests to `base_url`: the SDK hard-codes https://api.twilio.com.

    Also keeps each thread's last response: `TwilioRestException` carries no headers, and a
    429's `Retry-After` is only in them. (One client serves several threads, so the SDK's own
    `last_response` could be another thread's.)"""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self._responses = threading.local()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self._responses.last = None
        parts = urlsplit(url)
        rewritten = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        response = super().request(method, rewritten, *args, **kwargs)
        self._responses.last = response
        return response

    def last_headers(self) -> Mapping[str, str]:
        """Headers of this thread's latest response (case-insensitive with requests)."""
        response = getattr(self._responses, "last", None)
        return (response.headers if response is not None else None) or {}


class TwilioWhatsApp:
    """Sends one rendered request with the SDK's Messages API (blocking: run it in a thread)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        *,
        api_base_url: str = DEFAULT_API_BASE_URL,
        status_callback: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.timeout = timeout or TIMEOUT
        self._http = BaseUrlHttpClient(api_base_url, timeout=self.timeout)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._sender = sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"
        self._status_callback = status_callback

    def send(self, number: str, request: ProviderRequest) -> str:
        params = request.params
        arguments: dict[str, Any] = {"from_": self._sender, "to": f"whatsapp:{number}"}
        if self._status_callback:
            arguments["status_callback"] = self._status_callback
        if "body" in params:
            arguments["body"] = params["body"]
        if "media_url" in params:
            arguments["media_url"] = list(params["media_url"])
        if "content_sid" in params:
            arguments["content_sid"] = params["content_sid"]
            if params.get("content_variables"):
                arguments["content_variables"] = json.dumps(params["content_variables"])
        try:
            message = self._client.messages.create(**arguments)
        except TwilioRestException as error:
            retry_after = None
            if error.status == 429 or error.status >= 500:
                retry_after = parse_retry_after(self._http.last_headers().get("Retry-After"))
            raise ProviderError(
                f"Twilio error {error.code}: {error.msg}",
                retryable=retryable_status(error.status),
                status=error.status,
                retry_after=retry_after,
            ) from error
        except requests.RequestException as error:
            raise _transport_error(error, self.timeout) from error
        return str(message.sid)

    def find_sent(self, number: str, request: ProviderRequest, since: datetime) -> list[str]:
        """SIDs of messages Twilio created to `number` from our sender since `since` (less the
        clock skew) that match `request`, oldest first: after a timed-out `send`, whether
        Twilio carried it out. Raises `ProviderError` if Twilio cannot be asked.

        Not filtered with DateSent: a message still queued has no date_sent yet."""
        try:
            messages = self._client.messages.list(
                to=f"whatsapp:{number}", from_=self._sender, limit=RECONCILE_PAGE
            )
        except (TwilioException, requests.RequestException, ValueError) as error:
            raise ProviderError(f"Twilio could not be asked: {error!r}", retryable=False) from error
        earliest = since - CLOCK_SKEW
        found = [
            message
            for message in messages
            if message.date_created is not None
            and message.date_created >= earliest
            and _matches(message, request)
        ]
        found.sort(key=lambda message: message.date_created)
        return [str(message.sid) for message in found]


def _matches(message: Any, request: ProviderRequest) -> bool:
    """Whether a listed message can be the one `request` created. Twilio returns the body we
    sent; a template's body is its rendered text, so only its kind can be compared."""
    params = request.params
    if "content_sid" in params:
        return True
    if "body" in params and (message.body or "") != params["body"]:
        return False
    if "media_url" in params:
        return int(message.num_media or 0) > 0
    return True


def _transport_error(error: requests.RequestException, timeout: float) -> ProviderError:
    if requests_never_sent(error):
        return ProviderError(f"Twilio unreachable: {error!r}", retryable=True)
    if isinstance(error, requests.Timeout):
        detail = f"Twilio did not answer within {timeout:g}s (the message may have been sent)"
    else:
        detail = f"Twilio connection broke mid-request (the message may have been sent): {error!r}"
    return ProviderError(detail, retryable=True, outcome_unknown=True)
