"""Handoff latency on this machine, end to end through the real processes.

Starts the stack (Rasa, action server, bridge) on a scratch store with the local fake Slack
API, hands web chat conversations to a person (10 by default; a handoff is a few dozen
messages, and Rasa's per-message cost grows with the conversation), then measures, one
message at a time (20 each way per conversation by default):

- shopper → thread: from the shopper's socket.io emit until the fake Slack receives the
  chat.postMessage into the ticket's thread;
- agent → shopper: from the signed Slack event POST to the bridge until the shopper's
  socket.io client receives the reply.

    .venv/bin/python bench/handoff_bench.py [--conversations 10] [--messages 20]

Prints p50/p95/p99/max per direction and writes results/bench/handoff_bench.json. Target
(docs/handoff.md): p99 ≤ 250 ms for both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.cli import prepare_store  # noqa: E402
from bot.processes.stack import stack_specs, train  # noqa: E402
from bot.processes.supervisor import Supervisor  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.handoff.fake_slack import FakeSlack  # noqa: E402
from tests.handoff.shoppers import WebChatShopper, card_for, ticket_for  # noqa: E402
from tests.handoff.slack_requests import message_event, post_event, vector  # noqa: E402

AGENTS = {"W111": "Maya Lopez"}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(at(0.95), 1),
        "p99_ms": round(at(0.99), 1),
        "max_ms": round(ordered[-1], 1),
    }


def wait(condition, timeout: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    """Spin until `condition()` returns a timestamp; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return float(found)
        time.sleep(0.001)
    raise TimeoutError("a message did not arrive within 10 s")


def measure(
    stack_settings: Settings, fake: FakeSlack, conversations: int, per_conversation: int
) -> dict[str, dict[str, float]]:
    events_url = f"http://127.0.0.1:{stack_settings.bridge_port}/slack/events"
    secret = stack_settings.handoff.slack_signing_secret
    inbound: list[float] = []
    outbound: list[float] = []
    for number in range(conversations + 1):  # conversation 0 warms everything up, uncounted
        shopper = WebChatShopper(stack_settings.rasa_url)
        shopper.say("I want to talk to a human")
        shopper.wait_for(lambda t: "support team" in t)
        ticket = ticket_for(stack_settings.database_url, shopper.session_id)
        channel, ts = card_for(fake, ticket)

        def thread_arrival(text: str, channel: str = channel, ts: str = ts) -> float | None:
            for call in fake.calls_to("chat.postMessage", channel=channel, thread_ts=ts):
                if text in str(call.args.get("text")):
                    return call.at
            return None

        def shopper_arrival(text: str, shopper: WebChatShopper = shopper) -> float | None:
            for message in list(shopper.received):
                if str(message.get("text", "")).startswith(text):
                    return float(message["_at"])
            return None

        for n in range(per_conversation if number else 5):
            text = f"shopper message {number}.{n} {uuid.uuid4().hex[:6]}"
            sent = time.time()
            shopper.say(text)
            arrived = wait(lambda text=text: thread_arrival(text))
            reply = f"agent reply {number}.{n} {uuid.uuid4().hex[:6]}"
            started = time.time()
            post_event(events_url, secret, message_event(channel, ts, "W111", reply))
            delivered = wait(lambda reply=reply: shopper_arrival(reply))
            if number:
                inbound.append((arrived - sent) * 1000)
                outbound.append((delivered - started) * 1000)
            time.sleep(0.05)
        shopper.close()
    return {
        "shopper_to_thread": percentiles(inbound),
        "agent_to_shopper": percentiles(outbound),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10, help="handoffs measured")
    parser.add_argument(
        "--messages", type=int, default=20, help="messages per direction and conversation"
    )
    args = parser.parse_args()

    base = Settings.from_env({})
    model = train(base, echo=lambda _line: None)
    workdir = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    rasa_port = free_port()
    with FakeSlack(users=AGENTS) as fake:
        settings = base.replace(
            database_url=f"sqlite:///{workdir / 'store.db'}",
            tracker_db_path=workdir / "tracker.db",
            rasa_port=rasa_port,
            action_port=free_port(),
            bridge_port=free_port(),
            rasa_token=uuid.uuid4().hex,
            public_url=f"http://127.0.0.1:{rasa_port}",
        )
        settings = fake.configure(settings, workdir, agents=frozenset(AGENTS))
        assert settings.handoff.slack_signing_secret == vector()["signing_secret"]
        prepare_store(settings)
        with open(workdir / "supervisor.log", "w") as output:
            supervisor = Supervisor(
                stack_specs(settings, settings.to_env()),
                output=output,
                log_dir=str(workdir / "logs"),
            )
            supervisor.start()
            try:
                supervisor.wait_until_ready()
                load_before = os.getloadavg()
                results = measure(settings, fake, args.conversations, args.messages)
            finally:
                supervisor.stop()
    report = {
        "model": str(model),
        # Other jobs on the machine inflate the figures: quote them with the load.
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "conversations": args.conversations,
        "messages_per_conversation": args.messages,
        **results,
    }
    out = REPO / "results" / "bench" / "handoff_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print("| direction | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("shopper_to_thread", "agent_to_shopper"):
        r = results[name]
        print(
            f"| {name} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} |"
        )
    loads = f"{report['load_average_before'][0]:.2f} → {report['load_average_after'][0]:.2f}"
    print(f"\nload average (1 min) {loads}; written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
