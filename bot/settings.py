"""The one place relaydesk reads its configuration from the environment.

Every variable is declared once, below: a field with its environment variable
(`Field(..., env=NAME)`), its default and a `#:` doc comment. Related variables form a
section (`settings.handoff`, `settings.whatsapp`, ...). To add a variable, add its field here
and document it in .env.example and the README (tests/unit/test_settings.py checks both).

Each process reads the environment once, at start-up (`Settings.from_env()`), and passes the
settings, or the section a part needs, down. Rasa builds the channel connectors itself
(`from_credentials`), so the Rasa server's entry point (bot/processes/rasa_server.py) hands them
its settings through `use_process_settings`; they pick them up with `process_settings()`.

Rules every variable follows: an empty variable counts as unset (the default applies); a map
is written "key=value,key=value" and overrides only the keys it names; a set is written
"a,b" (commas or spaces).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

from pydantic import BaseSettings, Field, root_validator, validator
from pydantic.fields import SHAPE_DICT, SHAPE_FROZENSET, SHAPE_LIST, SHAPE_SET, ModelField

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url(root: Path) -> str:
    return f"sqlite:///{root / 'var' / 'relaydesk.db'}"


def _pairs(raw: str) -> dict[str, str]:
    """ "a=1, b=2" → {"a": "1", "b": "2"}: how maps are written in one environment variable."""
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs if key.strip() and value.strip()}


def _words(raw: str) -> list[str]:
    return [word.strip() for word in raw.replace(" ", ",").split(",") if word.strip()]


def _as_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{key}={item}" for key, item in value.items())
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(str(item) for item in value))
    return str(value)


def _is_section(field: ModelField) -> bool:
    return isinstance(field.type_, type) and issubclass(field.type_, Section)


class Section(BaseSettings):
    """A group of settings. Values come only from what the constructor is given: `from_env`
    reads the mapping it is passed (tests pass dicts), and a bare `Settings()` is the
    defaults, never the process's environment (pydantic's own environment source reads
    `os.environ` only, and would make `Settings.from_env({})` depend on the caller's shell)."""

    class Config:
        case_sensitive = True
        allow_mutation = False

        @classmethod
        def customise_sources(
            cls, init_settings: Any, env_settings: Any, file_secret_settings: Any
        ) -> tuple[Any, ...]:
            return (init_settings,)

    @validator("*", pre=True)
    def _parse_text(cls, value: Any, field: ModelField) -> Any:
        """Maps and sets as they are written in one environment variable."""
        if not isinstance(value, str):
            return value
        if field.shape == SHAPE_DICT:
            return {**(field.default or {}), **_pairs(value)}
        if field.shape in (SHAPE_FROZENSET, SHAPE_SET, SHAPE_LIST):
            return _words(value)
        return value

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name → the environment variable it is read from (the first, if several)."""
        names: dict[str, str] = {}
        for field in cls.__fields__.values():
            if not _is_section(field):
                names[field.name] = next(iter(field.field_info.extra["env_names"]))
        return names

    @classmethod
    def values_from(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        """The raw values `environ` sets for this section (sections nested as dicts)."""
        values: dict[str, Any] = {}
        for field in cls.__fields__.values():
            if _is_section(field):
                values[field.name] = field.type_.values_from(environ)
                continue
            for name in field.field_info.extra["env_names"]:
                if environ.get(name):
                    values[field.name] = environ[name]
                    break
        return values

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, checked and converted like values from the environment (the
        settings are immutable; this is `dataclasses.replace` for them)."""
        return type(self)(**{**{name: getattr(self, name) for name in self.__fields__}, **changes})

    def to_env(self) -> dict[str, str]:
        """Every variable of this section as `from_env` reads it back. Only for settings built
        in code (tests, benchmarks) that child processes must see: `relaydesk run`'s
        processes inherit the environment the settings came from (bot/processes/stack.py)."""
        env: dict[str, str] = {}
        names = self.env_names()
        for name in self.__fields__:
            value = getattr(self, name)
            if isinstance(value, Section):
                env.update(value.to_env())
            else:
                env[names[name]] = _as_text(value)
        return env


# --- Human handoff (Slack agent queue) -------------------------------------------------------
# Owned by the handoff work (handoff/, docs/handoff.md).

DEFAULT_SLACK_CHANNELS: dict[str, str] = {
    "general": "#support",
    "billing": "#support-billing",
    "shipping": "#support-shipping",
    "returns": "#support-returns",
    "product": "#support-product",
    "vip": "#support-priority",
}
DEFAULT_SLA_MINUTES: dict[str, int] = {"P1": 5, "P2": 15, "P3": 60}


class HandoffSettings(Section):
    """Configuration of the human handoff. Field docs double as docs/handoff.md's table."""

    #: SLACK_BOT_TOKEN: the Slack app's bot token (xoxb-...). Empty: no Slack, the CLI queue.
    slack_bot_token: str = Field("", env="SLACK_BOT_TOKEN")
    #: SLACK_SIGNING_SECRET: verifies that requests to /slack/events come from Slack.
    slack_signing_secret: str = Field("", env="SLACK_SIGNING_SECRET")
    #: SLACK_API_URL: Slack Web API base URL (tests point it at a local fake).
    slack_api_url: str = Field("https://slack.com/api/", env="SLACK_API_URL")
    #: SLACK_CHANNELS: "route=channel,...": where tickets of each route are posted. Routes:
    #: general, billing, shipping, returns, product, and vip (also the SLA alert channel).
    slack_channels: dict[str, str] = Field(DEFAULT_SLACK_CHANNELS, env="SLACK_CHANNELS")
    #: SLACK_ALLOWED_USER_IDS: Slack user ids allowed to work tickets (comma-separated).
    slack_allowed_user_ids: frozenset[str] = Field(frozenset(), env="SLACK_ALLOWED_USER_IDS")
    #: SLACK_TEAM_ID: alternatively, every member of this workspace may work tickets.
    slack_team_id: str = Field("", env="SLACK_TEAM_ID")
    #: SLACK_ALERT_MENTION: who an SLA re-alert mentions (<!here>, <!subteam^S123>, <@U123>).
    slack_alert_mention: str = Field("<!here>", env="SLACK_ALERT_MENTION")
    #: HANDOFF_NOTE_PREFIX: thread replies starting with this stay internal to the agents.
    note_prefix: str = Field("//", env="HANDOFF_NOTE_PREFIX")
    #: HANDOFF_SLA_MINUTES: "P1=5,P2=15,P3=60": minutes an unclaimed ticket may wait.
    sla_minutes: dict[str, int] = Field(DEFAULT_SLA_MINUTES, env="HANDOFF_SLA_MINUTES")
    #: HANDOFF_BUSINESS_HOURS: when people answer, e.g. "Mon-Fri 09:00-18:00; Sat 10:00-14:00".
    business_hours: str = Field("Mon-Fri 09:00-18:00", env="HANDOFF_BUSINESS_HOURS")
    #: HANDOFF_TIMEZONE: IANA time zone of the business hours.
    timezone: str = Field("America/Los_Angeles", env="HANDOFF_TIMEZONE")
    #: ESCALATE_LOW_CONFIDENCE: NLU confidence below which a turn counts as not understood.
    low_confidence: float = Field(0.4, env="ESCALATE_LOW_CONFIDENCE")
    #: ESCALATE_LOW_CONFIDENCE_TURNS: consecutive not-understood turns that hand off.
    low_confidence_turns: int = Field(2, env="ESCALATE_LOW_CONFIDENCE_TURNS")
    #: ESCALATE_NEGATIVE_SENTIMENT: VADER compound score at or below which a message hands off.
    #: (The high-value order threshold and the return windows are store policy, in
    #: knowledge_base/policy.yml, read from there.)
    negative_sentiment: float = Field(-0.6, env="ESCALATE_NEGATIVE_SENTIMENT")
    #: RASA_EVENTS_DB: SQLite file Rasa's SQL event broker writes and the bridge reads
    #: (default: var/rasa_events.db under RELAYDESK_ROOT).
    events_db_path: Path = Field(REPO_ROOT / "var" / "rasa_events.db", env="RASA_EVENTS_DB")
    #: RABBITMQ_HANDOFF_QUEUE: production profile: the queue the bridge consumes events from.
    rabbitmq_queue: str = Field("relaydesk_handoff", env="RABBITMQ_HANDOFF_QUEUE")
    #: RABBITMQ_HOST/PORT/USER/PASSWORD: production profile, shared with Rasa's pika broker
    #: (endpoints.production.yml); the bridge connects to `rabbitmq_url`.
    rabbitmq_host: str = Field("127.0.0.1", env="RABBITMQ_HOST")
    rabbitmq_port: str = Field("5672", env="RABBITMQ_PORT")
    rabbitmq_user: str = Field("guest", env="RABBITMQ_USER")
    rabbitmq_password: str = Field("guest", env="RABBITMQ_PASSWORD")
    #: RELAYDESK_AGENT: the name `relaydesk agent ...` signs replies with (default: $USER).
    cli_agent_name: str = Field("", env=["RELAYDESK_AGENT", "USER"])

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def rabbitmq_url(self) -> str:
        return "amqp://{}:{}@{}:{}/".format(
            quote(self.rabbitmq_user, safe=""),
            quote(self.rabbitmq_password, safe=""),
            self.rabbitmq_host,
            self.rabbitmq_port,
        )


# --- end of the handoff section ----------------------------------------------------------------


# --- messaging channels (channels/, docs/channels.md) ------------------------------------------
# A channel whose credentials are empty stays off: its webhook answers 503. The API base URLs
# exist so tests and the benchmark can point the real clients at fake providers. Each section
# is also its connector's configuration (channels/core/connector.py).


class WhatsAppSettings(Section):
    """WhatsApp through Twilio (channels/whatsapp/)."""

    #: Twilio account SID (AC...) owning the WhatsApp sender.
    account_sid: str = Field("", env="TWILIO_ACCOUNT_SID")
    #: Twilio auth token: signs webhooks (X-Twilio-Signature) and authenticates API calls.
    auth_token: str = Field("", env="TWILIO_AUTH_TOKEN")
    #: The WhatsApp sender, "whatsapp:+14155238886" (the "whatsapp:" prefix is optional).
    whatsapp_from: str = Field("", env="TWILIO_WHATSAPP_FROM")
    #: Content SID (HX...) of an approved template, sent when WhatsApp's 24-hour window is closed.
    template_content_sid: str = Field("", env="TWILIO_TEMPLATE_CONTENT_SID")
    #: Twilio's API base URL.
    api_base_url: str = Field("https://api.twilio.com", env="TWILIO_API_BASE_URL")


class MessengerSettings(Section):
    """Facebook Messenger (channels/messenger/)."""

    #: Facebook page access token (Send API).
    page_access_token: str = Field("", env="MESSENGER_PAGE_ACCESS_TOKEN")
    #: Facebook app secret: signs webhooks (X-Hub-Signature-256).
    app_secret: str = Field("", env="MESSENGER_APP_SECRET")
    #: Any string you choose; Facebook echoes it in the webhook verification handshake.
    verify_token: str = Field("", env="MESSENGER_VERIFY_TOKEN")
    #: Graph API base URL, version included.
    api_base_url: str = Field("https://graph.facebook.com/v21.0", env="GRAPH_API_BASE_URL")


class TelegramSettings(Section):
    """A Telegram bot over webhooks (channels/telegram/)."""

    #: Bot token from @BotFather.
    bot_token: str = Field("", env="TELEGRAM_BOT_TOKEN")
    #: Secret you pass to setWebhook; Telegram sends it back in X-Telegram-Bot-Api-Secret-Token.
    webhook_secret: str = Field("", env="TELEGRAM_WEBHOOK_SECRET")
    #: Telegram's Bot API base URL.
    api_base_url: str = Field("https://api.telegram.org", env="TELEGRAM_API_BASE_URL")


class SendingSettings(Section):
    """How every messaging connector sends (channels/core/sending.py) and takes turns."""

    #: Tries per outbound message (first included) on 5xx, 429 and timeouts.
    attempts: int = Field(4, env="CHANNEL_SEND_ATTEMPTS")
    #: Seconds before the first retry; doubles per retry (with jitter), at most 8 s.
    retry_base_delay: float = Field(0.5, env="CHANNEL_RETRY_BASE_DELAY")
    #: Channel messages handed to Rasa at once; more wait, so webhooks stay fast under load.
    max_turns_in_flight: int = Field(2, env="CHANNEL_MAX_TURNS_IN_FLIGHT")


class WebChatSettings(Section):
    """The web chat page (channels/webchat/, docs/webchat.md)."""

    #: https origins allowed to embed the web chat page in a frame (comma-separated);
    #: empty: only the page's own origin.
    embed_origins: str = Field("", env="WEBCHAT_EMBED_ORIGINS")


class JsonApiSettings(Section):
    """The JSON endpoint for trusted callers (channels/jsonapi/)."""

    #: Secret of the JSON endpoint (`Authorization: Bearer ...`); the endpoint is off while
    #: empty.
    secret: str = Field("", env="JSON_API_SECRET")


# --- store platforms (bot/platforms/, docs/shopify.md) -----------------------------------------
# A platform whose credentials are empty stays off: its webhook answers 503.


class ShopifySettings(Section):
    """One Shopify shop through a custom app (bot/platforms/shopify/, docs/shopify.md)."""

    #: The shop's myshopify.com domain, "example.myshopify.com"; webhooks of any other shop
    #: are refused.
    shop_domain: str = Field("", env="SHOPIFY_SHOP_DOMAIN")
    #: The custom app's Admin API access token (shpat_...), for the GraphQL Admin API.
    admin_token: str = Field("", env="SHOPIFY_ADMIN_TOKEN")
    #: The custom app's API secret key: Shopify signs webhooks with it (X-Shopify-Hmac-Sha256).
    webhook_secret: str = Field("", env="SHOPIFY_WEBHOOK_SECRET")
    #: Admin API base URL; empty: https://<SHOPIFY_SHOP_DOMAIN>/admin/api/<SHOPIFY_API_VERSION>
    #: (tests point it at a local fake).
    api_base_url: str = Field("", env="SHOPIFY_API_BASE_URL")
    #: Admin API version; the fixtures the integration is tested against are 2026-07's, and
    #: Shopify supports a version for at least a year after its release.
    api_version: str = Field("2026-07", env="SHOPIFY_API_VERSION")
    #: An order synced longer ago than this is re-read from the Admin API before the bot tells
    #: a shopper anything about it (seconds).
    order_max_age_seconds: float = Field(300.0, env="SHOPIFY_ORDER_MAX_AGE_SECONDS")
    #: How often the reconciliation asks for orders updated since the last sync (seconds);
    #: it repairs what a missed webhook left behind. 0: never.
    reconcile_interval_seconds: float = Field(900.0, env="SHOPIFY_RECONCILE_INTERVAL_SECONDS")
    #: How many days of orders `relaydesk connect shopify` backfills.
    backfill_days: int = Field(60, env="SHOPIFY_BACKFILL_DAYS")

    @property
    def configured(self) -> bool:
        """Enough to sync: the shop, the token and the webhook secret are set."""
        return bool(self.shop_domain and self.admin_token and self.webhook_secret)

    @property
    def admin_api_url(self) -> str:
        """The Admin API base URL in use, without a trailing slash."""
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        return f"https://{self.shop_domain}/admin/api/{self.api_version}"


class StorePushSettings(Section):
    """The generic signed push webhook for any other shop system (bot/platforms/push/,
    docs/store-push-webhook.md)."""

    #: The shared secret the shop's system signs pushes with (HMAC-SHA256, X-Relaydesk-Signature);
    #: the endpoint is off (503) while it is empty. Make it long and random: `openssl rand -hex 32`.
    secret: str = Field("", env="STORE_PUSH_SECRET")
    #: How far a push's signed timestamp may be from relaydesk's clock, either way, before it is
    #: refused as a possible replay (seconds).
    max_skew_seconds: float = Field(300.0, env="STORE_PUSH_MAX_SKEW_SECONDS")


class Settings(Section):
    """Runtime configuration. Field docs double as the README's configuration table."""

    #: The checkout (default: where this file is); the default paths below are under it.
    repo_root: Path = Field(REPO_ROOT, env="RELAYDESK_ROOT")
    #: SQLAlchemy URL of relaydesk's store (orders, customers, tickets...)
    #: (default: sqlite:///<RELAYDESK_ROOT>/var/relaydesk.db).
    database_url: str = Field(_default_database_url(REPO_ROOT), env="DATABASE_URL")
    #: SQLite file of Rasa's SQL tracker store (default profile; conversations survive restarts).
    tracker_db_path: Path = Field(REPO_ROOT / "var" / "rasa_tracker.db", env="RASA_TRACKER_DB")
    #: "default" (embedded, SQLite) or "production" (endpoints.production.yml).
    profile: str = Field("default", env="RELAYDESK_PROFILE")
    #: Interface the Rasa server binds to (localhost keeps its HTTP API private).
    rasa_host: str = Field("127.0.0.1", env="RASA_HOST")
    #: Port of the Rasa server.
    rasa_port: int = Field(5005, env="RASA_PORT")
    #: Shared secret for Rasa's HTTP API (`?token=`); generated per run when empty.
    rasa_token: str = Field("", env="RASA_TOKEN")
    #: Port of the action server.
    action_port: int = Field(5055, env="ACTION_PORT")
    #: Port of the handoff bridge.
    bridge_port: int = Field(5060, env="BRIDGE_PORT")
    #: Public base URL shoppers and providers reach Rasa under (for links and signatures)
    #: (default: http://localhost:<RASA_PORT>).
    public_url: str = Field("http://localhost:5005", env="PUBLIC_URL")
    #: Store name used in replies.
    store_name: str = Field("Northwind Outfitters", env="STORE_NAME")
    #: JSON store export loaded on first start when the store is empty.
    demo_store_path: Path = Field(
        REPO_ROOT / "bot" / "store" / "demo_store.json", env="DEMO_STORE_PATH"
    )
    #: Knowledge-base articles (Markdown) and the store's policy file.
    knowledge_base_dir: Path = Field(REPO_ROOT / "knowledge_base", env="KNOWLEDGE_BASE_DIR")
    #: Where trained models are written and read.
    models_dir: Path = Field(REPO_ROOT / "models", env="MODELS_DIR")
    #: Verification attempts before the bot stops asking and offers a person.
    max_verification_attempts: int = Field(3, env="MAX_VERIFICATION_ATTEMPTS")
    #: Days a processed store-platform webhook (Shopify, store push) is kept in the inbox
    #: before it is deleted (the bodies hold customer data). 0: kept for ever.
    platform_inbox_retention_days: int = Field(30, env="PLATFORM_INBOX_RETENTION_DAYS")

    #: Messaging channels, how they send, the web chat and the JSON endpoint.
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)
    messenger: MessengerSettings = Field(default_factory=MessengerSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    sending: SendingSettings = Field(default_factory=SendingSettings)
    webchat: WebChatSettings = Field(default_factory=WebChatSettings)
    json_api: JsonApiSettings = Field(default_factory=JsonApiSettings)
    #: The store platform (Shopify): webhooks in, its Admin API out.
    shopify: ShopifySettings = Field(default_factory=ShopifySettings)
    #: Any other shop system (WooCommerce, a custom shop): the signed push webhook.
    store_push: StorePushSettings = Field(default_factory=StorePushSettings)
    #: Human handoff (Slack agent queue, CLI); see the handoff section above.
    handoff: HandoffSettings = Field(default_factory=HandoffSettings)

    @root_validator(pre=True)
    def _defaults_under_root(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults that follow another setting: the paths under RELAYDESK_ROOT, and the public
        URL on RASA_PORT (the demo store stays the checkout's own)."""
        root = Path(values.get("repo_root") or REPO_ROOT)
        values.setdefault("database_url", _default_database_url(root))
        values.setdefault("tracker_db_path", root / "var" / "rasa_tracker.db")
        values.setdefault("knowledge_base_dir", root / "knowledge_base")
        values.setdefault("models_dir", root / "models")
        values.setdefault("public_url", f"http://localhost:{values.get('rasa_port') or 5005}")
        handoff = values.get("handoff")
        if handoff is None or isinstance(handoff, Mapping):
            events = {"events_db_path": root / "var" / "rasa_events.db"}
            values["handoff"] = {**events, **(handoff or {})}
        return values

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
        """The settings `environ` (default: this process's environment) describes."""
        return cls(**cls.values_from(os.environ if environ is None else environ))


class _ProcessSettings:
    """The settings of this process, for code its entry point cannot hand them to."""

    current: Settings | None = None


def use_process_settings(settings: Settings) -> None:
    """Called once by an entry point that cannot pass its settings down (the Rasa server)."""
    _ProcessSettings.current = settings


def process_settings() -> Settings:
    """What the entry point set, else the environment, read on first use (one read per
    process either way, and nothing happens at import)."""
    if _ProcessSettings.current is None:
        _ProcessSettings.current = Settings.from_env()
    return _ProcessSettings.current
