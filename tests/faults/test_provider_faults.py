"""d. Provider faults during a burst: the fake Twilio answers 503 then 200, 429 with
Retry-After, or stalls past the client's timeout (and has accepted the message all the same).
Every reply must reach its shopper exactly once; a Retry-After must be waited out."""

from __future__ import annotations

import itertools

import pytest

from tests.channels.drivers import WhatsAppDriver
from tests.channels.fake_providers import TWILIO
from tests.conftest import SHARED
from tests.faults.conftest import FaultStack
from tests.faults.helpers import burst, count_replies, deliver_all, record, settle

pytestmark = [pytest.mark.faults, pytest.mark.integration]

RETRY_AFTER = 2.0


def client_timeout() -> float:
    """Seconds the Twilio client waits for an answer (channels/whatsapp/client.py)."""
    from channels.whatsapp import client

    return float(client.TIMEOUT)


def test_503_then_200(faults: FaultStack) -> None:
    driver = WhatsAppDriver(SHARED / "fixtures", faults.stack.settings.public_url)
    messages = burst(driver, 8)
    faults.providers.fail_next(TWILIO, 4, status=503)

    deliver_all(messages, faults.rasa_url)
    settle(messages, faults.providers, faults.store, timeout=30)

    tally = count_replies("d. Twilio 503 then 200", messages, faults.providers, faults.store)
    failed = [r for m in messages for r in faults.providers.attempts_to(TWILIO, m.shopper)
              if r.status == 503]  # fmt: skip
    tally.notes.append(f"{len(failed)} sends answered 503")
    record(tally)
    assert len(failed) == 4
    assert tally.ok(), tally.line()
    assert tally.store_agrees(), f"the store disagrees: {tally.line()}"


def test_429_with_retry_after(faults: FaultStack) -> None:
    driver = WhatsAppDriver(SHARED / "fixtures", faults.stack.settings.public_url)
    messages = burst(driver, 6)
    faults.providers.rate_limit_next(TWILIO, 3, retry_after=RETRY_AFTER)

    deliver_all(messages, faults.rasa_url)
    settle(messages, faults.providers, faults.store, timeout=45)

    tally = count_replies("d. Twilio 429 + Retry-After", messages, faults.providers,
                          faults.store)  # fmt: skip
    waits = []
    for message in messages:
        attempts = faults.providers.attempts_to(TWILIO, message.shopper)
        for limited, following in itertools.pairwise(attempts):
            if limited.status == 429:
                waits.append(round(following.at - limited.at, 2))
    honoured = sum(w >= RETRY_AFTER - 0.05 for w in waits)
    tally.notes.append(f"waits after 429 (s): {waits}; {honoured} of {len(waits)} "
                       f">= Retry-After {RETRY_AFTER:g}s")  # fmt: skip
    record(tally)
    assert tally.ok(), tally.line()
    assert tally.store_agrees(), f"the store disagrees: {tally.line()}"
    assert len(waits) == 3 and honoured == 3, tally.line()


def test_stall_past_the_client_timeout(faults: FaultStack) -> None:
    """Twilio takes the message but answers after the client gave up: the outcome is unknown
    to the sender, and a blind retry sends the shopper the same reply twice."""
    driver = WhatsAppDriver(SHARED / "fixtures", faults.stack.settings.public_url)
    messages = burst(driver, 4)
    stall = client_timeout() + 2
    faults.providers.stall_accepted(TWILIO, stall)

    deliver_all(messages, faults.rasa_url)
    settle(messages, faults.providers, faults.store, timeout=stall + 30, quiet_seconds=4)

    tally = count_replies("d. Twilio stalls past the client timeout (accepted)", messages,
                          faults.providers, faults.store)  # fmt: skip
    tally.notes.append(f"one send stalled {stall:g}s (client timeout {client_timeout():g}s)")
    record(tally)
    assert tally.ok(), tally.line()
    assert tally.store_agrees(), f"the store disagrees: {tally.line()}"
