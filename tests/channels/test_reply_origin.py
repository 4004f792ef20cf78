"""A bridged agent reply is recorded with its origin (for H3's delivery state): the bridge
posts a `bot` event with `metadata.handoff_delivery` to Rasa's
`/conversations/<id>/tracker/events?execute_side_effects=true`; Rasa hands the event's
`message()` (data and metadata merged) to our `ChannelOutput.send_response`, which records the
send with `origin="handoff:<id>"` in `channel_outbound`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.store.channel_models import ChannelInbound, ChannelOutbound
from bot.store.database import Database
from handoff.bridge.rasa_client import _path
from tests.channels.conftest import CHANNELS, eventually
from tests.channels.drivers import drivers
from tests.channels.fake_providers import FakeProviders
from tests.conftest import RunningStack

pytestmark = pytest.mark.integration
_delivery_ids = itertools.count(900_001)


@pytest.fixture(scope="module")
def store(rasa_stack: RunningStack) -> Iterator[Database]:
    database = Database(rasa_stack.settings.database_url)
    yield database
    database.dispose()


@pytest.mark.parametrize("channel", CHANNELS)
def test_bridged_agent_reply_is_recorded_with_its_origin(
    rasa_stack: RunningStack, fake_providers: FakeProviders, store: Database,
    shared_dir: Path, channel: str,
) -> None:  # fmt: skip
    fake_providers.reset_faults()
    driver = drivers(shared_dir / "fixtures", rasa_stack.settings.public_url)[channel]
    sender = driver.new_sender()
    # The shopper wrote on this channel, so output_channel=latest finds it.
    assert driver.message(sender, "hi").post(rasa_stack.rasa_url).status_code == 200

    def finished() -> bool:
        with store.session() as session:
            row = session.execute(
                select(ChannelInbound).where(
                    ChannelInbound.channel == channel, ChannelInbound.external_id == sender
                )
            ).scalar_one_or_none()
        return row is not None and row.status == "processed"

    eventually(finished, timeout=60)
    delivery_id = next(_delivery_ids)

    # What the bridge does (handoff/bridge/rasa_client.py RasaClient.say).
    answer = requests.post(
        f"{rasa_stack.rasa_url}/conversations/{_path(f'{channel}:{sender}')}/tracker/events",
        params={
            "token": rasa_stack.token, "output_channel": "latest",
            "include_events": "NONE", "execute_side_effects": "true",
        },
        json=[{"event": "bot", "text": "Maya here, I'm on it.",
               "metadata": {"handoff_delivery": delivery_id}}],
        timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text

    replies = fake_providers.wait_for(driver.provider, sender, 2)
    assert replies[-1].text == "Maya here, I'm on it."
    with store.session() as session:
        rows = list(
            session.execute(
                select(ChannelOutbound)
                .where(ChannelOutbound.channel == channel)
                .where(ChannelOutbound.external_id == sender)
                .order_by(ChannelOutbound.id)
            ).scalars()
        )
    assert [r.origin for r in rows] == [None, f"handoff:{delivery_id}"]
    assert rows[-1].status == "sent" and rows[-1].inbound_id is None
