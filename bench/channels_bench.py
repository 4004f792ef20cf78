"""Webhook latency of the messaging channels under concurrent conversations.

Starts the relaydesk stack (Rasa + action server + bridge, the trained model, a fresh demo
store) with WhatsApp, Messenger and Telegram pointed at the fake providers of
tests/channels/fake_providers.py, then drives N concurrent shoppers per channel through each
webhook with real-format, signed deliveries (tests/channels/drivers.py, payloads from
../shared/fixtures) and reports, per channel:

* ack:   webhook POST → HTTP response (what Twilio / Meta / Telegram wait for)
* reply: webhook POST → the first outbound message for that shopper reaching the provider

    .venv/bin/python bench/channels_bench.py [--conversations 20] [--channels whatsapp,...]

Each conversation is the start of an order-status chat ("where is my order", then "10023"),
one reply per turn. Results go to stdout and results/channels_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.cli import prepare_store  # noqa: E402
from bot.processes.stack import stack_specs, train  # noqa: E402
from bot.processes.supervisor import Supervisor  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.channels.drivers import Driver, drivers  # noqa: E402
from tests.channels.fake_providers import FakeProviders, Record  # noqa: E402
from tests.conftest import free_port  # noqa: E402

TURNS = ("where is my order", "10023")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 40 samples is the largest: no interpolation flattery)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Replies:
    """Per-shopper queues of the fake provider's records, fed from its server threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fake: FakeProviders) -> None:
        self._loop = loop
        self._queues: dict[tuple[str, str], asyncio.Queue[Record]] = {}
        fake.add_listener(self._on_record)

    def queue(self, provider: str, recipient: str) -> asyncio.Queue[Record]:
        return self._queues.setdefault((provider, recipient), asyncio.Queue())

    def _on_record(self, record: Record) -> None:
        if record.ok and record.is_message and record.recipient:
            queue = self._queues.get((record.provider, record.recipient))
            if queue is not None:
                self._loop.call_soon_threadsafe(queue.put_nowait, record)


async def conversation(
    http: aiohttp.ClientSession, base_url: str, driver: Driver, replies: Replies
) -> list[tuple[float, float]]:
    """(ack seconds, first-reply seconds) for each turn of one shopper."""
    sender = driver.new_sender()
    queue = replies.queue(driver.provider, sender)
    timings = []
    for text in TURNS:
        delivery = driver.message(sender, text)
        started = time.perf_counter()
        async with http.post(base_url + delivery.path, data=delivery.body,
                             headers=delivery.headers) as response:  # fmt: skip
            await response.read()
            acked = time.perf_counter()
            if response.status != 200:
                raise RuntimeError(f"{driver.channel}: webhook answered {response.status}")
        record = await asyncio.wait_for(queue.get(), timeout=120)
        timings.append((acked - started, record.at - started))
    return timings


async def run_channel(
    base_url: str, driver: Driver, replies: Replies, conversations: int
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=conversations)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(conversation(http, base_url, driver, replies) for _ in range(conversations))
        )
        wall = time.perf_counter() - started
    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    acks = [ack * 1000 for timings in results for ack, _ in timings]
    firsts = [reply * 1000 for timings in results for _, reply in timings]
    return {
        "channel": driver.channel,
        "conversations": conversations,
        "turns": len(acks),
        "wall_seconds": round(wall, 2),
        "load_average_1min": round(load, 2),
        "ack_ms": {
            "p50": round(percentile(acks, 0.5), 1),
            "p99": round(percentile(acks, 0.99), 1),
            "max": round(max(acks), 1),
        },
        "reply_ms": {
            "p50": round(percentile(firsts, 0.5), 1),
            "p99": round(percentile(firsts, 0.99), 1),
            "mean": round(statistics.fmean(firsts), 1),
        },
    }


async def bench(settings: Settings, fake: FakeProviders, args: argparse.Namespace) -> list[dict]:
    replies = Replies(asyncio.get_running_loop(), fake)
    channel_drivers = drivers(args.fixtures, settings.public_url)
    results = []
    for name in args.channels:
        # One warm-up conversation: the first message of a process loads lazily built clients.
        await run_channel(settings.rasa_url, channel_drivers[name], replies, 1)
        result = await run_channel(
            settings.rasa_url, channel_drivers[name], replies, args.conversations
        )
        results.append(result)
        print(
            f"{name:9} {result['turns']:4} turns  ack p50 {result['ack_ms']['p50']:7.1f} ms  "
            f"p99 {result['ack_ms']['p99']:7.1f} ms   webhook→outbound p50 "
            f"{result['reply_ms']['p50']:7.1f} ms  p99 {result['reply_ms']['p99']:7.1f} ms"
            f"   (load {result['load_average_1min']})",
            flush=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20, help="concurrent, per channel")
    parser.add_argument("--channels", default="whatsapp,messenger,telegram")
    parser.add_argument(
        "--turns-in-flight", type=int, default=Settings().sending.max_turns_in_flight,
        help="CHANNEL_MAX_TURNS_IN_FLIGHT for the run",
    )  # fmt: skip
    parser.add_argument("--fixtures", type=Path, default=REPO_ROOT.parent / "shared" / "fixtures")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "channels_bench.json")
    parser.add_argument("--no-train", action="store_true", help="use models/ as it is")
    args = parser.parse_args()
    args.channels = [c.strip() for c in args.channels.split(",") if c.strip()]

    if not args.no_train:
        print("training if data or config changed ...", flush=True)
        train(Settings.from_env({}), echo=lambda _line: None)
    with tempfile.TemporaryDirectory() as workdir, FakeProviders() as fake:
        rasa_port = free_port()
        settings = fake.configure(
            Settings.from_env({}).replace(
                database_url=f"sqlite:///{Path(workdir) / 'store.db'}",
                tracker_db_path=Path(workdir) / "tracker.db",
                rasa_port=rasa_port,
                action_port=free_port(),
                bridge_port=free_port(),
                rasa_token=uuid.uuid4().hex,
                public_url=f"http://127.0.0.1:{rasa_port}",
                sending={"max_turns_in_flight": args.turns_in_flight},
            )
        )
        prepare_store(settings)
        with open(Path(workdir) / "supervisor.log", "w") as log:
            specs = stack_specs(settings, settings.to_env())
            supervisor = Supervisor(specs, output=log, log_dir=workdir)
            supervisor.start()
            try:
                supervisor.wait_until_ready()
                print(f"stack ready; {args.conversations} concurrent conversations per channel, "
                      f"{len(TURNS)} turns each, {args.turns_in_flight} turns in flight",
                      flush=True)  # fmt: skip
                results = asyncio.run(bench(settings, fake, args))
            finally:
                supervisor.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
