"""Did the turn's actions run? And is the action server there?

Rasa 3.6 does not tell its caller. `MessageProcessor._run_action` catches any exception of an
action (the action server refusing the connection included), logs

    Encountered an exception while running action '<name>'. Bot will continue, but the
    actions events are lost. ...

on `rasa.core.processor`, and carries on: `Agent.handle_message` returns normally, the
tracker is saved with the action logged as executed. A custom slot mapping's action (here
`action_assess_escalation`, on every message) fails more quietly still:
`ActionExtractSlots._run_custom_action` logs a warning on `rasa.core.actions.action`
("Failed to execute custom action ..."). `RemoteAction.run` itself logs "Failed to run custom
action ... Couldn't connect" on that logger before raising.

So a logging handler, installed once by the first connector (`install_failure_detection`),
listens on those two loggers and records each such failure on the turn it belongs to: the
`TurnOutcome` that `watching_turn()` puts in a ContextVar. Rasa runs a turn in the task that
handed the message over, and logging calls handlers synchronously in the caller's context,
so each turn sees only its own failures even with several turns in flight. (The records
pass the loggers' level check first: Rasa logs these at ERROR and WARNING, so a LOG_LEVEL of
ERROR would hide the slot-mapping warning, but not the connection error, from us.)

`ActionServerWatch` is the other half: one GET of the action server's `/health` (rasa-sdk
serves it next to `/webhook`), and a wait until it answers, polled with backoff (0.5 s
doubling to 2 s) by one task per action server, only while someone waits.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import aiohttp

logger = logging.getLogger(__name__)

#: Loggers Rasa reports action failures on.
PROCESSOR_LOGGER = "rasa.core.processor"
ACTION_LOGGER = "rasa.core.actions.action"
_FAILURES = (
    # rasa/core/processor.py MessageProcessor._run_action
    (PROCESSOR_LOGGER, re.compile(r"^Encountered an exception while running action '([^']*)'")),
    # rasa/core/actions/action.py RemoteAction.run (connection refused, ...)
    (ACTION_LOGGER, re.compile(r"^Failed to run custom action '([^']*)'")),
    # rasa/core/actions/action.py ActionExtractSlots._run_custom_action (custom slot mapping)
    (ACTION_LOGGER, re.compile(r"^Failed to execute custom action '([^']*)'")),
)

HEALTH_TIMEOUT = 2.0
POLL_MIN_DELAY = 0.5
POLL_MAX_DELAY = 2.0


@dataclass(frozen=True)
class ActionFailure:
    action: str
    detail: str

    def __str__(self) -> str:
        return f"{self.action}: {self.detail}"


@dataclass
class TurnOutcome:
    """What went wrong in one turn (filled in by the logging handler)."""

    failures: list[ActionFailure] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    def describe(self) -> str:
        seen: list[str] = []
        for failure in self.failures:
            if failure.action not in seen:
                seen.append(failure.action)
        first = self.failures[0].detail if self.failures else ""
        return f"{', '.join(seen)} failed: {first}"


_CURRENT_TURN: ContextVar[TurnOutcome | None] = ContextVar("channel_turn_outcome", default=None)


def current_turn() -> TurnOutcome | None:
    """The turn being processed in this task, if a connector is watching one."""
    return _CURRENT_TURN.get()


@contextmanager
def watching_turn() -> Iterator[TurnOutcome]:
    outcome = TurnOutcome()
    token = _CURRENT_TURN.set(outcome)
    try:
        yield outcome
    finally:
        _CURRENT_TURN.reset(token)


def classify(record: logging.LogRecord) -> ActionFailure | None:
    """The action failure a Rasa log record reports, if it reports one."""
    if record.levelno < logging.WARNING:
        return None
    try:
        message = record.getMessage()
    except Exception:  # a record that cannot be formatted is not one of Rasa's
        return None
    for name, pattern in _FAILURES:
        if record.name != name:
            continue
        match = pattern.match(message)
        if match is None:
            continue
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            cause = error.__cause__ or error.__context__
            detail = f"{type(error).__name__}: {error}"
            if cause is not None:
                detail += f" ({type(cause).__name__}: {cause})"
        else:
            detail = message
        return ActionFailure(match.group(1), " ".join(detail.split())[:300])
    return None


class _ActionFailureHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        turn = _CURRENT_TURN.get()
        if turn is None:
            return
        failure = classify(record)
        if failure is not None:
            turn.failures.append(failure)


_handler: _ActionFailureHandler | None = None


def install_failure_detection() -> None:
    """Attaches the handler to Rasa's loggers; once per process, whoever calls first."""
    global _handler
    if _handler is not None:
        return
    _handler = _ActionFailureHandler(level=logging.WARNING)
    for name in (PROCESSOR_LOGGER, ACTION_LOGGER):
        logging.getLogger(name).addHandler(_handler)


def health_url_of(action_endpoint_url: str) -> str:
    """rasa-sdk answers `/health` beside `/webhook`."""
    base = action_endpoint_url.rstrip("/")
    if base.endswith("/webhook"):
        base = base[: -len("/webhook")]
    return f"{base}/health"


class ActionServerWatch:
    """What we last saw of one action server, and a way to wait for it."""

    def __init__(self, health_url: str) -> None:
        self.health_url = health_url
        #: The last check (or turn) found it unreachable, and no check since found it up.
        self.known_down = False
        self._poller: asyncio.Future[None] | None = None

    def saw_failure(self) -> None:
        self.known_down = True

    async def healthy(self) -> bool:
        """One health check; remembers the answer."""
        try:
            timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self.health_url) as response,
            ):
                up = response.status < 500
        except (TimeoutError, aiohttp.ClientError, OSError):
            up = False
        if up and self.known_down:
            logger.info("the action server answers again (%s)", self.health_url)
        elif not up and not self.known_down:
            logger.warning("the action server does not answer (%s)", self.health_url)
        self.known_down = not up
        return up

    async def wait_until_up(self) -> None:
        """Returns once a health check passes. Waiters share one polling task."""
        if self._poller is None or self._poller.done():
            self._poller = asyncio.ensure_future(self._poll())
        await asyncio.shield(self._poller)

    async def _poll(self) -> None:
        delay = POLL_MIN_DELAY
        while not await self.healthy():
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(POLL_MAX_DELAY, delay * 2)


_watches: dict[tuple[asyncio.AbstractEventLoop, str], ActionServerWatch] = {}


def watch_for(health_url: str) -> ActionServerWatch:
    """One watch per action server and event loop, shared by every connector."""
    key = (asyncio.get_running_loop(), health_url)
    if key not in _watches:
        _watches[key] = ActionServerWatch(health_url)
    return _watches[key]
