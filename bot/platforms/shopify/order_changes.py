"""The Shopify adapter of `OrderChangesPort` (bot/store/ports.py): a shopper's cancellation,
address change and return are made on Shopify, exactly once, and relaydesk's copy follows
from Shopify's answer (a re-read) and its webhooks.

Exactly once, although chat repeats itself (a double "yes", a retried action call, a crash):

1. Every change has a natural key (`cancel_key`, `address_key`, `return_key`) under which it
   is recorded in the command log (bot/store/platform_commands.py) before anything is sent;
   the unique key makes a repeat find the first record.
2. A DONE command is answered from the log, without asking Shopify again.
3. Only the caller holding the command's claim sends it; a concurrent repeat waits for that
   caller's outcome (at most `wait_for_other` seconds) instead of sending a second one.
4. A command that may have been sent without an answer coming back (UNKNOWN after a timeout
   or a 5xx, or a claim whose process died) is never sent blindly again: the order is first
   read from Shopify (cancelled? that address? a return of that line since the last try?)
   and sent again only when Shopify shows it did not happen.

Errors: Shopify unreachable before anything was sent → `StoreUnavailableError`, nothing is
recorded as done; an outcome unknown → the command is UNKNOWN and `StoreUnavailableError`
(the next attempt reads first); Shopify (or its fresh state) refuses → the command is REFUSED,
the order is marked for a re-read and `ShopifyChangeRefused` (an `OrderChangeConflict` that
says why: `Refusal`, and Shopify's words) is raised, the words logged. Nothing in relaydesk's
own copy is changed by a refusal; a REFUSED command may be sent again later (nothing happened).

The GraphQL read (`ORDER_FOR_CHANGE`) lives here because only the write-back needs it; the
mutations are bot/platforms/shopify/operations.py's. Access scopes: `read_orders`,
`read_returns` for the read, `write_orders` and `write_returns` for the mutations.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NoReturn

from bot.domain.store_policy import StorePolicy
from bot.domain.views import AddressView, OrderView
from bot.domain.vocabulary import FulfilmentStatus, ItemCondition, OrderStatus, ReturnReason
from bot.store.errors import StoreUnavailableError
from bot.store.order_commands import (
    Attachment,
    CancelResult,
    NewAddress,
    OrderChangeConflict,
    OrderCommands,
    ReturnResult,
    cancellation_refund_reference,
)
from bot.store.platform_commands import Command, CommandLog, CommandStatus
from bot.store.platform_sync import ORDER, PlatformSync
from bot.store.ports import StorePort

from . import operations as shopify
from .admin_api import ShopifyAdminClient, ShopifyError, ShopifyRejected, ShopifyUnavailable
from .admin_api import UserError as ShopifyUserError

logger = logging.getLogger(__name__)

PLATFORM = "shopify"
CANCEL, ADDRESS, RETURN = "cancel", "address", "return"

#: Shopify's customerNote on a return line holds at most 300 characters.
CUSTOMER_NOTE_LIMIT = 300

#: relaydesk's return reasons → Shopify's ReturnReason enum (the inverse of
#: bot/platforms/shopify/mapping.py RETURN_REASONS; Shopify has no "damaged": a damaged item is
#: DEFECTIVE to the shop, and the shopper's own words go into the customer note).
SHOPIFY_RETURN_REASONS: Mapping[ReturnReason, str] = {
    ReturnReason.TOO_SMALL: "SIZE_TOO_SMALL",
    ReturnReason.TOO_LARGE: "SIZE_TOO_LARGE",
    ReturnReason.DAMAGED: "DEFECTIVE",
    ReturnReason.DEFECTIVE: "DEFECTIVE",
    ReturnReason.WRONG_ITEM: "WRONG_ITEM",
    ReturnReason.NOT_AS_DESCRIBED: "NOT_AS_DESCRIBED",
    ReturnReason.CHANGED_MIND: "UNWANTED",
    ReturnReason.OTHER: "OTHER",
}

#: OrderDisplayFulfillmentStatus values under which nothing of the order is being packed or
#: has left: the address may still change. IN_PROGRESS / PENDING_FULFILLMENT mean a
#: fulfilment service has the order already.
ADDRESS_CHANGEABLE = frozenset({"UNFULFILLED", "OPEN", "ON_HOLD", "SCHEDULED"})

#: Return statuses in which a return still holds its items (a declined or cancelled one
#: does not).
LIVE_RETURN_STATUSES = frozenset({"REQUESTED", "OPEN", "CLOSED"})

#: The order's state a change depends on. Its requested cost stays far below Shopify's
#: single-query limit of 1000 points (about 335 by Shopify's rules: 5 fulfilments of 20 line
#: items, 5 returns of 10 lines), so it is paid for by the bucket in a few seconds at worst.
ORDER_FOR_CHANGE = """
query OrderForChange($id: ID!) {
  order(id: $id) {
    id
    name
    cancelledAt
    displayFulfillmentStatus
    shippingAddress {
      address1
      address2
      city
      province
      provinceCode
      zip
      countryCodeV2
    }
    fulfillments(first: 5) {
      id
      status
      fulfillmentLineItems(first: 20) {
        nodes {
          id
          quantity
          lineItem {
            id
            sku
          }
        }
      }
    }
    returns(first: 5) {
      nodes {
        id
        name
        status
        returnLineItems(first: 10) {
          nodes {
            id
            quantity
            ... on ReturnLineItem {
              fulfillmentLineItem {
                id
              }
            }
          }
        }
      }
    }
  }
}
"""


# ------------------------------------------------------------------ pure rules


def cancel_key(number: str) -> str:
    return f"{CANCEL}:{number}"


def _squash(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def normalised_address(address: NewAddress) -> dict[str, str]:
    """What makes two addresses the same one: case, runs of spaces, and spaces in the postal
    code do not count; an empty second line is no second line."""
    return {
        "line1": _squash(address.line1),
        "line2": _squash(address.line2),
        "city": _squash(address.city),
        "region": _squash(address.region),
        "postal_code": _squash(address.postal_code).replace(" ", ""),
        "country": _squash(address.country).upper(),
    }


def address_key(number: str, address: NewAddress) -> str:
    text = json.dumps(normalised_address(address), sort_keys=True, separators=(",", ":"))
    return f"{ADDRESS}:{number}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def return_key(number: str, sku: str) -> str:
    return f"{RETURN}:{number}:{sku}"


def shopify_return_reason(reason: ReturnReason | str) -> str:
    return SHOPIFY_RETURN_REASONS[ReturnReason(reason)]


_REGION_CODE = re.compile(r"^[A-Z0-9]{1,3}$")


def mailing_address_input(address: NewAddress) -> dict[str, str]:
    """The MailingAddressInput of an address: the ISO country code, and the region as
    `provinceCode` when it is a code ("ON", "IL"), else as the province's name."""
    given: dict[str, str] = {
        "address1": address.line1.strip(),
        "address2": (address.line2 or "").strip(),
        "city": address.city.strip(),
        "zip": address.postal_code.strip(),
        "countryCode": address.country.strip().upper(),
    }
    region = (address.region or "").strip()
    if region:
        given["provinceCode" if _REGION_CODE.fullmatch(region) else "province"] = region
    return given


def address_matches(shopify_address: Mapping[str, Any] | None, address: NewAddress) -> bool:
    """Whether Shopify's MailingAddress is `address` (read-after-write of an address change)."""
    if not shopify_address:
        return False
    wanted = normalised_address(address)
    region = wanted["region"]
    regions = {
        _squash(shopify_address.get("provinceCode")),
        _squash(shopify_address.get("province")),
    }
    return (
        _squash(shopify_address.get("address1")) == wanted["line1"]
        and _squash(shopify_address.get("address2")) == wanted["line2"]
        and _squash(shopify_address.get("city")) == wanted["city"]
        and _squash(shopify_address.get("zip")).replace(" ", "") == wanted["postal_code"]
        and _squash(shopify_address.get("countryCodeV2")).upper() == wanted["country"]
        and (not region or region in regions)
    )


def view_address_matches(view: AddressView, address: NewAddress) -> bool:
    mine = normalised_address(
        NewAddress(view.line1, view.line2, view.city, view.region, view.postal_code, view.country)
    )
    return mine == normalised_address(address)


def address_view(view: AddressView, address: NewAddress) -> AddressView:
    return replace(
        view,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country=address.country,
    )


def rma_number_for_return(return_gid: str) -> str:
    """The RMA number of a Shopify return: "RMA-" and its numeric id, as
    bot/platforms/shopify/mapping.py derives it for the returns webhooks and re-reads bring,
    so the shopper's number is the one relaydesk's copy will hold."""
    return f"RMA-{return_gid.rsplit('/', 1)[-1]}"


def customer_note(
    condition: ItemCondition | str,
    reason: ReturnReason | str,
    attachments: Sequence[Attachment],
    *,
    limit: int = CUSTOMER_NOTE_LIMIT,
) -> str:
    """The return line's customer note: what Shopify has no field for (the declared
    condition, relaydesk's reason, the photos), within Shopify's 300 characters. Photos that
    do not fit are counted instead of cut in half."""
    text = (
        f"Condition: {ItemCondition(condition).value.replace('_', ' ')}. "
        f"Reason: {ReturnReason(reason).value.replace('_', ' ')}. (via relaydesk)"
    )
    urls = [attachment.url for attachment in attachments]
    for index, url in enumerate(urls):
        candidate = f"{text} Photo: {url}"
        if len(candidate) + len(_more_photos(len(urls) - index - 1)) > limit:
            return (text + _more_photos(len(urls) - index))[:limit]
        text = candidate
    return text[:limit]


def _more_photos(count: int) -> str:
    return f" (+{count} more photo{'s' if count != 1 else ''} in relaydesk)" if count else ""


def split_quantity(wanted: int, available: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """`wanted` items over fulfilment line items ((id, quantity) each), in order."""
    lines = []
    for item_id, quantity in available:
        if wanted <= 0:
            break
        take = min(wanted, quantity)
        if take > 0:
            lines.append((item_id, take))
            wanted -= take
    return lines


# ------------------------------------------------------------------ Shopify's state


@dataclass(frozen=True)
class FulfilledItem:
    id: str
    quantity: int
    sku: str | None


@dataclass(frozen=True)
class ShopifyReturn:
    id: str
    name: str | None
    status: str | None
    fulfillment_line_item_ids: frozenset[str]


@dataclass(frozen=True)
class ShopifyOrderState:
    """What the write-back needs to know of an order as Shopify has it now."""

    id: str
    name: str | None
    cancelled: bool
    display_fulfillment_status: str | None
    shipping_address: Mapping[str, Any] | None
    fulfilled_items: tuple[FulfilledItem, ...]
    returns: tuple[ShopifyReturn, ...]

    @property
    def address_changeable(self) -> bool:
        return (
            not self.cancelled
            and not self.fulfilled_items
            and (self.display_fulfillment_status or "UNFULFILLED") in ADDRESS_CHANGEABLE
        )

    def items_of(self, sku: str) -> list[FulfilledItem]:
        return [item for item in self.fulfilled_items if item.sku == sku]

    def returns_of(self, item_ids: set[str]) -> list[ShopifyReturn]:
        return [
            r
            for r in self.returns
            if r.fulfillment_line_item_ids & item_ids and (r.status or "") in LIVE_RETURN_STATUSES
        ]


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    if not isinstance(connection, Mapping):
        return []
    nodes = connection.get("nodes")
    if nodes is None:
        nodes = [edge.get("node") for edge in connection.get("edges") or []]
    return [node for node in nodes if isinstance(node, Mapping)]


def read_order_state(client: ShopifyAdminClient, order_gid: str) -> ShopifyOrderState | None:
    """The order as Shopify has it now; None when Shopify has no such order."""
    order = client.execute(ORDER_FOR_CHANGE, {"id": order_gid}).get("order")
    if not isinstance(order, Mapping):
        return None
    items = []
    for fulfilment in order.get("fulfillments") or []:
        if not isinstance(fulfilment, Mapping) or fulfilment.get("status") == "CANCELLED":
            continue
        for node in _nodes(fulfilment.get("fulfillmentLineItems")):
            line = node.get("lineItem")
            sku = line.get("sku") if isinstance(line, Mapping) else None
            items.append(FulfilledItem(str(node["id"]), int(node.get("quantity") or 0), sku))
    returns = []
    for node in _nodes(order.get("returns")):
        ids = set()
        for line in _nodes(node.get("returnLineItems")):
            item = line.get("fulfillmentLineItem")
            if isinstance(item, Mapping) and item.get("id"):
                ids.add(str(item["id"]))
        returns.append(
            ShopifyReturn(str(node["id"]), node.get("name"), node.get("status"), frozenset(ids))
        )
    address = order.get("shippingAddress")
    return ShopifyOrderState(
        id=str(order.get("id")),
        name=order.get("name"),
        cancelled=order.get("cancelledAt") is not None,
        display_fulfillment_status=order.get("displayFulfillmentStatus"),
        shipping_address=address if isinstance(address, Mapping) else None,
        fulfilled_items=tuple(items),
        returns=tuple(returns),
    )


# ------------------------------------------------------------------ the adapter


class Refusal(StrEnum):
    """Why a change was not made, so the shopper can be told the true reason."""

    #: Packed, shipped or fulfilled (on Shopify or in relaydesk's copy).
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    #: A return of something Shopify has not shipped (or returned already).
    NOT_RETURNABLE = "not_returnable"
    #: Shopify has no such order.
    NOT_FOUND = "not_found"
    #: Shopify's userErrors for anything else (an address it will not take, a permission...).
    SHOPIFY_SAID_NO = "shopify_said_no"


class ShopifyChangeRefused(OrderChangeConflict):
    """An `OrderChangeConflict` (so callers of the port need nothing new) that also says why:
    `refusal`, and Shopify's own words (`messages`) when it was Shopify that refused."""

    def __init__(self, message: str, refusal: Refusal, messages: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.messages = tuple(messages)
        # Only a fulfilled order "moved on" (is being packed); a cancelled one is no reason to
        # say so.
        self.order_moved_on = refusal is Refusal.FULFILLED


@dataclass(frozen=True)
class CancelOptions:
    """What an orderCancel asks of Shopify besides cancelling (the shop's policy)."""

    refund: bool = True
    restock: bool = True
    notify_customer: bool = True
    reason: str = "CUSTOMER"
    staff_note: str | None = "Cancelled by the customer in a relaydesk chat"

    @classmethod
    def from_policy(cls, policy: StorePolicy) -> CancelOptions:
        return cls(refund=policy.refund_on_cancel, restock=policy.restock_on_cancel)


def _words(errors: Sequence[ShopifyUserError]) -> str:
    return "; ".join(
        f"{'.'.join(e.field) or '-'}: {e.message}" + (f" ({e.code})" if e.code else "")
        for e in errors
    )


@dataclass(frozen=True)
class _Acquired:
    """The outcome of taking a command: DONE already, or claimed by us."""

    done: Command | None = None
    previous: Command | None = None
    claim: Command | None = None


class ShopifyOrderChanges:
    """`OrderChangesPort` on Shopify. Same methods, arguments, results and errors as the local
    `OrderCommands` (bot/store/order_commands.py), plus `StoreUnavailableError`.

    `refresh_order(number)` re-reads an order from Shopify into relaydesk's store and returns
    the local view (None or an error when it cannot: the change is still reported, from the
    local copy and Shopify's answer, and the webhooks bring the rest)."""

    def __init__(
        self,
        client: ShopifyAdminClient,
        log: CommandLog,
        sync: PlatformSync,
        refresh_order: Callable[[str], OrderView | None],
        store: StorePort,
        local_commands: OrderCommands,
        cancel_options: CancelOptions,
        *,
        wait_for_other: float = 10.0,
        poll_interval: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._log = log
        self._sync = sync
        self._refresh_order = refresh_order
        self._store = store
        self._local = local_commands
        self._cancel_options = cancel_options
        self._wait_for_other = wait_for_other
        self._poll_interval = poll_interval
        self._sleep = sleep

    # ------------------------------------------------------------------ cancel

    def cancel(self, number: str) -> CancelResult:
        """Cancels the order on Shopify (orderCancel: refund and restock per the shop's
        policy, reason CUSTOMER, the customer notified).

        orderCancel only starts a job: `cancelled_now=True` means Shopify accepted the
        cancellation, even when the job has not finished yet and the re-read still shows the
        order open (the orders/cancelled webhook brings the final state). A repeat returns
        `cancelled_now=False` and the first answer's refund reference."""
        view, gid, external_id = self._order(number)
        options = self._cancel_options
        request = {
            "order_gid": gid,
            "reason": options.reason,
            "refund": options.refund,
            "restock": options.restock,
            "notify_customer": options.notify_customer,
            "staff_note": options.staff_note,
        }
        acquired = self._acquire(cancel_key(number), CANCEL, number, request)
        if acquired.done is not None:
            reference = (acquired.done.response or {}).get("refund_reference")
            return CancelResult(self._view(number, view), False, reference)
        claim, previous = self._claimed(acquired)
        now = self._log.now()
        if previous.in_doubt(now, self._log.lease):
            state = self._read(claim, previous, gid, number)
            if state.cancelled:
                # The lost request did get through.
                return self._cancelled(claim, number, view, {"resolved_by": "read"}, now=True)
            if state.fulfilled_items:
                self._refuse(claim, external_id, number, "fulfilled on Shopify", Refusal.FULFILLED)
        elif view.status == OrderStatus.CANCELLED:
            return self._cancelled(claim, number, view, {"resolved_by": "local"}, now=False)
        elif not _unfulfilled(view):
            self._refuse(
                claim, external_id, number, f"already {view.status} in relaydesk", _why(view)
            )

        result = self._send(
            claim,
            previous,
            lambda: shopify.cancel_order(
                self._client,
                gid,
                reason=options.reason,
                refund=options.refund,
                restock=options.restock,
                notify_customer=options.notify_customer,
                staff_note=options.staff_note,
            ),
        )
        if result.user_errors:
            codes = {error.code for error in result.user_errors}
            words = _words(result.user_errors)
            if "INTERNAL_ERROR" in codes:
                self._log.mark_refused(claim, words)
                raise StoreUnavailableError(f"Shopify could not cancel order {number}: {words}")
            if codes <= {"INVALID", None} and self._cancelled_on_shopify(gid):
                # Already cancelled (by the shop, or earlier): what the shopper wanted.
                return self._cancelled(claim, number, view, {"resolved_by": "refusal"}, now=False)
            refusal = Refusal.NOT_FOUND if codes == {"NOT_FOUND"} else Refusal.FULFILLED
            if codes - {"INVALID", "NOT_FOUND", None}:
                refusal = Refusal.SHOPIFY_SAID_NO  # NO_REFUND_PERMISSION: the app's setup
            self._refuse(claim, external_id, number, words, refusal, result.user_errors)
        job = {"job_id": result.job_id, "job_result_id": result.job_result_id}
        return self._cancelled(claim, number, view, {**job, "job_done": result.job_done}, now=True)

    def _cancelled_on_shopify(self, gid: str) -> bool:
        try:
            state = read_order_state(self._client, gid)
        except ShopifyError as error:
            logger.warning("shopify: cannot tell why the cancel was refused: %s", error)
            return False
        return state is not None and state.cancelled

    def _cancelled(
        self,
        claim: Command,
        number: str,
        before: OrderView,
        response: Mapping[str, Any],
        *,
        now: bool,
    ) -> CancelResult:
        # Recorded before the re-read: the sooner it is DONE, the smaller the window in which
        # a crash leaves a cancellation Shopify made in doubt (and costs a read later).
        reference = _refund_reference(before, self._cancel_options.refund, now=now)
        self._finish(claim, {**response, "refund_reference": reference})
        return CancelResult(self._refresh(number) or self._view(number, before), now, reference)

    # ------------------------------------------------------------------ address

    def change_shipping_address(self, number: str, address: NewAddress) -> OrderView:
        """Replaces the shipping address on Shopify (orderUpdate), only while nothing of the
        order is packed or shipped: relaydesk's copy and Shopify's current state must both
        say so (Shopify itself would change the address of a fulfilled order)."""
        view, gid, external_id = self._order(number)
        given = mailing_address_input(address)
        request = {"order_gid": gid, "shipping_address": given}
        acquired = self._acquire(
            address_key(number, address),
            ADDRESS,
            number,
            request,
            # Setting an address is idempotent; a DONE one is redone when the address has
            # changed again since (to another one and back).
            redo=lambda: (
                not view_address_matches(self._view(number, view).shipping_address, address)
            ),
        )
        if acquired.done is not None:
            return self._with_address(self._view(number, view), address)
        claim, previous = self._claimed(acquired)
        state = self._read(claim, previous, gid, number)
        if address_matches(state.shipping_address, address):
            # Already so on Shopify: the lost request got through, or nothing to do.
            self._finish(claim, {"resolved_by": "read"})
            return self._with_address(self._refresh(number) or view, address)
        if not state.address_changeable:
            shown = "cancelled" if state.cancelled else state.display_fulfillment_status
            refusal = Refusal.CANCELLED if state.cancelled else Refusal.FULFILLED
            self._refuse(claim, external_id, number, f"{shown} on Shopify", refusal)
        if not _unfulfilled(view):
            self._refuse(
                claim, external_id, number, f"already {view.status} in relaydesk", _why(view)
            )
        result = self._send(
            claim, previous, lambda: shopify.update_shipping_address(self._client, gid, given)
        )
        if result.user_errors:
            self._refuse(
                claim,
                external_id,
                number,
                _words(result.user_errors),
                Refusal.SHOPIFY_SAID_NO,
                result.user_errors,
            )
        self._finish(claim, {"shipping_address": dict(result.shipping_address or {})})
        return self._with_address(self._refresh(number) or view, address)

    @staticmethod
    def _with_address(view: OrderView, address: NewAddress) -> OrderView:
        """The view with the address Shopify accepted, when the re-read has not brought it
        (yet): Shopify's answer is the truth relaydesk's copy follows."""
        if view_address_matches(view.shipping_address, address):
            return view
        return replace(view, shipping_address=address_view(view.shipping_address, address))

    # ------------------------------------------------------------------ return

    def request_return(
        self,
        number: str,
        order_line_id: int,
        *,
        reason: ReturnReason | str,
        condition: ItemCondition | str,
        attachments: Sequence[Attachment] = (),
    ) -> ReturnResult:
        """Requests a return of the order line on Shopify (returnRequest: status REQUESTED,
        approved or declined by the shop in Shopify). The RMA number is derived from Shopify's
        return id (`rma_number_for_return`). A repeat returns the same RMA number,
        `created_now=False`; photos sent with a repeat are not added to Shopify's return."""
        view, gid, external_id = self._order(number)
        line = next((line for line in view.lines if line.id == order_line_id), None)
        if line is None:
            raise ValueError(f"order line {order_line_id} is not on order {number}")
        request: dict[str, Any] = {
            "order_gid": gid,
            "order_line_id": order_line_id,
            "sku": line.sku,
            "quantity": line.quantity,
            "reason": ReturnReason(reason).value,
            "condition": ItemCondition(condition).value,
            "attachments": [{"url": a.url, "content_type": a.content_type} for a in attachments],
        }
        acquired = self._acquire(return_key(number, line.sku), RETURN, number, request)
        if acquired.done is not None:
            rma = str((acquired.done.response or {})["rma_number"])
            if attachments:
                logger.info("shopify: photos sent again for %s are not added to Shopify", rma)
            return ReturnResult(self._view(number, view), rma, False, awaiting_approval=True)
        claim, previous = self._claimed(acquired)
        state = self._read(claim, previous, gid, number)
        items = state.items_of(line.sku)
        item_ids = {item.id for item in items}
        before = previous.request.get("returns_before")
        if previous.in_doubt(self._log.now(), self._log.lease) and before is not None:
            landed = [r for r in state.returns_of(item_ids) if r.id not in set(before)]
            if landed:
                return self._returned(claim, number, view, landed[0].id, landed[0].name)
        lines = split_quantity(line.quantity, [(item.id, item.quantity) for item in items])
        if not lines:
            self._refuse(
                claim,
                external_id,
                number,
                f"{line.sku} is not fulfilled on Shopify",
                Refusal.NOT_RETURNABLE,
            )
        note = customer_note(condition, reason, attachments)
        sent = {
            **previous.request,
            # Written before sending: a later read-after-write tells a return made by this
            # request from the ones that were there already.
            "returns_before": sorted(r.id for r in state.returns),
            "lines": [[item_id, quantity] for item_id, quantity in lines],
        }
        if not self._log.update_request(claim, sent):
            raise StoreUnavailableError(f"the return of order {number} was taken over")
        result = self._send(
            claim,
            previous,
            lambda: shopify.request_return(
                self._client,
                gid,
                [
                    shopify.ReturnLine(item_id, quantity, shopify_return_reason(reason), note)
                    for item_id, quantity in lines
                ],
            ),
        )
        if result.user_errors or result.return_id is None:
            self._refuse(
                claim,
                external_id,
                number,
                _words(result.user_errors) or "no return",
                Refusal.NOT_RETURNABLE,
                result.user_errors,
            )
        return self._returned(claim, number, view, result.return_id, None)

    def _returned(
        self, claim: Command, number: str, before: OrderView, return_id: str, name: str | None
    ) -> ReturnResult:
        rma = rma_number_for_return(return_id)
        self._finish(claim, {"return_id": return_id, "return_name": name, "rma_number": rma})
        order = self._refresh(number) or self._view(number, before)
        return ReturnResult(order, rma, True, awaiting_approval=True)

    def attachments_for(self, rma_number: str) -> list[Attachment]:
        """The photos sent with the return (in its Shopify customer note), and any relaydesk
        keeps for it locally."""
        found: list[Attachment] = []
        for command in self._log.of_kind(PLATFORM, RETURN, status=CommandStatus.DONE):
            if (command.response or {}).get("rma_number") == rma_number:
                found.extend(
                    Attachment(str(a["url"]), a.get("content_type"))
                    for a in command.request.get("attachments") or []
                )
        for attachment in self._local.attachments_for(rma_number):
            if all(attachment.url != known.url for known in found):
                found.append(attachment)
        return found

    # ------------------------------------------------------------------ the steps

    def _order(self, number: str) -> tuple[OrderView, str, str]:
        """The local view, the order's GraphQL id and Shopify id; LookupError if relaydesk
        has no such Shopify order."""
        view = self._store.find_order(number)
        record = self._sync.record_for_key(PLATFORM, ORDER, number)
        if view is None or record is None or not record.graphql_id:
            raise LookupError(f"no Shopify order {number}")
        return view, record.graphql_id, record.external_id

    def _acquire(
        self,
        key: str,
        kind: str,
        number: str,
        request: Mapping[str, Any],
        *,
        redo: Callable[[], bool] | None = None,
    ) -> _Acquired:
        command, _ = self._log.begin(PLATFORM, key, kind, number, request)
        waited = 0.0
        while True:
            if command.status is CommandStatus.DONE and (redo is None or not redo()):
                return _Acquired(done=command)
            claim = self._log.claim(command)
            if claim is not None:
                return _Acquired(previous=command, claim=claim)
            # Another caller is sending it right now: its outcome is ours too.
            if waited >= self._wait_for_other:
                raise StoreUnavailableError(
                    f"{key} is still waiting for Shopify's answer to an earlier attempt"
                )
            self._sleep(self._poll_interval)
            waited += self._poll_interval
            latest = self._log.get(PLATFORM, key)
            assert latest is not None  # rows are never deleted
            command = latest

    @staticmethod
    def _claimed(acquired: _Acquired) -> tuple[Command, Command]:
        assert acquired.claim is not None and acquired.previous is not None
        return acquired.claim, acquired.previous

    def _read(self, claim: Command, previous: Command, gid: str, number: str) -> ShopifyOrderState:
        try:
            state = read_order_state(self._client, gid)
        except ShopifyError as error:
            self._log.release(claim, previous, f"not sent: the read failed: {error}")
            logger.warning("shopify: cannot read order %s before changing it: %s", number, error)
            raise StoreUnavailableError(f"Shopify cannot be reached: {error}") from error
        if state is None:
            self._log.mark_refused(claim, "Shopify has no such order")
            raise ShopifyChangeRefused(f"Shopify has no order {number}", Refusal.NOT_FOUND)
        return state

    def _send(self, claim: Command, previous: Command, call: Callable[[], Any]) -> Any:
        """One mutation. A failure that may have reached Shopify leaves the command UNKNOWN;
        one that certainly did not gives the claim back. Anything else (a crash) leaves the
        claim as it is: in doubt once its lease is over."""
        try:
            return call()
        except ShopifyUnavailable as error:
            if error.outcome_unknown:
                self._log.mark_unknown(claim, str(error))
                logger.warning("shopify: %s may or may not have happened: %s", claim.key, error)
            else:
                self._log.release(claim, previous, f"not sent: {error}")
                logger.warning("shopify: %s not sent: %s", claim.key, error)
            raise StoreUnavailableError(f"Shopify cannot be reached: {error}") from error
        except ShopifyRejected as error:
            # The request as a whole was refused (token, scope, document): nothing ran.
            self._log.release(claim, previous, f"rejected: {error}")
            logger.error("shopify: %s rejected: %s", claim.key, error)
            raise StoreUnavailableError(f"Shopify refused the request: {error}") from error

    def _refuse(
        self,
        claim: Command,
        external_id: str,
        number: str,
        why: str,
        refusal: Refusal,
        errors: Sequence[ShopifyUserError] = (),
    ) -> NoReturn:
        """Shopify (or its current state) says no: recorded, re-read later, raised."""
        self._log.mark_refused(claim, why)
        self._sync.mark_for_refresh(PLATFORM, ORDER, external_id)
        logger.warning("shopify: refused %s: %s", claim.key, why)
        raise ShopifyChangeRefused(
            f"order {number}: {why}", refusal, [error.message for error in errors]
        )

    def _finish(self, claim: Command, response: Mapping[str, Any]) -> None:
        if not self._log.mark_done(claim, response):
            # Our lease ran out and another caller took the command over: it reads first,
            # so it finds this outcome on Shopify.
            logger.warning("shopify: %s done, but its claim had been taken over", claim.key)

    def _refresh(self, number: str) -> OrderView | None:
        # Best effort: the change is made and recorded; a re-read that fails (Shopify gone
        # again, a body the mappers refuse) must not turn it into an error for the shopper.
        # The webhooks and the reconciliation bring the state later.
        try:
            return self._refresh_order(number)
        except Exception:
            logger.exception("shopify: order %s changed, but the re-read failed", number)
            return None

    def _view(self, number: str, fallback: OrderView) -> OrderView:
        return self._store.find_order(number) or fallback


def _why(view: OrderView) -> Refusal:
    return Refusal.CANCELLED if view.status == OrderStatus.CANCELLED else Refusal.FULFILLED


def _unfulfilled(view: OrderView) -> bool:
    # bot/store/order_commands.py's rule for changes, on relaydesk's copy.
    return view.fulfilment_status == FulfilmentStatus.UNFULFILLED and view.status in {
        OrderStatus.PROCESSING,
        OrderStatus.PAID,
    }


def _refund_reference(before: OrderView, refund: bool, *, now: bool) -> str | None:
    """The refund a cancellation brings, as the shopper is told of it. orderCancel refunds in
    its background job, so Shopify's refund (and its id) comes later with refunds/create:
    until then relaydesk's reference for a cancellation refund (`CXL-<number>`, as the local
    adapter names it), when the order was paid and the shop refunds on cancel. An order the
    shop had cancelled already has the refunds it has."""
    if not now:
        return before.refunds[-1].reference if before.refunds else None
    if refund and before.paid_at is not None:
        return cancellation_refund_reference(before.number)
    return None


__all__ = [
    "ADDRESS_CHANGEABLE",
    "ORDER_FOR_CHANGE",
    "SHOPIFY_RETURN_REASONS",
    "CancelOptions",
    "Refusal",
    "ShopifyChangeRefused",
    "ShopifyOrderChanges",
    "ShopifyOrderState",
    "address_key",
    "address_matches",
    "cancel_key",
    "customer_note",
    "mailing_address_input",
    "normalised_address",
    "read_order_state",
    "return_key",
    "rma_number_for_return",
    "shopify_return_reason",
    "split_quantity",
]
