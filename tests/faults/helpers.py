"""What the fault-injection tests share: killing and bringing back one process of the stack,
shoppers' webhook deliveries with the provider's own redelivery behaviour, and the count of
what was acknowledged, answered, lost and answered twice.

Counting is from the outside: the fake providers' records of what reached each shopper (keyed
by the reply's text) and the `channel_inbound` / `channel_outbound` rows in the stack's store.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from bot.processes.supervisor import ProcessSpec, Supervisor, is_healthy
from bot.store.channel_models import ChannelInbound, ChannelOutbound
from bot.store.database import Database
from tests.channels.drivers import Delivery, Driver
from tests.channels.fake_providers import TWILIO, FakeProviders, Record

#: Seconds the test gives the supervisor to start a killed process again by itself before it
#: does it explicitly (and says so: `restarted_by == "test"`, which the tests then refuse).
AUTO_RESTART_GRACE = float(os.environ.get("FAULTS_AUTO_RESTART_GRACE", "15"))
#: Inbound statuses of a delivery whose turn is over.
FINISHED = ("processed", "failed", "ignored")


# ---------------------------------------------------------------------- the fake providers


class FaultyProviders(FakeProviders):
    """The fake providers (tests/channels/fake_providers.py, H5's file) plus what the fault
    tests need and the fake does not have (yet): a `Retry-After` header on its 429 answers.

    `fail_next(..., status=201, delay=d)` already models a send that stalls and is then
    accepted by the provider (the record counts as delivered), which is what a client timeout
    looks like from the outside when the provider did take the message."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.retry_after: float | None = None
        base = self._server.RequestHandlerClass
        fake = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def send_response(self, code: int, message: str | None = None) -> None:
                super().send_response(code, message)
                if code == 429 and fake.retry_after is not None:
                    self.send_header("Retry-After", f"{fake.retry_after:g}")

        self._server.RequestHandlerClass = Handler

    def rate_limit_next(self, provider: str, count: int, retry_after: float) -> None:
        """The next `count` sends answer 429 with `Retry-After: retry_after`."""
        if "retry_after" in inspect.signature(FakeProviders.fail_next).parameters:
            self.fail_next(provider, count, status=429, retry_after=retry_after)  # type: ignore[call-arg]
            return
        self.retry_after = retry_after
        self.fail_next(provider, count, status=429)

    def stall_accepted(self, provider: str, seconds: float) -> None:
        """The next send is carried out by the provider, which answers `seconds` late."""
        if hasattr(FakeProviders, "stall_next"):  # H5's fake knows this itself
            self.stall_next(provider, 1, seconds=seconds, carried_out=True)  # type: ignore[attr-defined]
            return
        self.fail_next(provider, 1, status=201, delay=seconds)

    def attempts_to(self, provider: str, recipient: str) -> list[Record]:
        """Every send to `recipient`, failed ones included."""
        return self.sent(provider, recipient, ok_only=False)


# ---------------------------------------------------------------------- processes


def spec_of(supervisor: Supervisor, name: str) -> ProcessSpec:
    specs = getattr(supervisor, "_specs", None)  # before the restarting supervisor (H6)
    if specs is None:
        specs = [child.spec for child in supervisor._children]  # type: ignore[attr-defined]
    return next(s for s in specs if s.name == name)


def pid_of(supervisor: Supervisor, name: str) -> int:
    return int(supervisor._procs[name].pid)


def kill9(supervisor: Supervisor, name: str) -> int:
    """SIGKILL the process group of `name` (a crash: no cleanup, no goodbye); its pid."""
    proc = supervisor._procs[name]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return int(proc.pid)


def wait_healthy(spec: ProcessSpec, timeout: float | None = None) -> None:
    deadline = time.monotonic() + (timeout or spec.ready_timeout)
    while not is_healthy(spec.health_url):
        if time.monotonic() > deadline:
            raise AssertionError(f"{spec.name} not healthy at {spec.health_url}")
        time.sleep(0.2)


def bring_back(supervisor: Supervisor, name: str, old_pid: int,
               grace: float = AUTO_RESTART_GRACE) -> str:  # fmt: skip
    """Waits for `name` to be running and healthy again after a kill.

    The supervisor is expected to restart it by itself (issue 9, H6). If it has not started a
    new process within `grace` seconds, the test restarts it explicitly, as
    tests/integration/test_restart.py does. Returns who restarted it: "supervisor" or "test".
    """
    spec = spec_of(supervisor, name)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc = supervisor._procs.get(name)
        if proc is not None and proc.pid != old_pid and proc.poll() is None:
            wait_healthy(spec)
            return "supervisor"
        time.sleep(0.1)
    proc = supervisor._procs.get(name)
    if proc is not None and proc.pid != old_pid:  # started in the last moment after all
        wait_healthy(spec)
        return "supervisor"
    supervisor.restart(name)  # the old one is dead already: this only starts and waits
    return "test"


# ---------------------------------------------------------------------- webhook deliveries


@dataclass(frozen=True)
class RedeliveryPolicy:
    """How a provider redelivers a webhook call that was not answered with a 2xx.

    Twilio (Messaging webhooks, default connection settings, no `#rc=..&rp=..` fragment on the
    URL): one retry (`rc=1`) and only when the connection fails (`rp=ct`: refused or connect
    timeout, 5 s); a 5xx or a read timeout (15 s) is not retried, all within a total of 15 s
    (`tt`). After that Twilio calls the fallback URL if one is set, else the message is gone
    (error 11200 in Twilio's debugger) - it was never acknowledged, so not *our* loss.
    Slack (Events API): up to 3 retries, "nearly immediately, after 1 minute, after 5
    minutes", on connection failures, timeouts (3 s) and non-2xx answers; the tests compress
    the schedule (`compressed`) and mark retries with `X-Slack-Retry-Num`.
    """

    name: str
    retries: int
    #: Failure classes that get a retry: "connect", "timeout", "5xx", "4xx".
    retry_on: frozenset[str]
    delay: float = 0.5
    timeout: float = 15.0


TWILIO_DEFAULT = RedeliveryPolicy(
    "Twilio default (rc=1, rp=ct)", retries=1, retry_on=frozenset({"connect"}), delay=0.5
)


def failure_class(outcome: int | str) -> str:
    if isinstance(outcome, int):
        return "5xx" if outcome >= 500 else "4xx"
    return outcome


def post_once(delivery: Delivery, base_url: str, timeout: float = 15.0) -> int | str:
    """One webhook call: the HTTP status, or "connect" / "timeout" if there was none."""
    try:
        return delivery.post(base_url, timeout=timeout).status_code
    except requests.ConnectionError:
        return "connect"
    except requests.Timeout:
        return "timeout"


@dataclass
class Message:
    """One shopper message as the provider delivers it, and what answers it."""

    shopper: str
    text: str
    #: A piece of text only the reply to this message contains.
    expect: str
    delivery: Delivery | None = None
    #: Outcome of every delivery attempt (status code, "connect", "timeout").
    attempts: list[int | str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(isinstance(a, int) and 200 <= a < 300 for a in self.attempts)


def deliver(message: Message, base_url: str, policy: RedeliveryPolicy = TWILIO_DEFAULT) -> None:
    """Delivers `message` as the provider would: first call, then its retries, if any."""
    assert message.delivery is not None
    for attempt in range(policy.retries + 1):
        if attempt:
            time.sleep(policy.delay)
        outcome = post_once(message.delivery, base_url, policy.timeout)
        message.attempts.append(outcome)
        if message.acknowledged or failure_class(outcome) not in policy.retry_on:
            return


def deliver_all(messages: Sequence[Message], base_url: str,
                policy: RedeliveryPolicy = TWILIO_DEFAULT, workers: int = 8) -> None:  # fmt: skip
    """Concurrent deliveries (different shoppers write at the same moment)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda m: deliver(m, base_url, policy), messages))


#: Questions answered by a custom action (action_answer_from_kb), and a piece of each answer.
KB_QUESTIONS = [
    ("which payment methods do you accept?", "PayPal"),
    ("what is your return policy?", "within 30 days of delivery"),
    ("how long does delivery take?", "We pack orders within"),
    ("how do I create an account?", "Create account"),
]


def burst(driver: Driver, count: int) -> list[Message]:
    """`count` shoppers, each asking one knowledge-base question."""
    messages = []
    for n in range(count):
        text, expect = KB_QUESTIONS[n % len(KB_QUESTIONS)]
        shopper = driver.new_sender()
        messages.append(Message(shopper, text, expect, driver.message(shopper, text)))
    return messages


# ---------------------------------------------------------------------- the store


def inbound_rows(store: Database, channel: str, shoppers: Iterable[str]) -> list[ChannelInbound]:
    with store.session() as session:
        return list(
            session.execute(
                select(ChannelInbound)
                .where(
                    ChannelInbound.channel == channel,
                    ChannelInbound.external_id.in_(list(shoppers)),
                )
                .order_by(ChannelInbound.id)
            ).scalars()
        )


def outbound_rows(store: Database, channel: str, shoppers: Iterable[str]) -> list[ChannelOutbound]:
    with store.session() as session:
        return list(
            session.execute(
                select(ChannelOutbound)
                .where(
                    ChannelOutbound.channel == channel,
                    ChannelOutbound.external_id.in_(list(shoppers)),
                )
                .order_by(ChannelOutbound.id)
            ).scalars()
        )


def handoff_outbox(store: Database, ticket_id: int, kind: str) -> dict[str, int]:
    """Status counts of one ticket's handoff_outbox rows of `kind` ("say", "thread", ...)."""
    from handoff.store.models import HandoffDelivery

    with store.session() as session:
        rows = session.execute(
            select(HandoffDelivery.status).where(
                HandoffDelivery.ticket_id == ticket_id, HandoffDelivery.kind == kind
            )
        ).scalars()
        return dict(Counter(str(status) for status in rows))


# ---------------------------------------------------------------------- waiting and counting


def eventually(check: Callable[[], Any], timeout: float, interval: float = 0.1) -> bool:
    """Polls `check` until it is truthy; False (not an error) when time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())


def quiet(records: Callable[[], int], seconds: float, limit: float = 30.0) -> None:
    """Waits until `records()` has not changed for `seconds` (late duplicates show up)."""
    start = time.monotonic()
    last, since = records(), time.monotonic()
    while time.monotonic() - since < seconds and time.monotonic() - start < limit:
        time.sleep(0.1)
        now = records()
        if now != last:
            last, since = now, time.monotonic()


@dataclass
class Tally:
    scenario: str
    #: Messages the provider tried to deliver / that got a 2xx / that never did.
    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    #: Acknowledged messages answered at least once / never / more than once.
    answered: int = 0
    lost: int = 0
    answered_twice: int = 0
    #: Extra copies of any reply text to the same shopper (0 when nothing is duplicated).
    duplicate_sends: int = 0
    restarted_by: str = "-"
    #: Status counts of the scenario's channel_inbound / channel_outbound rows.
    inbound: dict[str, int] = field(default_factory=dict)
    outbound: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.scenario}: sent {self.sent}, acknowledged {self.acknowledged}, "
            f"refused {self.refused}, answered {self.answered}, lost {self.lost}, "
            f"answered twice {self.answered_twice}, duplicate sends {self.duplicate_sends}, "
            f"restarted by {self.restarted_by}; inbound {self.inbound}, outbound "
            f"{self.outbound}" + (f"; {'; '.join(self.notes)}" if self.notes else "")
        )

    def ok(self) -> bool:
        return self.lost == 0 and self.answered_twice == 0 and self.duplicate_sends == 0

    def store_agrees(self) -> bool:
        """Every delivery of the scenario is processed and every reply recorded as sent (no
        row left "received"/"processing", "failed" unless RESENT, or "pending"/"unknown" after
        it went out; handoff_outbox rows "delivered")."""
        return set(self.inbound) <= {"processed"} and set(self.outbound) <= {
            "sent",
            "delivered",
            RESENT,
        }


RESULTS: list[Tally] = []
_results_lock = threading.Lock()


def record(tally: Tally) -> Tally:
    """Keeps the figures for the end-of-run table (conftest) and FAULTS_REPORT (JSON lines)."""
    with _results_lock:
        RESULTS.append(tally)
        path = os.environ.get("FAULTS_REPORT")
        if path:
            with Path(path).open("a", encoding="utf-8") as out:
                out.write(json.dumps({**asdict(tally), "at": time.strftime("%F %T")}) + "\n")
    return tally


def count_replies(
    scenario: str,
    messages: Sequence[Message],
    providers: FakeProviders,
    store: Database,
    *,
    provider: str = TWILIO,
    channel: str = "whatsapp",
) -> Tally:
    """Lost / answered twice, per acknowledged message, from what reached its shopper."""
    tally = Tally(scenario, sent=len(messages))
    shoppers = sorted({m.shopper for m in messages})
    for message in messages:
        if not message.acknowledged:
            tally.refused += 1
            continue
        tally.acknowledged += 1
        answers = [r for r in providers.sent(provider, message.shopper) if message.expect in r.text]
        if not answers:
            tally.lost += 1
        else:
            tally.answered += 1
            if len(answers) > 1:
                tally.answered_twice += 1
    for shopper in shoppers:
        texts = Counter(r.text for r in providers.sent(provider, shopper))
        tally.duplicate_sends += sum(n - 1 for n in texts.values() if n > 1)
    tally.inbound = dict(Counter(str(r.status) for r in inbound_rows(store, channel, shoppers)))
    tally.outbound = dict(Counter(outbound_states(outbound_rows(store, channel, shoppers))))
    return tally


#: A send a killed process left pending, that the provider never carried out (asked at the
#: restart): recorded failed, and the turn's replay sent the reply again in a later row.
RESENT = "failed, then sent again"


def outbound_states(rows: Sequence[ChannelOutbound]) -> list[str]:
    """Each row's status; a failed row whose request a later row to the same shopper did send
    counts as RESENT, which the store agrees with (the shopper got it once)."""
    states = []
    for index, row in enumerate(rows):
        status = str(row.status)
        if status == "failed" and any(
            later.external_id == row.external_id
            and later.kind == row.kind
            and later.content == row.content
            and str(later.status) in ("sent", "delivered")
            for later in rows[index + 1 :]
        ):
            status = RESENT
        states.append(status)
    return states


def settle(messages: Sequence[Message], providers: FakeProviders, store: Database, *,
           timeout: float = 60.0, quiet_seconds: float = 3.0, provider: str = TWILIO,
           channel: str = "whatsapp") -> None:  # fmt: skip
    """Waits until every acknowledged message is answered and its delivery finished (or time
    is up: then the count says what is missing), then until nothing more is sent."""
    acknowledged = [m for m in messages if m.acknowledged]
    shoppers = {m.shopper for m in acknowledged}

    def done() -> bool:
        answered = all(
            any(m.expect in r.text for r in providers.sent(provider, m.shopper))
            for m in acknowledged
        )
        rows = inbound_rows(store, channel, shoppers)
        return answered and all(str(r.status) in FINISHED for r in rows)

    eventually(done, timeout, interval=0.25)
    quiet(lambda: len(providers.records), quiet_seconds)
