"""The Slack Web API calls the handoff makes, and which failures are worth retrying.

A thin layer over slack-sdk's `AsyncWebClient` (its `base_url` points tests at a local fake).
slack-sdk's own retry handlers are switched off: retries are the outbox's job, which keeps
them durable across restarts and keeps each ticket's messages in order.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

#: Slack `error` codes that mean "try again later" rather than "this request is wrong".
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
     "team_added_to_org"}
)  # fmt: skip


#: Pages of 200 replies looked through for a message already posted (a longer thread is rare).
THREAD_PAGES = 5


class SlackFailure(Exception):
    def __init__(self, error: str, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.transient = transient
        #: Seconds Slack asked us to wait (HTTP 429 Retry-After), if it did.
        self.retry_after = retry_after


def classify(error: Exception) -> SlackFailure:
    if isinstance(error, SlackApiError):
        response = error.response
        status = int(getattr(response, "status_code", 0) or 0)
        code = str((response.data or {}).get("error") if isinstance(response.data, dict) else "")
        retry_after = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
            "retry-after"
        )
        transient = status >= 500 or status == 429 or code in TRANSIENT_ERRORS
        return SlackFailure(
            code or f"HTTP {status}", transient, float(retry_after) if retry_after else None
        )
    if isinstance(error, aiohttp.ClientError | TimeoutError | OSError):
        return SlackFailure(f"{type(error).__name__}: {error}", transient=True)
    return SlackFailure(f"{type(error).__name__}: {error}", transient=False)


class SlackGateway:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._names: dict[str, str] = {}

    @classmethod
    def connect(cls, token: str, base_url: str) -> SlackGateway:
        return cls(AsyncWebClient(token=token, base_url=base_url, timeout=10, retry_handlers=[]))

    async def post(
        self,
        channel: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """Returns (channel id, message ts): names like "#support" come back as ids."""
        response = await self._call(
            self.client.chat_postMessage,
            channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
            reply_broadcast=broadcast or None, unfurl_links=False, unfurl_media=False,
            metadata=metadata,
        )  # fmt: skip
        return str(response["channel"]), str(response["ts"])

    async def thread_has(
        self, channel: str, thread_ts: str, event_type: str, payload: dict[str, Any]
    ) -> bool:
        """Whether the thread holds a message posted with this metadata: chat.postMessage has
        no idempotency key, so a post whose answer a killed bridge never recorded is found
        again by the metadata it carried."""
        cursor: str | None = None
        for _ in range(THREAD_PAGES):
            response = await self._call(
                self.client.conversations_replies, channel=channel, ts=thread_ts,
                include_all_metadata=True, limit=200, cursor=cursor,
            )  # fmt: skip
            for message in response.get("messages") or ():
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == event_type and all(
                    (metadata.get("event_payload") or {}).get(k) == v for k, v in payload.items()
                ):
                    return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return False
        return False

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        await self._call(self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        await self._call(self.client.chat_postEphemeral, channel=channel, user=user, text=text)

    async def react(self, channel: str, ts: str, name: str) -> None:
        try:
            await self._call(self.client.reactions_add, channel=channel, timestamp=ts, name=name)
        except SlackFailure as failure:
            if failure.error != "already_reacted":  # a retried delivery: fine
                raise

    async def user_name(self, user_id: str) -> str:
        """The agent's real name (users.info, cached); their id if Slack will not say."""
        if user_id not in self._names:
            try:
                response = await self._call(self.client.users_info, user=user_id)
            except SlackFailure:
                return user_id
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            self._names[user_id] = str(
                profile.get("real_name") or user.get("real_name") or user.get("name") or user_id
            )
        return self._names[user_id]

    @staticmethod
    async def _call(method: Any, **kwargs: Any) -> Any:
        arguments = {key: value for key, value in kwargs.items() if value is not None}
        try:
            return await method(**arguments)
        except Exception as error:  # classified: transient ones are retried by the outbox
            raise classify(error) from error
