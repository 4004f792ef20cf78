"""The ordering rule for synced platform records (bot/domain/freshness.py), case by case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.freshness import Stamp, Verdict, decide, parse_timestamp

T = "2021-12-31T19:00:00-05:00"  # Shopify's sample time; the same instant as T_UTC
T_UTC = "2022-01-01T00:00:00Z"
T_PLUS_1S = "2021-12-31T19:00:01-05:00"
T_MINUS_1S = "2022-01-01T00:59:59+01:00"  # one second before T, written in another zone


def stamp(
    updated_at: str | None,
    triggered_at: str | None = None,
    event_id: str | None = None,
    fingerprint: str | None = None,
) -> Stamp:
    return Stamp.parse(
        updated_at, triggered_at=triggered_at, event_id=event_id, fingerprint=fingerprint
    )


@pytest.mark.parametrize(
    ("stored", "incoming", "verdict", "reconcile"),
    [
        # 1: never seen.
        (None, stamp(T), Verdict.APPLY, False),
        (None, stamp(None), Verdict.APPLY, False),
        # 2: the same event again, whatever else it says.
        (stamp(T, event_id="e1"), stamp(T_PLUS_1S, event_id="e1"), Verdict.IGNORE_DUPLICATE, False),
        # 3 / 4: updated_at decides, compared as instants across offsets.
        (stamp(T), stamp(T_PLUS_1S), Verdict.APPLY, False),
        (stamp(T_PLUS_1S), stamp(T), Verdict.IGNORE_OLDER, False),
        (stamp(T), stamp(T_MINUS_1S), Verdict.IGNORE_OLDER, False),
        (stamp(T_MINUS_1S), stamp(T_UTC), Verdict.APPLY, False),
        # Newer wins even with the same content (the stored time moves on) ...
        (stamp(T, fingerprint="a"), stamp(T_PLUS_1S, fingerprint="a"), Verdict.APPLY, False),
        # ... and a later notification does not rescue an older version.
        (
            stamp(T_PLUS_1S, triggered_at=T),
            stamp(T, triggered_at=T_PLUS_1S),
            Verdict.IGNORE_OLDER,
            False,
        ),
        # 5: same time, same content (offsets differ, the instant does not).
        (stamp(T, fingerprint="a"), stamp(T_UTC, fingerprint="a"), Verdict.IGNORE_DUPLICATE, False),
        # 6 / 7: same time, different content: the notification time breaks the tie.
        (
            stamp(T, triggered_at=T, fingerprint="a"),
            stamp(T, triggered_at=T_PLUS_1S, fingerprint="b"),
            Verdict.APPLY,
            False,
        ),
        (
            stamp(T, triggered_at=T_PLUS_1S, fingerprint="a"),
            stamp(T, triggered_at=T, fingerprint="b"),
            Verdict.IGNORE_OLDER,
            False,
        ),
        # 8: same time, different or unknown content, nothing to order by: apply, reconcile.
        (stamp(T, fingerprint="a"), stamp(T, fingerprint="b"), Verdict.APPLY, True),
        (stamp(T), stamp(T), Verdict.APPLY, True),
        (
            stamp(T, triggered_at=T, fingerprint="a"),
            stamp(T_UTC, triggered_at=T_UTC, fingerprint="b"),
            Verdict.APPLY,
            True,
        ),
        # An unknown updated_at on either side: the notification time orders them ...
        (stamp(None, triggered_at=T), stamp(None, triggered_at=T_PLUS_1S), Verdict.APPLY, False),
        (
            stamp(T, triggered_at=T_PLUS_1S),
            stamp(None, triggered_at=T),
            Verdict.IGNORE_OLDER,
            False,
        ),
        (stamp(None, fingerprint="a"), stamp(T, fingerprint="a"), Verdict.IGNORE_DUPLICATE, False),
        # ... else case 8.
        (stamp(None), stamp(T), Verdict.APPLY, True),
        (stamp(T), stamp(None), Verdict.APPLY, True),
        # Different event ids say nothing by themselves.
        (stamp(T, event_id="e1"), stamp(T, event_id="e2"), Verdict.APPLY, True),
        (stamp(T, event_id="e1"), stamp(T_MINUS_1S, event_id="e2"), Verdict.IGNORE_OLDER, False),
    ],
)
def test_decide(stored: Stamp | None, incoming: Stamp, verdict: Verdict, reconcile: bool) -> None:
    decision = decide(stored, incoming)
    assert (decision.verdict, decision.reconcile) == (verdict, reconcile), decision.reason
    assert decision.apply is (verdict is Verdict.APPLY)
    assert decision.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (T, datetime(2021, 12, 31, 19, tzinfo=timezone(timedelta(hours=-5)))),
        (T_UTC, datetime(2022, 1, 1, tzinfo=UTC)),
        ("2022-01-01T00:00:00z", datetime(2022, 1, 1, tzinfo=UTC)),
        (" 2022-01-01T00:00:00+00:00 ", datetime(2022, 1, 1, tzinfo=UTC)),
        ("2022-01-01T05:30:00.250+05:30", datetime(2022, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        (None, None),
    ],
)
def test_parse_timestamp_reads_offsets(text: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_parse_timestamp_keeps_aware_datetimes() -> None:
    moment = datetime(2022, 1, 1, tzinfo=UTC)
    assert parse_timestamp(moment) is moment


@pytest.mark.parametrize(
    "value",
    ["2022-01-01T00:00:00", "2022-01-01", "yesterday", "", "z", datetime(2022, 1, 1)],
)
def test_parse_timestamp_refuses_what_cannot_be_ordered(value: str | datetime) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_stamp_parse_treats_empty_ids_as_unknown() -> None:
    assert stamp(T, event_id="", fingerprint="") == Stamp(parse_timestamp(T))
