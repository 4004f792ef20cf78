"""Which policy numbers a sentence may be talking about, by topic words and unit.

Each `Rule` says: a quantity in `units`, in a sentence containing one of `triggers`, is a
claim about these policy.yml values. The values are read from the policy file, so the rules
stay right when a number changes; only the topic words are written here.

`parent` marks a more specific rule ("express delivery time" inside "delivery time"): when
both match a sentence, only the specific one judges the number, which is what makes "express
takes 3-5 business days" an error even though standard delivery does take 3-5.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain.store_policy import StorePolicy
from bot.knowledge.placeholders import resolve
from bot.knowledge.quantities import Unit, find_quantities


@dataclass(frozen=True)
class PolicyValue:
    """A value (or min-max span) the policy allows, and how an article should write it."""

    low: Decimal
    high: Decimal
    source: str  # "returns.window_days", "refunds.processing_business_days_min/max"
    placeholder: str  # "{{ policy.returns.window_days }}"

    def allows(self, low: Decimal, high: Decimal) -> bool:
        if low != high:  # a stated range must be exactly the policy's range
            return (low, high) == (self.low, self.high)
        return low in (self.low, self.high)  # "up to 10 business days" is the max


ValueSource = Callable[[StorePolicy], list[PolicyValue]]


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(value)
    return Decimal(str(value))


def single(path: str, filter_name: str = "") -> ValueSource:
    shown = f"{{{{ policy.{path}{' | ' + filter_name if filter_name else ''} }}}}"

    def values(policy: StorePolicy) -> list[PolicyValue]:
        try:
            number = _decimal(resolve(policy, path))
        except (KeyError, TypeError, ArithmeticError):
            return []  # the policy file has no such value: nothing to compare against
        return [PolicyValue(number, number, path, shown)]

    return values


def span(low_path: str, high_path: str, *, plus: str | None = None) -> ValueSource:
    """A min-max pair; `plus` adds a single value to both ends (e.g. inspection + refund)."""

    def values(policy: StorePolicy) -> list[PolicyValue]:
        try:
            low, high = _decimal(resolve(policy, low_path)), _decimal(resolve(policy, high_path))
            extra = _decimal(resolve(policy, plus)) if plus else Decimal(0)
        except (KeyError, TypeError, ArithmeticError):
            return []
        shown = f"{{{{ policy.{low_path} }}}}-{{{{ policy.{high_path} }}}}"
        source = f"{low_path}/{high_path.rsplit('.', 1)[-1]}"
        if low_path.endswith("_min") and high_path == low_path[:-4] + "_max":
            source = f"{low_path}/max"
        if plus:
            shown, source = f"{shown} (plus {{{{ policy.{plus} }}}})", f"{source} + {plus}"
        return [PolicyValue(low + extra, high + extra, source, shown)]

    return values


def shipping_option(option_id: str, what: str) -> ValueSource:
    """`what` = "days" (the option's min-max business days) or "cost"."""
    base = f"shipping.options.{option_id}"
    if what == "cost":
        return single(f"{base}.cost", "money")
    return combine(
        span(f"{base}.business_days_min", f"{base}.business_days_max"),
        # order-to-door: packing time plus transit
        _sum_spans("shipping.processing_business_days", base),
    )


def _sum_spans(processing: str, option: str) -> ValueSource:
    def values(policy: StorePolicy) -> list[PolicyValue]:
        try:
            low = _decimal(resolve(policy, f"{processing}_min"))
            low += _decimal(resolve(policy, f"{option}.business_days_min"))
            high = _decimal(resolve(policy, f"{processing}_max"))
            high += _decimal(resolve(policy, f"{option}.business_days_max"))
        except (KeyError, TypeError, ArithmeticError):
            return []
        return [
            PolicyValue(
                low,
                high,
                f"{processing}_min/max + {option}.business_days_min/max",
                "packing time plus the option's delivery time",
            )
        ]

    return values


def all_shipping_options(what: str) -> ValueSource:
    def values(policy: StorePolicy) -> list[PolicyValue]:
        try:
            options = resolve(policy, "shipping.options")
        except KeyError:
            return []
        found: list[PolicyValue] = []
        for option in options if isinstance(options, list) else []:
            if isinstance(option, dict) and "id" in option:
                found += shipping_option(str(option["id"]), what)(policy)
        return found

    return values


def clock(path: str) -> ValueSource:
    """A "13:00" value, or every time of day in a text like "9am to 6pm"."""

    def values(policy: StorePolicy) -> list[PolicyValue]:
        try:
            text = str(resolve(policy, path)).lower()
        except KeyError:
            return []
        shown = f"{{{{ policy.{path} | clock }}}}" if ":" in text else f"{{{{ policy.{path} }}}}"
        return [
            PolicyValue(q.low, q.low, path, shown)
            for q in find_quantities(text)
            if q.unit is Unit.CLOCK
        ]

    return values


def combine(*sources: ValueSource) -> ValueSource:
    def values(policy: StorePolicy) -> list[PolicyValue]:
        return [value for source in sources for value in source(policy)]

    return values


@dataclass(frozen=True)
class Rule:
    name: str
    topic: str  # for messages: "says 45 days for the {topic}"
    units: tuple[Unit, ...]  # the first is the unit this topic is normally stated in
    triggers: re.Pattern[str]
    values: ValueSource
    parent: str | None = None

    def accepts(self, unit: Unit) -> bool:
        return unit in self.units


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_DAY_UNITS = (Unit.BUSINESS_DAYS, Unit.DAYS)
# "30 days from delivery", "within 30 days of delivery": there delivery is the date counted
# from, not what the sentence is about.
_DELIVERY = (
    r"(?<!from )(?<!of )(?<!after )(?<!since )"
    r"\b(?:ship|deliver|arriv|transit|dispatch|carrier|on (?:its|the) way|get to you)"
)
_STANDARD = r"\bstandard\b"
_EXPRESS = r"\b(?:express|expedited|next[- ]day|fast(?:er|est)?)\b"
_INTERNATIONAL = (
    r"\b(?:international|abroad|overseas|outside the (?:us|u\.s\.|united states)|canada"
    r"|worldwide)"
)

RULES: tuple[Rule, ...] = (
    # returns
    Rule(
        "return-window",
        "return window",
        (Unit.DAYS,),
        _words(r"\b(?:return|send\w* (?:it |them |items? )?back|exchang|window)"),
        single("returns.window_days"),
    ),
    Rule(
        "vip-return-window",
        "VIP return window",
        (Unit.DAYS,),
        _words(r"\bvip\b"),
        single("returns.vip_window_days"),
    ),
    Rule(
        "return-drop-off",
        "time to send a return parcel",
        (Unit.DAYS,),
        _words(
            r"\b(?:drop(?:[- ]?off)?|label|rma|hand (?:it|them|the parcel)|post it"
            r"|(?:ship|send|mail) (?:it|them|the parcel|your return)|parcel back)"
        ),
        single("returns.drop_off_days"),
    ),
    # refunds
    Rule(
        "refund-time",
        "refund processing time",
        _DAY_UNITS,
        _words(r"\brefund"),
        combine(
            span("refunds.processing_business_days_min", "refunds.processing_business_days_max"),
            span(
                "refunds.processing_business_days_min",
                "refunds.processing_business_days_max",
                plus="refunds.inspection_business_days",
            ),
        ),
    ),
    Rule(
        "return-inspection",
        "return inspection time",
        _DAY_UNITS,
        _words(r"\b(?:inspect|check (?:it|them|the items?|your return)|quality check)"),
        single("refunds.inspection_business_days"),
    ),
    Rule(
        "store-credit-time",
        "store credit time",
        _DAY_UNITS,
        _words(r"\bstore credit"),
        single("refunds.store_credit_business_days"),
    ),
    # delivery times
    Rule(
        "delivery-time",
        "delivery time",
        _DAY_UNITS,
        _words(_DELIVERY),
        combine(
            all_shipping_options("days"),
            span("shipping.processing_business_days_min", "shipping.processing_business_days_max"),
            single("shipping.lost_after_business_days"),
        ),
    ),
    Rule(
        "standard-delivery-time",
        "standard delivery time",
        _DAY_UNITS,
        _words(_STANDARD),
        shipping_option("standard", "days"),
        parent="delivery-time",
    ),
    Rule(
        "express-delivery-time",
        "express delivery time",
        _DAY_UNITS,
        _words(_EXPRESS),
        shipping_option("express", "days"),
        parent="delivery-time",
    ),
    Rule(
        "international-delivery-time",
        "international delivery time",
        _DAY_UNITS,
        _words(_INTERNATIONAL),
        shipping_option("international", "days"),
        parent="delivery-time",
    ),
    Rule(
        "processing-time",
        "time to pack an order",
        _DAY_UNITS,
        _words(r"\b(?:process|pack|prepar|leave|leaves|left|warehouse)"),
        span("shipping.processing_business_days_min", "shipping.processing_business_days_max"),
        parent="delivery-time",
    ),
    Rule(
        "lost-parcel",
        "time before a parcel counts as lost",
        _DAY_UNITS,
        _words(
            r"\b(?:lost|no (?:new )?(?:tracking )?(?:scan|update|movement)|hasn'?t moved"
            r"|not moved|without (?:a |any )?(?:new )?(?:scan|update))"
        ),
        single("shipping.lost_after_business_days"),
        parent="delivery-time",
    ),
    # delivery costs
    Rule(
        "shipping-cost",
        "shipping cost",
        (Unit.MONEY,),
        _words(_DELIVERY + r"|\bpostage|" + _STANDARD + "|" + _EXPRESS + "|" + _INTERNATIONAL),
        combine(
            all_shipping_options("cost"), single("shipping.free_standard_shipping_over", "money")
        ),
    ),
    Rule(
        "standard-shipping-cost",
        "standard shipping cost",
        (Unit.MONEY,),
        _words(_STANDARD),
        shipping_option("standard", "cost"),
        parent="shipping-cost",
    ),
    Rule(
        "express-shipping-cost",
        "express shipping cost",
        (Unit.MONEY,),
        _words(_EXPRESS),
        shipping_option("express", "cost"),
        parent="shipping-cost",
    ),
    Rule(
        "international-shipping-cost",
        "international shipping cost",
        (Unit.MONEY,),
        _words(_INTERNATIONAL),
        shipping_option("international", "cost"),
        parent="shipping-cost",
    ),
    Rule(
        "free-shipping-threshold",
        "free shipping threshold",
        (Unit.MONEY,),
        _words(r"\b(?:free|over|above|more than|or more|spend|at least)\b"),
        single("shipping.free_standard_shipping_over", "money"),
        parent="shipping-cost",
    ),
    Rule(
        "dispatch-cutoff",
        "same-day dispatch cut-off",
        (Unit.CLOCK,),
        _words(r"\b(?:same[- ]day|dispatch|ship|leave|leaves|cut-?off|before)"),
        clock("shipping.same_day_dispatch_cutoff"),
    ),
    # orders
    Rule(
        "cancellation-fee",
        "cancellation fee",
        (Unit.MONEY,),
        _words(r"\bcancel"),
        single("cancellations.fee", "money"),
    ),
    Rule(
        "order-change-cutoff",
        "time to change or cancel an order",
        (Unit.HOURS,),
        _words(r"\b(?:address|chang|edit|cancel|pack|warehouse)"),
        single("address_changes.cutoff_hours_after_payment"),
    ),
    # contact and accounts
    Rule(
        "support-hours",
        "support hours",
        (Unit.CLOCK,),
        _words(
            r"\b(?:support|call|phone|team|open|hours|available|chat|monday|friday"
            r"|weekday|agent|staff)"
        ),
        clock("store.support_hours"),
    ),
    Rule(
        "email-reply-time",
        "email reply time",
        (Unit.BUSINESS_DAYS, Unit.DAYS, Unit.HOURS),
        _words(r"\b(?:email|e-mail|repl|answer|respond|get back to you)"),
        single("store.email_reply_business_days"),
    ),
    Rule(
        "password-reset-link",
        "password reset link lifetime",
        (Unit.HOURS,),
        _words(r"\b(?:link|reset|password)"),
        single("accounts.password_reset_link_valid_hours"),
    ),
    Rule(
        "account-deletion-time",
        "account deletion time",
        (Unit.DAYS,),
        _words(r"\b(?:delet|eras|remov|clos)"),
        single("accounts.deletion_days"),
    ),
)
