"""Rasa's HTTP API, as the bridge uses it to reach the shopper (always with the auth token).

Messages go through Rasa, not around it, so they are recorded in the tracker (the transcript
stays whole) and rendered by the shopper's own channel: `output_channel=latest` picks the input
channel of the shopper's latest message (web chat, WhatsApp, ...).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp


def _path(conversation_id: str) -> str:
    """The conversation id as a URL path segment. Rasa's server (Sanic) decodes "%3A" but not
    "%2B", so "whatsapp:+1415…" must keep its ":" and "+" literal (both are legal in a path)."""
    return quote(conversation_id, safe=":+@!$&'()*,;=")


class RasaUnavailable(Exception):
    """Rasa did not answer or failed on its side (5xx): retry later."""


class RasaRejected(Exception):
    """Rasa refused the request (4xx): retrying the same request will not help."""


class RasaClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def say(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> None:
        """Send `text` to the shopper as a bot message, and record it in the tracker."""
        await self._post(
            conversation_id,
            "tracker/events",
            [{"event": "bot", "text": text, "metadata": metadata}],
            execute_side_effects="true",
        )

    async def execute(self, conversation_id: str, action: str) -> None:
        """Run `action` in the conversation (its messages go to the shopper's channel)."""
        await self._post(conversation_id, "execute", {"name": action})

    async def delivered(self, conversation_id: str, delivery_id: int) -> bool:
        """Is a bot message of this outbox delivery in the tracker? After a timeout the request
        may have succeeded without our hearing; this keeps a retry from sending it twice."""
        tracker = await self.tracker(conversation_id)
        return any(
            event.get("event") == "bot"
            and (event.get("metadata") or {}).get("handoff_delivery") == delivery_id
            for event in tracker.get("events") or []
        )

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        session = self._client()
        url = f"{self._base_url}/conversations/{_path(conversation_id)}/tracker"
        try:
            async with session.get(url, params={"token": self._token}) as response:
                await self._raise_for(response)
                return dict(await response.json())
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _post(self, conversation_id: str, path: str, body: Any, **params: str) -> None:
        url = f"{self._base_url}/conversations/{_path(conversation_id)}/{path}"
        # include_events=NONE: Rasa answers with the whole tracker otherwise, which grows with
        # the conversation and is of no use here.
        query = {
            "token": self._token,
            "output_channel": "latest",
            "include_events": "NONE",
            **params,
        }
        try:
            async with self._client().post(url, params=query, json=body) as response:
                await self._raise_for(response)
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error

    @staticmethod
    async def _raise_for(response: aiohttp.ClientResponse) -> None:
        if response.status < 400:
            return
        detail = (await response.text())[:300]
        if response.status >= 500 or response.status in (408, 409, 429):
            # 409: the conversation is locked by a message being processed; try again.
            raise RasaUnavailable(f"HTTP {response.status}: {detail}")
        raise RasaRejected(f"HTTP {response.status}: {detail}")
