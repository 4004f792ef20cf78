"""Exceptions `bot.store` raises on purpose."""

from __future__ import annotations

from collections.abc import Iterable


class StoreError(Exception):
    """Base class of the store's own errors."""


class StoreExportError(StoreError):
    """A store export could not be loaded; `problems` lists every problem found, in order."""

    def __init__(self, problems: Iterable[str], *, source: str = "store export") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(f"{source} has {count} problem{'s' if count != 1 else ''}:\n{listing}")


class UnknownCustomerError(StoreError, LookupError):
    def __init__(self, customer_id: int) -> None:
        self.customer_id = customer_id
        super().__init__(f"no customer with id {customer_id}")


class StoreUnavailableError(StoreError):
    """The shop's own system (e.g. Shopify) could not be asked, so the current state of what was
    asked about is not known. Nothing is known to have changed; the shopper is told so."""
