"""The store as the rest of relaydesk sees it.

Actions depend on `StorePort`, not on `StoreRepository`, so their tests can pass an in-memory
fake and the SQL adapter stays swappable.
"""

from __future__ import annotations

from typing import Protocol

from bot.domain.views import CustomerView, OrderView


class StorePort(Protocol):
    def find_order(self, number: str) -> OrderView | None: ...

    def orders_for_customer(self, customer_id: int) -> list[OrderView]: ...

    def find_customer_by_email(self, email: str) -> CustomerView | None: ...

    def find_customer_by_phone(self, phone: str) -> CustomerView | None: ...

    def customer_for_identity(self, channel: str, external_id: str) -> CustomerView | None: ...

    def link_identity(self, channel: str, external_id: str, customer_id: int) -> None: ...

    def is_empty(self) -> bool: ...
