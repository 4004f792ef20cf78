"""Webhook parsing and signature checks of the three providers, against their own samples and
test vectors in ../shared/fixtures. Pure: no HTTP."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.core.messages import Attachment, PayloadError
from channels.messenger import parsing as messenger
from channels.telegram import parsing as telegram
from channels.whatsapp import parsing as whatsapp

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def load(fixtures: Path, name: str) -> Any:
    return json.loads((fixtures / name).read_text(encoding="utf-8"))


# ------------------------------------------------------------------ Twilio / WhatsApp


def test_twilio_signature_vectors(fixtures_dir: Path) -> None:
    vectors = load(fixtures_dir, "twilio/signature_vectors.json")
    token, url = vectors["auth_token"], vectors["url"]
    params = {key: [value] for key, value in vectors["params"].items()}
    variants = vectors["variants"]

    assert whatsapp.signature_valid(token, url, params, vectors["expected_signature"])
    # Twilio may sign with or without the default port; the validator accepts both.
    https_443 = url.replace("mycompany.com", "mycompany.com:443")
    assert whatsapp.signature_valid(token, https_443, params, vectors["expected_signature"])
    assert whatsapp.signature_valid(token, url, params, variants["https_port_443_sig"])
    http_url = url.replace("https://", "http://")
    assert whatsapp.signature_valid(token, http_url, params, variants["http_port_80_sig"])
    port_1234 = variants["https_with_port_1234_validates_with_same_sig"]
    http_1234 = port_1234.replace("https://", "http://")
    assert whatsapp.signature_valid(token, http_1234, params, variants["http_port_1234_sig"])
    repeated: dict[str, list[str]] = {}
    for key, value in variants["duplicate_params_multidict"]["params"]:
        repeated.setdefault(key, []).append(value)
    assert whatsapp.signature_valid(
        token, url, repeated, variants["duplicate_params_multidict"]["expected"]
    )


@pytest.mark.parametrize(
    "change",
    [
        {"token": "54321"},
        {"url": "https://mycompany.com/myapp.php?foo=1&bar=3"},
        {"param": ("Digits", "9999")},
        {"signature": ""},
    ],
)
def test_twilio_signature_refuses_any_change(fixtures_dir: Path, change: dict[str, Any]) -> None:
    vectors = load(fixtures_dir, "twilio/signature_vectors.json")
    params = {key: [value] for key, value in vectors["params"].items()}
    if "param" in change:
        params[change["param"][0]] = [change["param"][1]]
    assert not whatsapp.signature_valid(
        change.get("token", vectors["auth_token"]),
        change.get("url", vectors["url"]),
        params,
        change.get("signature", vectors["expected_signature"]),
    )


@pytest.mark.parametrize(
    ("name", "sender", "text", "profile"),
    [
        ("captured_whatsapp_inbound_sandbox_1", "+919900000000", "hey", "Ranjit Sankar"),
        ("captured_whatsapp_inbound_sandbox_2", "+558282136275", "Olá", "Jhonata"),
    ],
)
def test_twilio_inbound_samples(
    fixtures_dir: Path, name: str, sender: str, text: str, profile: str
) -> None:
    raw = (fixtures_dir / f"twilio/{name}.txt").read_bytes()
    expected = load(fixtures_dir, f"twilio/{name}.parsed.json")

    parsed = whatsapp.parse_webhook(whatsapp.parse_form(raw), NOW)

    [message] = parsed.messages
    assert parsed.statuses == []
    assert message.channel == "whatsapp"
    assert message.sender_id == sender
    assert message.provider_message_id == expected["MessageSid"]
    assert (message.text, message.profile_name, message.attachments) == (text, profile, ())
    assert message.received_at == NOW


def test_twilio_status_callback_sample(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "twilio/captured_whatsapp_status_callback_1.txt").read_bytes()

    parsed = whatsapp.parse_webhook(whatsapp.parse_form(raw), NOW)

    assert parsed.messages == []
    [report] = parsed.statuses
    assert (report.provider_message_id, report.status, report.error_code) == (
        "SMc4c96554c26604013c6b7f1b4b6DDDDD", "sent", None,
    )  # fmt: skip


def _twilio_form(fixtures_dir: Path, **changes: str | None) -> whatsapp.FormParams:
    raw = (fixtures_dir / "twilio/captured_whatsapp_inbound_sandbox_1.txt").read_bytes()
    form = whatsapp.parse_form(raw)
    for key, value in changes.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = [value]
    return form


def test_twilio_media_location_and_button_payload(fixtures_dir: Path) -> None:
    form = _twilio_form(
        fixtures_dir, Body="", NumMedia="2",
        MediaUrl0="https://api.twilio.com/m/0", MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/m/1", MediaContentType1="application/pdf",
        Latitude="37.77", Longitude="-122.41", ButtonPayload="/track_order",
    )  # fmt: skip

    [message] = whatsapp.parse_webhook(form, NOW).messages

    assert message.attachments == (
        Attachment("image", "https://api.twilio.com/m/0", "image/jpeg"),
        Attachment("file", "https://api.twilio.com/m/1", "application/pdf"),
        Attachment("location", "geo:37.77,-122.41"),
    )
    assert message.text is None and message.payload == "/track_order"
    assert message.rasa_text() == "/track_order"


def test_twilio_blank_fields_are_kept_for_the_signature() -> None:
    form = whatsapp.parse_form(b"Body=&MessageSid=SM1&From=whatsapp%3A%2B14155550123")
    assert form["Body"] == [""]


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"MessageSid": None, "SmsMessageSid": None}, "MessageSid"),
        ({"From": "+919900000000"}, "From"),
        ({"From": "whatsapp:919900000000"}, "From"),
        ({"From": None}, "From"),
        ({"NumMedia": "two"}, "NumMedia"),
        ({"NumMedia": "11"}, "NumMedia"),
        ({"NumMedia": "1"}, "MediaUrl0"),
    ],
)
def test_twilio_malformed(
    fixtures_dir: Path, changes: dict[str, str | None], complaint: str
) -> None:
    with pytest.raises(PayloadError, match=complaint):
        whatsapp.parse_webhook(_twilio_form(fixtures_dir, **changes), NOW)


def test_twilio_body_must_be_utf8() -> None:
    with pytest.raises(PayloadError):
        whatsapp.parse_form(b"Body=\xff\xfe")


# ------------------------------------------------------------------ Meta / Messenger


def test_hub_signature_vector(fixtures_dir: Path) -> None:
    vector = load(fixtures_dir, "facebook/hub_signature_vector.json")
    body = vector["raw_body"].encode()

    assert messenger.signature_valid(vector["secret"], body, vector["expected"])
    upper_hex = "sha256=" + vector["expected"].removeprefix("sha256=").upper()
    assert messenger.signature_valid(vector["secret"], body, upper_hex)
    assert not messenger.signature_valid(vector["secret"], body + b" ", vector["expected"])
    assert not messenger.signature_valid("another secret", body, vector["expected"])
    assert not messenger.signature_valid(vector["secret"], body, "")
    # The legacy SHA-1 header format is not accepted in place of SHA-256.
    assert not messenger.signature_valid(
        vector["secret"], body, vector["expected"].replace("sha256=", "sha1=")
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "42"}, "42"),
        ({"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"}, None),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "42"}, None),
        ({"hub.challenge": "42"}, None),
    ],
)
def test_messenger_handshake(args: dict[str, str], expected: str | None) -> None:
    assert messenger.handshake_challenge(args, "tok") == expected
    assert messenger.handshake_challenge(args, "") is None  # unset token never matches


@pytest.mark.parametrize(
    ("name", "text", "payload", "ignored"),
    [
        ("fbmessenger_fixture_message.json", "hello, world!", None, 0),
        ("meta_docs_style_quick_reply_wrapped.json", "hello, world!",
         "DEVELOPER_DEFINED_PAYLOAD", 0),
        ("fbmessenger_fixture_postback.json", None, "USER_DEFINED_PAYLOAD", 0),
        ("fbmessenger_fixture_delivery.json", None, None, 1),
        ("fbmessenger_fixture_read.json", None, None, 1),
        ("fbmessenger_fixture_optin.json", None, None, 1),
        ("fbmessenger_fixture_account_linking.json", None, None, 1),
    ],
)  # fmt: skip
def test_messenger_samples(
    fixtures_dir: Path, name: str, text: str | None, payload: str | None, ignored: int
) -> None:
    body = (fixtures_dir / "facebook" / name).read_bytes()
    event = load(fixtures_dir, f"facebook/{name}")["entry"][0]["messaging"][0]

    parsed = messenger.parse_webhook(body, NOW)

    assert parsed.ignored == ignored
    if ignored:
        assert parsed.messages == []
        return
    [message] = parsed.messages
    assert message.sender_id == str(event["sender"]["id"])  # 1234 (a number) becomes "1234"
    assert (message.text, message.payload) == (text, payload)
    if "message" in event:
        assert message.provider_message_id == event["message"]["mid"]
    else:  # this older postback has no mid: a stable id from its content
        again = messenger.parse_webhook(body, NOW).messages[0]
        assert message.provider_message_id.startswith("event-")
        assert again.provider_message_id == message.provider_message_id


def test_messenger_echo_attachments_and_batches(fixtures_dir: Path) -> None:
    data = load(fixtures_dir, "facebook/fbmessenger_fixture_message.json")
    event = data["entry"][0]["messaging"][0]
    echo = copy.deepcopy(event)
    echo["message"]["is_echo"] = True
    photo = copy.deepcopy(event)
    photo["message"] = {"mid": "mid.photo", "attachments": [
        {"type": "image", "payload": {"url": "https://scontent.example/p.jpg"}},
        {"type": "location", "payload": {"coordinates": {"lat": 37.7, "long": -122.4}}},
    ]}  # fmt: skip
    data["entry"][0]["messaging"] = [event, echo, photo]
    data["entry"].append(copy.deepcopy(data["entry"][0]))
    data["entry"][1]["messaging"] = [dict(event, message={"mid": "mid.2", "text": "second"})]

    parsed = messenger.parse_webhook(json.dumps(data).encode(), NOW)

    assert [m.provider_message_id for m in parsed.messages] == [
        "mid.1457764197618:41d102a3e1ae206a38", "mid.photo", "mid.2",
    ]  # fmt: skip
    assert parsed.ignored == 1
    assert parsed.messages[1].attachments == (
        Attachment("image", "https://scontent.example/p.jpg"),
        Attachment("location", "geo:37.7,-122.4"),
    )


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "not JSON"),
        (b'{"object": "instagram", "entry": []}', "Page webhook"),
        (b'{"object": "page"}', "entry"),
        (b'{"object": "page", "entry": [{"messaging": {}}]}', "messaging"),
        (b'{"object": "page", "entry": [{"messaging": [{"message": {"mid": "m"}}]}]}', "sender"),
        (b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, '
         b'"message": {"text": "no mid"}}]}]}', "mid"),
        (b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, '
         b'"message": {"mid": "m", "attachments": {}}}]}]}', "attachments"),
    ],
)  # fmt: skip
def test_messenger_malformed(body: bytes, complaint: str) -> None:
    with pytest.raises(PayloadError, match=complaint):
        messenger.parse_webhook(body, NOW)


# ------------------------------------------------------------------ Telegram


def test_telegram_secret() -> None:
    assert telegram.secret_valid("s3cret", "s3cret")
    assert not telegram.secret_valid("s3cret", "s3cre")
    assert not telegram.secret_valid("s3cret", "")
    assert not telegram.secret_valid("", "")  # no secret configured: nothing is valid


@pytest.mark.parametrize(
    ("name", "chat", "text", "corrects"),
    [
        ("tgbot_update_message.json", "1", "message-text", None),
        ("tgbot_update_edited_message.json", "1111", "Edited text", "1365"),
        ("rasa_test_edited_message.json", "1760450482", "Hello!", "591"),
    ],
)
def test_telegram_messages_and_edits(
    fixtures_dir: Path, name: str, chat: str, text: str, corrects: str | None
) -> None:
    data = load(fixtures_dir, f"telegram/{name}")

    [message] = telegram.parse_update(json.dumps(data).encode(), NOW).messages

    assert message.provider_message_id == str(data["update_id"])
    assert (message.sender_id, message.text, message.corrects) == (chat, text, corrects)
    inner = data.get("message") or data["edited_message"]
    assert message.message_ref == str(inner["message_id"])


def test_telegram_callback_query(fixtures_dir: Path) -> None:
    query = load(fixtures_dir, "telegram/tgbot_callback_query_object_full.json")
    update = {"update_id": 99, "callback_query": query}

    [message] = telegram.parse_update(json.dumps(update).encode(), NOW).messages

    # The chat the button was in (a supergroup here), not the user who tapped it.
    assert (message.sender_id, message.payload, message.callback_id) == ("3", '{"k": "v"}', "id")
    assert message.rasa_text() == '{"k": "v"}'


def test_telegram_photo_keeps_the_largest_size_and_no_url(fixtures_dir: Path) -> None:
    data = load(fixtures_dir, "telegram/tgbot_update_message.json")
    del data["message"]["text"]
    data["message"]["caption"] = "broken zip"
    data["message"]["photo"] = [
        {"file_id": "small", "file_unique_id": "a", "width": 90, "height": 90},
        {"file_id": "large", "file_unique_id": "b", "width": 900, "height": 900},
    ]

    [message] = telegram.parse_update(json.dumps(data).encode(), NOW).messages

    assert message.attachments == (Attachment("image", provider_file_id="large"),)
    assert message.text == "broken zip"


def test_telegram_other_updates_are_ignored() -> None:
    channel_post = {
        "update_id": 5,
        "channel_post": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": -100, "type": "channel"},
            "text": "news",
        },
    }
    parsed = telegram.parse_update(json.dumps(channel_post).encode(), NOW)
    assert parsed.messages == [] and parsed.ignored == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"message": {}}',
        b'{"update_id": "1"}',
        b'{"update_id": 1, "message": {"text": "no chat"}}',
    ],
)
def test_telegram_malformed(body: bytes) -> None:
    with pytest.raises(PayloadError):
        telegram.parse_update(body, NOW)


def test_telegram_minimal_callback_query_sample_is_refused(fixtures_dir: Path) -> None:
    # tg-rs's minimal snapshot lacks chat_instance, which the Bot API always sends.
    body = (fixtures_dir / "telegram/tgbot_update_callback_query_minimal.json").read_bytes()
    with pytest.raises(PayloadError, match="chat_instance"):
        telegram.parse_update(body, NOW)
