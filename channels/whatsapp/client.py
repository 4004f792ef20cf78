"""The twilio SDK, pointed at a configurable API base URL (tests: a local fake Twilio)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.core.messages import ProviderRequest
from channels.core.sending import ProviderError, retryable_status

DEFAULT_API_BASE_URL = "https://api.twilio.com"
#: Seconds per API call; a slow Twilio is retried rather than waited on.
TIMEOUT = 10.0


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends the SDK's requests to `base_url`: the SDK hard-codes https://api.twilio.com."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        rewritten = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, rewritten, *args, **kwargs)


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
    ) -> None:
        http_client = BaseUrlHttpClient(api_base_url, timeout=TIMEOUT)
        self._client = Client(account_sid, auth_token, http_client=http_client)
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
            raise ProviderError(
                f"Twilio error {error.code}: {error.msg}",
                retryable=retryable_status(error.status),
                status=error.status,
            ) from error
        except (requests.Timeout, requests.ConnectionError) as error:
            raise ProviderError(f"Twilio unreachable: {error!r}", retryable=True) from error
        return str(message.sid)
