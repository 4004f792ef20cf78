"""The Slack app: agents' thread replies, the card's buttons, the *Add note* form, and the
answers to "was that meant for the shopper?" and "retry?" (slack-bolt, HTTP mode).

Bolt verifies every request's v0 signature with the signing secret and rejects stale
timestamps before any listener runs. Listeners acknowledge at once and only then touch the
database, well inside Slack's 3-second window. Nothing here is done twice: a retried event
(`X-Slack-Retry-Num`) carries the same message ts, which the ticket log refuses to store again,
and a double click finds the ticket already moved (compare-and-set in `TicketStore`).

Internal notes never depend on typing a prefix right: *Add note* opens a form whose text is a
note whatever it says, and a thread message that looks like a mistyped note ("!nte", "note:",
"/" for "//"; `classify_agent_text`) is not sent but kept as a note, and the agent is asked
(ephemeral, in the thread) whether to send it after all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.settings import HandoffSettings
from handoff.bridge.cards import (
    CLAIM,
    HAND_BACK,
    KEEP_HELD,
    NOTE,
    NOTE_FORM,
    NOTE_INPUT,
    RESOLVE,
    RETRY,
    SEND_HELD,
    held_prompt,
    note_form,
)
from handoff.bridge.slack_gateway import SlackFailure, SlackGateway, classify
from handoff.domain.messages import AgentText, classify_agent_text
from handoff.domain.ticket import AgentAction
from handoff.domain.ticket_views import Agent, Outcome
from handoff.mrkdwn import slack_to_plain
from handoff.store.tickets import TicketStore

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
        kind = classify_agent_text(text, self._config.note_prefix)
        if kind is not AgentText.REPLY:
            noted = self._tickets.note(ticket.id, agent, text, via="slack", dedupe_key=key)
            if noted.message_id is None:
                return  # a retried event: handled the first time
            ref = {"channel": channel, "ts": str(ts)}
            self._tickets.queue_reaction(ticket.id, ref, "memo")  # "stayed internal"
            if kind is AgentText.NEAR_MISS:
                prompt, blocks = held_prompt(noted.message_id, text, self._config.note_prefix)
                self._tickets.queue_prompt(ticket.id, channel, user, str(thread_ts), prompt, blocks)
            self._wake()
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

    async def on_note_button(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """*Add note* on the card: open the form (the trigger is valid for 3 seconds, so this
        call is made at once, not through the outbox)."""
        user_id, team_id, channel = _who(body)
        ticket_id = _int(action.get("value"))
        if ticket_id is None:
            return
        if not await self.allowed(user_id, team_id):
            self._refuse(ticket_id, channel, user_id)
            return
        try:
            await self._gateway.client.views_open(
                trigger_id=str(body.get("trigger_id") or ""), view=note_form(ticket_id)
            )
        except Exception as error:  # expired trigger, Slack down: say so, nothing is lost
            failure = classify(error)
            logger.warning("could not open the note form for ticket %s: %s", ticket_id, failure)
            self._tickets.queue_ephemeral(
                ticket_id, channel, user_id,
                "Could not open the note form; please try again, or write the note in the "
                f"thread starting with `{self._config.note_prefix}`.",
            )  # fmt: skip
            self._wake()

    async def on_note_form(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id, team_id, _ = _who(body)
        ticket_id = _int(view.get("private_metadata"))
        values = ((view.get("state") or {}).get("values") or {}).get(NOTE_INPUT) or {}
        text = str((values.get(NOTE_INPUT) or {}).get("value") or "").strip()
        if ticket_id is None or not text:
            return
        if not await self.allowed(user_id, team_id):
            logger.warning("refused Slack user %s: note on ticket %s", user_id, ticket_id)
            return
        agent = await self.agent(user_id)
        # The view id is the same when Slack retries the submission: saved once.
        key = f"slack-note:{view.get('id') or body.get('trigger_id')}"
        self._tickets.note(ticket_id, agent, text, via="slack form", dedupe_key=key)
        self._wake()

    async def on_held(self, body: dict[str, Any], action: dict[str, Any]) -> str | None:
        """The agent's answer about a held-back message; returns what to show instead of the
        question (None: nothing to change)."""
        user_id, team_id, channel = _who(body)
        note_id = _int(action.get("value"))
        if note_id is None or not await self.allowed(user_id, team_id):
            return None
        if action.get("action_id") == KEEP_HELD:
            return ":lock: Kept as an internal note; the shopper did not get it."
        outcome = self._tickets.send_note(note_id, await self.agent(user_id))
        self._wake()
        if outcome.ok:
            return ":outbox_tray: Sent to the shopper after all."
        if outcome.ticket is not None:
            self._tell(outcome.ticket.id, channel, user_id, outcome)
        return None

    async def on_retry(self, body: dict[str, Any], action: dict[str, Any]) -> str | None:
        user_id, team_id, channel = _who(body)
        delivery_id = _int(action.get("value"))
        if delivery_id is None or not await self.allowed(user_id, team_id):
            return None
        agent = await self.agent(user_id)
        outcome = self._tickets.retry_reply(delivery_id, agent)
        if not outcome.ok:
            if outcome.ticket is not None:
                self._tell(outcome.ticket.id, channel, user_id, outcome)
            return None
        self._wake()
        return f":repeat: {agent.name} sent it again; its reactions show how it goes."

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
        # Slack's 200 goes out only once the listener has run: an agent's reply is in the
        # ticket log and the outbox before Slack hears "got it". Acknowledged first, a kill -9
        # in between lost it, and Slack never redelivers an acknowledged event. The listeners
        # only write to the store (and open a form), well inside Slack's 3 s.
        process_before_response=True,
    )

    @app.event("message")
    async def thread_reply(event: dict[str, Any], body: dict[str, Any]) -> None:
        # Bolt acknowledges the event after this has run (process_before_response=True).
        try:
            await desk.on_message(event, body.get("team_id"))
        except SlackFailure:
            logger.exception("Slack call failed while handling a thread reply")

    @app.action(re.compile(f"^({CLAIM}|{RESOLVE}|{HAND_BACK})$"))
    async def button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await desk.on_button(body, action)

    @app.action(NOTE)
    async def note_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await desk.on_note_button(body, action)

    @app.view(NOTE_FORM)
    async def note_form_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        await ack()  # closes the form
        await desk.on_note_form(body, view)

    @app.action(re.compile(f"^({SEND_HELD}|{KEEP_HELD})$"))
    async def held(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        await _replace(respond, await desk.on_held(body, action))

    @app.action(RETRY)
    async def retry(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        await _replace(respond, await desk.on_retry(body, action))

    return app


async def _replace(respond: AsyncRespond, text: str | None) -> None:
    """Replace the message with the buttons (through its response_url), so they cannot be
    pressed again; best effort: a second press is harmless anyway."""
    if text is None:
        return
    try:
        await respond(text=text, replace_original=True)
    except Exception:  # the response_url expired or Slack is down: the buttons stay
        logger.warning("could not replace a Slack message through its response_url")


def _who(body: dict[str, Any]) -> tuple[str, str | None, str]:
    """(user id, team id, channel id) of an interaction."""
    user = body.get("user") or {}
    team_id = user.get("team_id") or (body.get("team") or {}).get("id")
    channel = str((body.get("channel") or {}).get("id") or "")
    return str(user.get("id") or ""), team_id, channel


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
