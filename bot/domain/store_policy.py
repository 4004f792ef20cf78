"""The store's policy numbers (knowledge_base/policy.yml) as typed objects.

Actions and knowledge-base articles both read the same file, so a number changes in one
place. `from_mapping` validates types so a typo fails at start-up, not in a conversation;
reading the file is the adapter's job (`bot.knowledge.policy_file.load_store_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class PolicyFileError(ValueError):
    pass


@dataclass(frozen=True)
class ShippingOption:
    id: str
    name: str
    cost: Decimal
    business_days_min: int
    business_days_max: int


@dataclass(frozen=True)
class StorePolicy:
    raw: dict[str, Any]
    return_window_days: int
    vip_return_window_days: int
    non_returnable_categories: frozenset[str]
    final_sale_returnable: bool
    label_url_template: str
    return_drop_off_days: int
    refund_inspection_business_days: int
    refund_business_days_min: int
    refund_business_days_max: int
    store_credit_business_days: int
    cancellation_fee: Decimal
    address_change_cutoff_hours: int
    processing_business_days_min: int
    processing_business_days_max: int
    shipping_options: tuple[ShippingOption, ...]
    payment_methods: tuple[str, ...]
    high_value_order_threshold: Decimal
    support_email: str
    support_phone: str
    support_hours: str
    invoice_url_template: str = ""
    #: A cancellation on the shop's platform also refunds the payment / restocks the items.
    refund_on_cancel: bool = True
    restock_on_cancel: bool = True

    def value_at(self, dotted: str) -> Any:
        """`returns.window_days` → 30: what article placeholders resolve against."""
        node: Any = self.raw
        for part in dotted.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise KeyError(dotted)
        return node

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> StorePolicy:
        try:
            returns, refunds = raw["returns"], raw["refunds"]
            shipping, store = raw["shipping"], raw["store"]
            return cls(
                raw=raw,
                return_window_days=int(returns["window_days"]),
                vip_return_window_days=int(returns["vip_window_days"]),
                non_returnable_categories=frozenset(returns["non_returnable_categories"]),
                final_sale_returnable=bool(returns["final_sale_returnable"]),
                label_url_template=str(returns["label_url_template"]),
                return_drop_off_days=int(returns["drop_off_days"]),
                refund_inspection_business_days=int(refunds["inspection_business_days"]),
                refund_business_days_min=int(refunds["processing_business_days_min"]),
                refund_business_days_max=int(refunds["processing_business_days_max"]),
                store_credit_business_days=int(refunds["store_credit_business_days"]),
                cancellation_fee=Decimal(str(raw["cancellations"]["fee"])),
                address_change_cutoff_hours=int(
                    raw["address_changes"]["cutoff_hours_after_payment"]
                ),
                processing_business_days_min=int(shipping["processing_business_days_min"]),
                processing_business_days_max=int(shipping["processing_business_days_max"]),
                shipping_options=tuple(
                    ShippingOption(
                        id=str(o["id"]),
                        name=str(o["name"]),
                        cost=Decimal(str(o["cost"])),
                        business_days_min=int(o["business_days_min"]),
                        business_days_max=int(o["business_days_max"]),
                    )
                    for o in shipping["options"]
                ),
                payment_methods=tuple(str(m) for m in raw["payments"]["methods"]),
                high_value_order_threshold=Decimal(
                    str(raw["escalation"]["high_value_order_threshold"])
                ),
                support_email=str(store["support_email"]),
                support_phone=str(store["support_phone"]),
                support_hours=str(store["support_hours"]),
                invoice_url_template=str(raw.get("invoices", {}).get("url_template", "")),
                refund_on_cancel=_flag(raw["cancellations"], "refund_on_cancel"),
                restock_on_cancel=_flag(raw["cancellations"], "restock_on_cancel"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PolicyFileError(f"policy file is missing or has a bad value: {error}") from error


def _flag(section: Any, name: str, default: bool = True) -> bool:
    """A yes/no setting: missing means `default`; anything but a YAML boolean is an error
    (`bool("no")` would be True, and a cancellation without the refund the shop meant is
    expensive)."""
    value = section.get(name, default) if isinstance(section, dict) else default
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value
