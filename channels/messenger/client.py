"""The Graph API Send API over requests, with a configurable base URL."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import requests

from channels.core.messages import ProviderRequest
from channels.core.sending import (
    ProviderError,
    parse_retry_after,
    requests_never_sent,
    retryable_status,
)

DEFAULT_API_BASE_URL = "https://graph.facebook.com/v21.0"
#: Seconds per Send API call. A send that times out is not repeated: Graph offers no way to
#: ask whether it went out with the permissions relaydesk needs (docs/channels.md).
TIMEOUT = 10.0
# Graph error codes Meta documents as temporary (unknown, service, rate limits).
_TRANSIENT_CODES = {1, 2, 4, 17, 32, 613}


class GraphSendApi:
    """POST /me/messages (blocking: run it in a thread)."""

    def __init__(self, page_access_token: str, app_secret: str, base_url: str) -> None:
        self._url = f"{base_url.rstrip('/')}/me/messages"
        self._params = {"access_token": page_access_token}
        if app_secret:
            # appsecret_proof: a stolen page token alone cannot call the API for our app.
            self._params["appsecret_proof"] = hmac.new(
                app_secret.encode(), page_access_token.encode(), hashlib.sha256
            ).hexdigest()
        self._session = requests.Session()

    def send(self, psid: str, request: ProviderRequest) -> str | None:
        body: dict[str, Any] = {"recipient": {"id": psid}, **request.params}
        if "message" in body:
            body["messaging_type"] = "RESPONSE"
        try:
            reply = self._session.post(self._url, params=self._params, json=body, timeout=TIMEOUT)
        except requests.RequestException as error:
            if requests_never_sent(error):
                raise ProviderError(f"Graph API unreachable: {error!r}", retryable=True) from error
            detail = (
                f"Graph API did not answer within {TIMEOUT:g}s"
                if isinstance(error, requests.Timeout)
                else f"Graph API connection broke mid-request: {error!r}"
            )
            raise ProviderError(
                f"{detail} (the message may have been sent)", retryable=True, outcome_unknown=True
            ) from error
        if reply.status_code >= 400:
            raise _graph_error(reply)
        try:
            data = reply.json()
        except ValueError:
            data = {}
        message_id = data.get("message_id") if isinstance(data, dict) else None
        return str(message_id) if message_id else None


def _graph_error(reply: requests.Response) -> ProviderError:
    try:
        error = reply.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    transient = bool(isinstance(error, dict) and error.get("is_transient"))
    return ProviderError(
        f"Graph API error {code}: {message or reply.text[:200]}",
        retryable=retryable_status(reply.status_code) or transient or code in _TRANSIENT_CODES,
        status=reply.status_code,
        retry_after=parse_retry_after(reply.headers.get("Retry-After")),
    )
