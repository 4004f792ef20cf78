"""The Slack app: agents' thread replies and the card's buttons (slack-bolt, HTTP mode).

Bolt verifies every request's v0 signature with the signing secret and rejects stale
timestamps before any listener runs. Listeners acknowledge at once and only then touch the
database, well inside Slack's 3-second window. Nothing here is done twice: a retried event
(`X-Slack-Retry-Num`) carries the same message ts, which the ticket log refuses to store again,
and a double click finds the ticket already moved (compare-and-set in `TicketStore`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain.handoff_messages import is_internal_note
from bot.domain.handoff_ticket import AgentAction
from bot.domain.handoff_transcript import slack_to_plain
from bot.settings import HandoffSettings
from handoff.cards import CLAIM, HAND_BACK, RESOLVE
from handoff.slack_gateway import SlackFailure, SlackGateway
from handoff.tickets import Agent, Outcome, TicketStore

logger = logging.getLogger(__name__)

#: Message subtypes that are a person writing (others: edits, joins, bot posts...).
_HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


class AgentDesk:
    """What agents do in Slack, checked against the allow-list, applied to tickets."""

    def __init__(
        self,
        tickets: TicketStore,
        gateway: SlackGateway,
        config: HandoffSettings,
        wake: Callable[[], None],
    ) -> None:
        self._tickets = tickets
        self._gateway = gateway
        self._config = config
        self._wake = wake
        self._own_team: str | None = None

    async def allowed(self, user_id: str, team_id: str | None) -> bool:
        """An explicit user allow-list wins; else the configured workspace; else the workspace
        the app is installed in (auth.test), so outsiders in shared channels are refused."""
        if self._config.slack_allowed_user_ids:
            return user_id in self._config.slack_allowed_user_ids
        team = self._config.slack_team_id or await self._installed_team()
        return bool(team) and team_id == team

    async def _installed_team(self) -> str | None:
        if self._own_team is None:
            try:
                response = await self._gateway.client.auth_test()
                self._own_team = str(response.get("team_id") or "") or None
            except Exception:  # Slack unreachable: refuse for now, ask again next time
                logger.warning("auth.test failed; cannot check the workspace yet")
        return self._own_team

    async def agent(self, user_id: str) -> Agent:
        return Agent(id=f"slack:{user_id}", name=await self._gateway.user_name(user_id))

    async def on_message(self, event: dict[str, Any], team_id: str | None) -> None:
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        if event.get("subtype") not in _HUMAN_SUBTYPES or event.get("bot_id"):
            return
        if not thread_ts or thread_ts == ts or not event.get("user"):
            return  # only replies in a ticket's thread are for the shopper
        channel, user = str(event["channel"]), str(event["user"])
        ticket = self._tickets.by_slack_thread(channel, str(thread_ts))
        if ticket is None:
            return
        if not await self.allowed(user, event.get("team") or team_id):
            self._refuse(ticket.id, channel, user)
            return
        agent = await self.agent(user)
        text = slack_to_plain(str(event.get("text") or ""))
        key = f"slack:{channel}:{ts}"
        if not text:
            return
        if is_internal_note(text, self._config.note_prefix):
            self._tickets.note(ticket.id, agent, text, via="slack", dedupe_key=key)
            return
        outcome = self._tickets.reply(
            ticket.id, agent, text, via="slack", dedupe_key=key,
            slack_ref={"channel": channel, "ts": str(ts)},
        )  # fmt: skip
        self._tell(ticket.id, channel, user, outcome)

    async def on_button(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body.get("user") or {}
        user_id = str(user.get("id") or "")
        team_id = user.get("team_id") or (body.get("team") or {}).get("id")
        channel = str((body.get("channel") or {}).get("id") or "")
        try:
            ticket_id = int(action.get("value") or "")
        except ValueError:
            return
        if not await self.allowed(user_id, team_id):
            self._refuse(ticket_id, channel, user_id)
            return
        agent = await self.agent(user_id)
        action_id = action.get("action_id")
        if action_id == CLAIM:
            outcome = self._tickets.claim(ticket_id, agent, via="slack")
        elif action_id in (RESOLVE, HAND_BACK):
            verb = AgentAction.RESOLVE if action_id == RESOLVE else AgentAction.HAND_BACK
            outcome = self._tickets.close(ticket_id, agent, verb, via="slack")
        else:
            return
        self._tell(ticket_id, channel, user_id, outcome)

    def _refuse(self, ticket_id: int, channel: str, user: str) -> None:
        logger.warning("refused Slack user %s on ticket %s: not an allowed agent", user, ticket_id)
        self._tickets.queue_ephemeral(
            ticket_id, channel, user, "You are not on relaydesk's list of support agents."
        )
        self._wake()

    def _tell(self, ticket_id: int, channel: str, user: str, outcome: Outcome) -> None:
        if not outcome.ok and channel:
            self._tickets.queue_ephemeral(ticket_id, channel, user, outcome.message)
        self._wake()


def build_slack_app(desk: AgentDesk, gateway: SlackGateway, signing_secret: str) -> AsyncApp:
    app = AsyncApp(
        client=gateway.client,
        signing_secret=signing_secret,
        # Errors are reported to Slack as 500s; the listeners log their own.
        raise_error_for_unhandled_request=False,
    )

    @app.event("message")
    async def thread_reply(event: dict[str, Any], body: dict[str, Any]) -> None:
        # Bolt acknowledges events itself before this runs (process_before_response=False).
        try:
            await desk.on_message(event, body.get("team_id"))
        except SlackFailure:
            logger.exception("Slack call failed while handling a thread reply")

    @app.action(re.compile(f"^({CLAIM}|{RESOLVE}|{HAND_BACK})$"))
    async def button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await desk.on_button(body, action)

    return app
