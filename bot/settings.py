"""The one place relaydesk reads its configuration from the environment.

Every process builds a `Settings` once at start-up (`Settings.from_env()`) and passes it (or the
parts it needs) to the objects it constructs. Nothing else in the code base reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url(root: Path) -> str:
    return f"sqlite:///{root / 'var' / 'relaydesk.db'}"


# --- Human handoff (Slack agent queue) -------------------------------------------------------
# Owned by the handoff work (handoff/, docs/handoff.md). Every field is read in
# `HandoffSettings.from_env` and handed to child processes by `HandoffSettings.to_env` (the
# RABBITMQ_* variables behind `rabbitmq_url` are the production profile's, passed as they are).

DEFAULT_SLACK_CHANNELS: dict[str, str] = {
    "general": "#support",
    "billing": "#support-billing",
    "shipping": "#support-shipping",
    "returns": "#support-returns",
    "product": "#support-product",
    "vip": "#support-priority",
}
DEFAULT_SLA_MINUTES: dict[str, int] = {"P1": 5, "P2": 15, "P3": 60}


def _pairs(raw: str) -> dict[str, str]:
    """ "a=1, b=2" → {"a": "1", "b": "2"}: how maps are written in one environment variable."""
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs if key.strip() and value.strip()}


def _words(raw: str) -> frozenset[str]:
    return frozenset(word.strip() for word in raw.replace(" ", ",").split(",") if word.strip())


@dataclass(frozen=True)
class HandoffSettings:
    """Configuration of the human handoff. Field docs double as docs/handoff.md's table."""

    #: SLACK_BOT_TOKEN: the Slack app's bot token (xoxb-...). Empty: no Slack, the CLI queue.
    slack_bot_token: str = ""
    #: SLACK_SIGNING_SECRET: verifies that requests to /slack/events come from Slack.
    slack_signing_secret: str = ""
    #: SLACK_API_URL: Slack Web API base URL (tests point it at a local fake).
    slack_api_url: str = "https://slack.com/api/"
    #: SLACK_CHANNELS: "route=channel,...": where tickets of each route are posted. Routes:
    #: general, billing, shipping, returns, product, and vip (also the SLA alert channel).
    slack_channels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SLACK_CHANNELS))
    #: SLACK_ALLOWED_USER_IDS: Slack user ids allowed to work tickets (comma-separated).
    slack_allowed_user_ids: frozenset[str] = frozenset()
    #: SLACK_TEAM_ID: alternatively, every member of this workspace may work tickets.
    slack_team_id: str = ""
    #: SLACK_ALERT_MENTION: who an SLA re-alert mentions (<!here>, <!subteam^S123>, <@U123>).
    slack_alert_mention: str = "<!here>"
    #: HANDOFF_NOTE_PREFIX: thread replies starting with this stay internal to the agents.
    note_prefix: str = "//"
    #: HANDOFF_SLA_MINUTES: "P1=5,P2=15,P3=60": minutes an unclaimed ticket may wait.
    sla_minutes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    #: HANDOFF_BUSINESS_HOURS: when people answer, e.g. "Mon-Fri 09:00-18:00; Sat 10:00-14:00".
    business_hours: str = "Mon-Fri 09:00-18:00"
    #: HANDOFF_TIMEZONE: IANA time zone of the business hours.
    timezone: str = "America/Los_Angeles"
    #: ESCALATE_LOW_CONFIDENCE: NLU confidence below which a turn counts as not understood.
    low_confidence: float = 0.4
    #: ESCALATE_LOW_CONFIDENCE_TURNS: consecutive not-understood turns that hand off.
    low_confidence_turns: int = 2
    #: ESCALATE_NEGATIVE_SENTIMENT: VADER compound score at or below which a message hands off.
    #: (The high-value order threshold and the return windows are store policy, in
    #: knowledge_base/policy.yml, read from there.)
    negative_sentiment: float = -0.6
    #: RASA_EVENTS_DB: SQLite file Rasa's SQL event broker writes and the bridge reads.
    events_db_path: Path = REPO_ROOT / "var" / "rasa_events.db"
    #: RABBITMQ_HANDOFF_QUEUE: production profile: the queue the bridge consumes events from.
    rabbitmq_queue: str = "relaydesk_handoff"
    #: RABBITMQ_HOST/PORT/USER/PASSWORD (production profile, shared with Rasa's pika broker).
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    #: RELAYDESK_AGENT: the name `relaydesk agent ...` signs replies with (default: $USER).
    cli_agent_name: str = ""

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str], root: Path) -> HandoffSettings:
        defaults = cls()
        sla = {key: int(value) for key, value in _pairs(env.get("HANDOFF_SLA_MINUTES", "")).items()}
        return cls(
            slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            slack_api_url=env.get("SLACK_API_URL") or defaults.slack_api_url,
            slack_channels={**DEFAULT_SLACK_CHANNELS, **_pairs(env.get("SLACK_CHANNELS", ""))},
            slack_allowed_user_ids=_words(env.get("SLACK_ALLOWED_USER_IDS", "")),
            slack_team_id=env.get("SLACK_TEAM_ID", ""),
            slack_alert_mention=env.get("SLACK_ALERT_MENTION") or defaults.slack_alert_mention,
            note_prefix=env.get("HANDOFF_NOTE_PREFIX") or defaults.note_prefix,
            sla_minutes={**DEFAULT_SLA_MINUTES, **sla},
            business_hours=env.get("HANDOFF_BUSINESS_HOURS") or defaults.business_hours,
            timezone=env.get("HANDOFF_TIMEZONE") or defaults.timezone,
            low_confidence=float(env.get("ESCALATE_LOW_CONFIDENCE", defaults.low_confidence)),
            low_confidence_turns=int(
                env.get("ESCALATE_LOW_CONFIDENCE_TURNS", defaults.low_confidence_turns)
            ),
            negative_sentiment=float(
                env.get("ESCALATE_NEGATIVE_SENTIMENT", defaults.negative_sentiment)
            ),
            events_db_path=Path(env.get("RASA_EVENTS_DB") or root / "var" / "rasa_events.db"),
            rabbitmq_queue=env.get("RABBITMQ_HANDOFF_QUEUE") or defaults.rabbitmq_queue,
            rabbitmq_url="amqp://{}:{}@{}:{}/".format(
                quote(env.get("RABBITMQ_USER") or "guest", safe=""),
                quote(env.get("RABBITMQ_PASSWORD") or "guest", safe=""),
                env.get("RABBITMQ_HOST") or "127.0.0.1",
                env.get("RABBITMQ_PORT") or "5672",
            ),
            cli_agent_name=env.get("RELAYDESK_AGENT") or env.get("USER", ""),
        )

    def to_env(self) -> dict[str, str]:
        """The variables `from_env` reads, for child processes (see bot/processes/stack.py)."""
        return {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_API_URL": self.slack_api_url,
            "SLACK_CHANNELS": ",".join(f"{k}={v}" for k, v in self.slack_channels.items()),
            "SLACK_ALLOWED_USER_IDS": ",".join(sorted(self.slack_allowed_user_ids)),
            "SLACK_TEAM_ID": self.slack_team_id,
            "SLACK_ALERT_MENTION": self.slack_alert_mention,
            "HANDOFF_NOTE_PREFIX": self.note_prefix,
            "HANDOFF_SLA_MINUTES": ",".join(f"{k}={v}" for k, v in self.sla_minutes.items()),
            "HANDOFF_BUSINESS_HOURS": self.business_hours,
            "HANDOFF_TIMEZONE": self.timezone,
            "ESCALATE_LOW_CONFIDENCE": str(self.low_confidence),
            "ESCALATE_LOW_CONFIDENCE_TURNS": str(self.low_confidence_turns),
            "ESCALATE_NEGATIVE_SENTIMENT": str(self.negative_sentiment),
            "RASA_EVENTS_DB": str(self.events_db_path),
            "RABBITMQ_HANDOFF_QUEUE": self.rabbitmq_queue,
            "RELAYDESK_AGENT": self.cli_agent_name,
        }


# --- end of the handoff section ----------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Field docs double as the README's configuration table."""

    repo_root: Path = REPO_ROOT
    #: SQLAlchemy URL of relaydesk's store (orders, customers, tickets...).
    database_url: str = field(default_factory=lambda: _default_database_url(REPO_ROOT))
    #: SQLite file of Rasa's SQL tracker store (default profile; conversations survive restarts).
    tracker_db_path: Path = REPO_ROOT / "var" / "rasa_tracker.db"
    #: "default" (embedded, SQLite) or "production" (endpoints.production.yml).
    profile: str = "default"
    #: Interface the Rasa server binds to (localhost keeps its HTTP API private).
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    #: Shared secret for Rasa's HTTP API (`?token=`); generated per run when empty.
    rasa_token: str = ""
    action_port: int = 5055
    bridge_port: int = 5060
    #: Public base URL shoppers and providers reach Rasa under (for links and signatures).
    public_url: str = "http://localhost:5005"
    #: Store name used in replies.
    store_name: str = "Northwind Outfitters"
    #: JSON store export loaded on first start when the store is empty.
    demo_store_path: Path = REPO_ROOT / "bot" / "store" / "demo_store.json"
    #: Knowledge-base articles (Markdown) and the store's policy file.
    knowledge_base_dir: Path = REPO_ROOT / "knowledge_base"
    #: Where trained models are written and read.
    models_dir: Path = REPO_ROOT / "models"
    #: Verification attempts before the bot stops asking and offers a person.
    max_verification_attempts: int = 3

    # --- messaging channels (channels/, docs/channels.md) ---------------------------------
    # A channel whose credentials are empty stays off: its webhook answers 503. The API base
    # URLs exist so tests and the benchmark can point the real clients at fake providers.
    #: Twilio account SID (AC...) owning the WhatsApp sender.
    twilio_account_sid: str = ""
    #: Twilio auth token: signs webhooks (X-Twilio-Signature) and authenticates API calls.
    twilio_auth_token: str = ""
    #: The WhatsApp sender, "whatsapp:+14155238886" (the "whatsapp:" prefix is optional).
    twilio_whatsapp_from: str = ""
    #: Content SID (HX...) of an approved template, sent when WhatsApp's 24-hour window is closed.
    twilio_template_content_sid: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    #: Facebook page access token (Send API).
    messenger_page_access_token: str = ""
    #: Facebook app secret: signs webhooks (X-Hub-Signature-256).
    messenger_app_secret: str = ""
    #: Any string you choose; Facebook echoes it in the webhook verification handshake.
    messenger_verify_token: str = ""
    #: Graph API base URL, version included.
    graph_api_base_url: str = "https://graph.facebook.com/v21.0"
    #: Bot token from @BotFather.
    telegram_bot_token: str = ""
    #: Secret you pass to setWebhook; Telegram sends it back in X-Telegram-Bot-Api-Secret-Token.
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = "https://api.telegram.org"
    #: Tries per outbound message (first included) on 5xx, 429 and timeouts.
    channel_send_attempts: int = 4
    #: Seconds before the first retry; doubles per retry (with jitter), at most 8 s.
    channel_retry_base_delay: float = 0.5
    #: Channel messages handed to Rasa at once; more wait, so webhooks stay fast under load.
    channel_max_turns_in_flight: int = 2
    #: Secret of the JSON endpoint (channels/jsonapi/, `Authorization: Bearer ...`); the
    #: endpoint is off while empty.
    json_api_secret: str = ""
    #: https origins allowed to embed the web chat page in a frame (comma-separated);
    #: empty: only the page's own origin (docs/webchat.md).
    webchat_embed_origins: str = ""
    #: Human handoff (Slack agent queue, CLI); see the handoff section above.
    handoff: HandoffSettings = field(default_factory=HandoffSettings)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def action_server_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def policy_file(self) -> Path:
        return self.knowledge_base_dir / "policy.yml"

    @property
    def endpoints_file(self) -> Path:
        name = "endpoints.production.yml" if self.profile == "production" else "endpoints.yml"
        return self.repo_root / name

    @property
    def webchat_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/webhooks/webchat/"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        root = Path(env.get("RELAYDESK_ROOT", str(defaults.repo_root)))
        rasa_port = int(env.get("RASA_PORT", defaults.rasa_port))
        return cls(
            repo_root=root,
            database_url=env.get("DATABASE_URL") or _default_database_url(root),
            tracker_db_path=Path(env.get("RASA_TRACKER_DB") or root / "var" / "rasa_tracker.db"),
            profile=env.get("RELAYDESK_PROFILE", defaults.profile),
            rasa_host=env.get("RASA_HOST", defaults.rasa_host),
            rasa_port=rasa_port,
            rasa_token=env.get("RASA_TOKEN", ""),
            action_port=int(env.get("ACTION_PORT", defaults.action_port)),
            bridge_port=int(env.get("BRIDGE_PORT", defaults.bridge_port)),
            public_url=env.get("PUBLIC_URL") or f"http://localhost:{rasa_port}",
            store_name=env.get("STORE_NAME", defaults.store_name),
            demo_store_path=Path(env.get("DEMO_STORE_PATH", str(defaults.demo_store_path))),
            models_dir=Path(env.get("MODELS_DIR", str(root / "models"))),
            knowledge_base_dir=Path(env.get("KNOWLEDGE_BASE_DIR", str(root / "knowledge_base"))),
            max_verification_attempts=int(
                env.get("MAX_VERIFICATION_ATTEMPTS", defaults.max_verification_attempts)
            ),
            # --- messaging channels
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM", ""),
            twilio_template_content_sid=env.get("TWILIO_TEMPLATE_CONTENT_SID", ""),
            twilio_api_base_url=env.get("TWILIO_API_BASE_URL") or defaults.twilio_api_base_url,
            messenger_page_access_token=env.get("MESSENGER_PAGE_ACCESS_TOKEN", ""),
            messenger_app_secret=env.get("MESSENGER_APP_SECRET", ""),
            messenger_verify_token=env.get("MESSENGER_VERIFY_TOKEN", ""),
            graph_api_base_url=env.get("GRAPH_API_BASE_URL") or defaults.graph_api_base_url,
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", ""),
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", ""),
            telegram_api_base_url=(
                env.get("TELEGRAM_API_BASE_URL") or defaults.telegram_api_base_url
            ),
            channel_send_attempts=int(
                env.get("CHANNEL_SEND_ATTEMPTS") or defaults.channel_send_attempts
            ),
            channel_retry_base_delay=float(
                env.get("CHANNEL_RETRY_BASE_DELAY") or defaults.channel_retry_base_delay
            ),
            channel_max_turns_in_flight=int(
                env.get("CHANNEL_MAX_TURNS_IN_FLIGHT") or defaults.channel_max_turns_in_flight
            ),
            json_api_secret=env.get("JSON_API_SECRET", ""),
            webchat_embed_origins=env.get("WEBCHAT_EMBED_ORIGINS", ""),
            handoff=HandoffSettings.from_env(env, root),
        )
