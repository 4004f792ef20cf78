"""The shop as the rest of relaydesk sees it: the store-platform port.

Actions (and the handoff card) depend on these protocols, not on a database or a platform:

* `StorePort` reads orders and customers and links chat identities;
* `OrderChangesPort` makes the changes shoppers ask for (cancel, new address, return).

Adapters: the SQL store with local changes (`bot.store.repository.StoreRepository` and
`bot.store.order_commands.OrderCommands`: the JSON export's shops, the demo shop, tests) and
Shopify (`bot.platforms.shopify`: reads re-checked against the Admin API when stale, changes
made on Shopify exactly once). Their tests can pass an in-memory fake.

Both raise `bot.store.errors.StoreUnavailableError` when the shop's system cannot be asked
(the bot then says it cannot check right now and offers a person) and changes raise
`bot.store.order_commands.OrderChangeConflict` when the shop refuses one (already fulfilled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from bot.domain.views import CustomerView, OrderView
from bot.domain.vocabulary import ItemCondition, ReturnReason

if TYPE_CHECKING:  # the result types live with the local adapter, which imports this module
    from bot.store.order_commands import Attachment, CancelResult, NewAddress, ReturnResult


class StorePort(Protocol):
    def find_order(self, number: str) -> OrderView | None: ...

    def orders_for_customer(self, customer_id: int) -> list[OrderView]: ...

    def find_customer_by_email(self, email: str) -> CustomerView | None: ...

    def find_customer_by_phone(self, phone: str) -> CustomerView | None: ...

    def customer_for_identity(self, channel: str, external_id: str) -> CustomerView | None: ...

    def link_identity(self, channel: str, external_id: str, customer_id: int) -> None: ...

    def is_empty(self) -> bool: ...


class OrderChangesPort(Protocol):
    def cancel(self, number: str) -> CancelResult: ...

    def change_shipping_address(self, number: str, address: NewAddress) -> OrderView: ...

    def request_return(
        self,
        number: str,
        order_line_id: int,
        *,
        reason: ReturnReason | str,
        condition: ItemCondition | str,
        attachments: Sequence[Attachment] = (),
    ) -> ReturnResult: ...

    def attachments_for(self, rma_number: str) -> list[Attachment]: ...
