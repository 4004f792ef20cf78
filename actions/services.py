"""What actions depend on, built once per action-server process.

rasa-sdk instantiates action classes without arguments, so each action takes its `Services`
as an optional constructor argument (tests inject their own) and falls back to this lazily
built default. Nothing is constructed at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache

from sqlalchemy.exc import SQLAlchemyError

from bot.domain.clock import utc_now
from bot.domain.order_changes import AddressChangePolicy, CancellationPolicy
from bot.domain.order_status import OrderStatusDescriber
from bot.domain.refund_status import RefundStatusDescriber, RefundTimeline
from bot.domain.returns import ReturnPolicy
from bot.domain.store_policy import StorePolicy
from bot.domain.verification import VerificationPolicy
from bot.knowledge.policy_file import load_store_policy
from bot.settings import Settings
from bot.store.database import Database
from bot.store.errors import StoreUnavailableError
from bot.store.order_commands import OrderCommands
from bot.store.ports import OrderChangesPort, StorePort
from bot.store.repository import StoreRepository
from bot.store.verification_attempts import VerificationAttemptStore

#: What a read of the shop can fail with: relaydesk's database, or the shop's own system
#: (Shopify) when the copy is stale and cannot be re-read. Either way the shopper hears that
#: the order system cannot be reached right now, never a stale answer.
STORE_FAILURES: tuple[type[Exception], ...] = (SQLAlchemyError, StoreUnavailableError)


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: StorePort
    verification: VerificationPolicy
    policy: StorePolicy | None = None
    commands: OrderChangesPort | None = None
    #: Counts verification attempts across conversations (None: per-conversation limit only).
    attempts: VerificationAttemptStore | None = None
    describer: OrderStatusDescriber = field(default_factory=OrderStatusDescriber)
    now: Callable[[], datetime] = utc_now

    def today(self) -> date:
        return self.now().date()

    @property
    def store_policy(self) -> StorePolicy:
        return self.policy or load_store_policy(self.settings.policy_file)

    @property
    def order_commands(self) -> OrderChangesPort:
        if self.commands is None:
            raise RuntimeError("these Services were built without OrderCommands")
        return self.commands

    @property
    def return_policy(self) -> ReturnPolicy:
        policy = self.store_policy
        return ReturnPolicy(
            window_days=policy.return_window_days,
            vip_window_days=policy.vip_return_window_days,
            non_returnable_categories=policy.non_returnable_categories,
            final_sale_returnable=policy.final_sale_returnable,
        )

    @property
    def cancellation_policy(self) -> CancellationPolicy:
        return CancellationPolicy()

    @property
    def address_change_policy(self) -> AddressChangePolicy:
        return AddressChangePolicy(self.store_policy.address_change_cutoff_hours)

    @property
    def refund_describer(self) -> RefundStatusDescriber:
        policy = self.store_policy
        return RefundStatusDescriber(
            RefundTimeline(
                inspection_business_days=policy.refund_inspection_business_days,
                business_days_min=policy.refund_business_days_min,
                business_days_max=policy.refund_business_days_max,
                store_credit_business_days=policy.store_credit_business_days,
            )
        )


@cache
def default_services() -> Services:
    settings = Settings.from_env()
    database = Database(settings.database_url)
    policy = load_store_policy(settings.policy_file)
    store: StorePort = StoreRepository(database)
    commands: OrderChangesPort = OrderCommands(database)
    if settings.shopify.configured:
        # The shop is Shopify: answers only from a fresh copy, changes made on Shopify.
        from bot.platforms.shopify.runtime import (
            shopify_order_changes,
            shopify_parts,
            shopify_store,
        )

        parts = shopify_parts(settings.shopify, database, for_chat=True)
        store = shopify_store(parts, settings.shopify, database)
        commands = shopify_order_changes(parts, database, policy)
    return Services(
        settings=settings,
        store=store,
        verification=VerificationPolicy(max_attempts=settings.max_verification_attempts),
        policy=policy,
        commands=commands,
        attempts=VerificationAttemptStore(database),
    )


class UsesServices:
    """Mixin for actions: rasa-sdk constructs actions without arguments, tests pass Services."""

    def __init__(self, services: Services | None = None) -> None:
        self._services = services

    @property
    def services(self) -> Services:
        return self._services or default_services()
