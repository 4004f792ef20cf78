"""The Shopify GraphQL Admin API client: one POST per document, paced by Shopify's cost-based
rate limit, retried when Shopify is unavailable, failing with a typed error that says whether
to try again later (`ShopifyUnavailable`) or to fix the request (`ShopifyRejected`).

Library: plain HTTP with `requests` (already a dependency), not the official `ShopifyAPI`
package. ShopifyAPI is built around the REST Admin API and ActiveResource (it pulls in
pyactiveresource, PyJWT, PyYAML and six); its GraphQL support is `shopify.GraphQL().execute`, a
thin urllib call that reads its shop and token from a process-wide session
(`ShopifyResource.activate_session`), returns the raw body as a string, takes no timeout, reads
no `extensions.cost`, does not retry a THROTTLED answer or a 5xx, and prints HTTP errors to
stdout. Everything this module does, it would leave to us anyway, and its global session would
fight the action server's concurrent turns. The GraphQL Admin API itself is one endpoint,
`POST https://<shop>/admin/api/<version>/graphql.json` with the `X-Shopify-Access-Token`
header and a JSON body `{"query", "variables"}`, which `requests` speaks directly.

Retries, in one loop with at most `max_attempts` sends (each wait at most `max_wait` seconds;
a longer one raises `ShopifyUnavailable` with `retry_after`, so a shopper's turn is never held
for minutes):

- before each send, the wait the bucket estimate asks for (bot/platforms/shopify/throttle.py);
- THROTTLED (HTTP 200, `errors[].extensions.code`): the time the bucket needs to refill to the
  requested cost, or the capped backoff when the answer has no cost;
- HTTP 429: its `Retry-After`, else the capped backoff;
- HTTP 5xx, a timeout, a broken connection: bot/domain/backoff.py's backoff.

A mutation is retried only when Shopify certainly did not run it: THROTTLED and 429 (not
run), and a connection that was never made. After a 5xx or a timeout its outcome is unknown
(the cancel may have happened), so it raises `ShopifyUnavailable(outcome_unknown=True)` at
once: the caller must look at the order before saying anything, never send it again blindly.

The named documents and typed wrappers live in bot/platforms/shopify/operations.py. The
client takes plain constructor arguments; bot/platforms/shopify/runtime.py builds it from the
settings for each process (patient in the Rasa server's worker, quick to give up in chat).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from bot.domain.backoff import backoff

from .throttle import CostBucket, QueryCost, read_cost, retry_after_seconds, throttled_wait

logger = logging.getLogger(__name__)

ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"
THROTTLED = "THROTTLED"

#: Backoff after a 5xx, a timeout or a broken connection: 0.5 s doubling to 8 s, +-20 %.
RETRY_FIRST, RETRY_CAP, RETRY_JITTER = 0.5, 8.0, 0.2
#: Backoff after a THROTTLED answer without cost figures, or a 429 without Retry-After.
THROTTLE_FIRST, THROTTLE_CAP = 1.0, 10.0
#: Least wait after THROTTLED even when the figures say the bucket is full enough again.
THROTTLE_FLOOR = 0.5


class ShopifyError(Exception):
    """Anything the Admin API client raises."""


class ShopifyUnavailable(ShopifyError):
    """Shopify could not be reached or did not answer in time, answered 5xx, or kept throttling
    or rate-limiting past the retries: try again later. `retry_after` is the wait Shopify (or
    the bucket) asked for when known. `outcome_unknown` is true when a mutation may or may not
    have been carried out (a 5xx or a timeout after it was sent)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class ShopifyRejected(ShopifyError):
    """Shopify refused the request as it stands: a wrong or revoked token (401), a missing
    access scope (403, or ACCESS_DENIED), a wrong shop or API version (404), a malformed body
    (400), or GraphQL errors (unknown field, wrong variable, query too costly...). Sending it
    again will not help; fixing the request or the app's installation will."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        messages: Sequence[str] = (),
        codes: Sequence[str | None] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.messages = tuple(messages)
        self.codes = tuple(codes)


@dataclass(frozen=True)
class UserError:
    """One of a mutation's `userErrors` (or `orderCancelUserErrors`, ...): the request was
    well formed but Shopify would not do it (order already cancelled, address invalid...)."""

    field: tuple[str, ...]
    message: str
    code: str | None = None


@dataclass(frozen=True)
class MutationOutcome:
    """A mutation's payload (the object under its root field) and its user errors."""

    payload: Mapping[str, Any]
    user_errors: tuple[UserError, ...]

    @property
    def ok(self) -> bool:
        return not self.user_errors


def read_user_errors(raw: Any) -> tuple[UserError, ...]:
    if not isinstance(raw, list):
        return ()
    errors = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        field = item.get("field")
        code = item.get("code")
        errors.append(
            UserError(
                field=tuple(str(part) for part in field) if isinstance(field, list) else (),
                message=str(item.get("message") or ""),
                code=str(code) if code is not None else None,
            )
        )
    return tuple(errors)


_COMMENT = re.compile(r"#[^\n]*")


def is_mutation(document: str) -> bool:
    """Whether a GraphQL document's operation is a mutation (its first keyword)."""
    return _COMMENT.sub("", document).lstrip().startswith("mutation")


def _never_sent(error: requests.RequestException) -> bool:
    """Whether a failed request certainly never reached Shopify: the connection was not made.
    requests wraps urllib3's NewConnectionError (refused, DNS) in MaxRetryError; a connection
    that broke while the answer was awaited (ProtocolError) may have delivered the request."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and error.args:
        reason = error.args[0]
        return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)
    return False


def _graphql_errors(body: Mapping[str, Any]) -> tuple[list[str], list[str | None]]:
    """Messages and codes of a body's `errors`, which Shopify sends as a list of objects for
    GraphQL errors and as a plain string (or an object) for some HTTP errors such as 401."""
    raw = body.get("errors")
    if raw is None:
        return [], []
    if isinstance(raw, str):
        return [raw], [None]
    if isinstance(raw, Mapping):
        return [f"{key}: {value}" for key, value in raw.items()], [None] * len(raw)
    messages: list[str] = []
    codes: list[str | None] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, Mapping):
            messages.append(str(item.get("message") or item))
            extensions = item.get("extensions")
            code = extensions.get("code") if isinstance(extensions, Mapping) else None
            codes.append(str(code) if code is not None else None)
        else:
            messages.append(str(item))
            codes.append(None)
    return messages, codes


def _json_body(response: requests.Response) -> Mapping[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None


class ShopifyAdminClient:
    """A client of one shop's GraphQL Admin API.

    `base_url` is `https://<shop>.myshopify.com/admin/api/<version>` (tests pass the fake's);
    requests go to `<base_url>/graphql.json`. One client per shop, shared by the callers of a
    process: it holds the shop's bucket estimate. `clock` (monotonic seconds) and `sleep` are
    injectable so tests run the waits on a fake clock; `uniform` draws the backoff's jitter.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        max_attempts: int = 5,
        max_wait: float = 30.0,
        jitter: float = RETRY_JITTER,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if not access_token:
            raise ValueError("a Shopify access token is needed")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.endpoint = base_url.rstrip("/") + "/graphql.json"
        self._token = access_token
        self._owns_session = session is None
        self._session = session or requests.Session()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self._jitter = jitter
        self._clock = clock
        self._sleep = sleep
        self._uniform = uniform
        self._lock = threading.Lock()
        self.bucket = CostBucket()
        #: The cost figures of the last answer that had them.
        self.last_cost: QueryCost | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ShopifyAdminClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the calls ------------------------------------------------------------------------------
    def execute(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        expected_cost: float | None = None,
    ) -> dict[str, Any]:
        """Run one GraphQL document and return its `data`.

        Raises ShopifyUnavailable (try later) or ShopifyRejected (fix the request); a
        mutation's userErrors are data, see `mutate`. `expected_cost` overrides the cost the
        pacing assumes before the first answer for this document tells it."""
        mutation = is_mutation(document)
        payload = {"query": document, "variables": dict(variables or {})}
        throttled = server_failures = 0
        last_problem = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            with self._lock:
                now = self._clock()
                cost = expected_cost or self.bucket.expected_cost(document)
                pace = self.bucket.wait_before(cost, now)
                if pace <= self.max_wait:
                    self.bucket.reserve(cost, now + pace)
            if pace:
                self._wait(pace, f"the bucket needs {pace:.2f} s to refill to {cost:g} points")
            try:
                response = self._session.post(
                    self.endpoint,
                    json=payload,
                    headers={ACCESS_TOKEN_HEADER: self._token, "Accept": "application/json"},
                    timeout=self.timeout,
                    # requests drops only `Authorization` when a redirect leaves the host; our
                    # token header would follow it. A redirect means a wrong base URL anyway.
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                last_problem = f"{type(error).__name__}: {error}"
                if mutation and not _never_sent(error):
                    raise ShopifyUnavailable(
                        f"Shopify did not answer a mutation ({last_problem}); it may have run",
                        outcome_unknown=True,
                    ) from error
                server_failures += 1
                self._retry_wait(attempt, self._backoff(server_failures), last_problem)
                continue

            status = response.status_code
            body = _json_body(response)
            if status == 429:
                last_problem = "HTTP 429 Too Many Requests"
                throttled += 1
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is None:
                    wait = backoff(throttled, first=THROTTLE_FIRST, cap=THROTTLE_CAP)
                self._retry_wait(attempt, wait, last_problem, status=status)
                continue
            # A 200 that is not JSON comes from something between us and Shopify (a proxy's
            # error page), not from the API: as unavailable as a 5xx.
            if status >= 500 or (status == 200 and body is None):
                last_problem = f"HTTP {status}" if status != 200 else "HTTP 200 without JSON"
                if mutation:
                    raise ShopifyUnavailable(
                        f"Shopify answered a mutation with {last_problem}; it may have run",
                        status=status,
                        outcome_unknown=True,
                    )
                server_failures += 1
                self._retry_wait(attempt, self._backoff(server_failures), last_problem, status)
                continue
            if status != 200 or body is None:
                messages, codes = _graphql_errors(body or {})
                if not messages:
                    messages = [response.reason or f"HTTP {status}"]
                if 300 <= status < 400:
                    messages.append(f"redirected to {response.headers.get('Location')}")
                raise ShopifyRejected(
                    f"Shopify refused the request: HTTP {status}: {'; '.join(messages)}",
                    status=status,
                    messages=messages,
                    codes=codes,
                )

            cost_seen = read_cost(body)
            with self._lock:
                self.bucket.observe(document, cost_seen, self._clock())
                if cost_seen is not None:
                    self.last_cost = cost_seen
            messages, codes = _graphql_errors(body)
            if THROTTLED in codes:
                throttled += 1
                last_problem = "THROTTLED"
                wait = throttled_wait(
                    cost_seen,
                    throttled,
                    floor=THROTTLE_FLOOR,
                    first=THROTTLE_FIRST,
                    cap=THROTTLE_CAP,
                )
                self._retry_wait(attempt, wait, last_problem, status=status)
                continue
            if messages:
                raise ShopifyRejected(
                    f"Shopify refused the query: {'; '.join(messages)}",
                    status=status,
                    messages=messages,
                    codes=codes,
                )
            data = body.get("data")
            if not isinstance(data, dict):
                raise ShopifyRejected(
                    "Shopify's answer has no data", status=status, messages=["no data"]
                )
            return data
        # Not reached: _retry_wait raises on the last attempt. For the type checker.
        raise ShopifyUnavailable(f"gave up after {self.max_attempts} attempts: {last_problem}")

    def mutate(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        root: str,
        errors_key: str = "userErrors",
    ) -> MutationOutcome:
        """Run a mutation and return its payload (`data[root]`) with the user errors listed
        under `errors_key` (`userErrors`, or e.g. `orderCancelUserErrors`) as data: the
        caller turns them into an honest answer ("that order is already cancelled")."""
        data = self.execute(document, variables)
        payload = data.get(root)
        if not isinstance(payload, Mapping):
            raise ShopifyRejected(
                f"Shopify's answer has no {root!r} payload", status=200, messages=[root]
            )
        return MutationOutcome(payload, read_user_errors(payload.get(errors_key)))

    def paginate(
        self,
        document: str,
        variables: Mapping[str, Any] | None = None,
        *,
        connection: Sequence[str],
        page_size: int = 50,
    ) -> Iterator[dict[str, Any]]:
        """The nodes of a connection query, page after page: the document takes `$first` and
        `$after` and selects `pageInfo {hasNextPage endCursor}` with `nodes` (or
        `edges {node}`) at the path `connection` under `data` (e.g. ("orders",)). Each page
        is one `execute`, paced and retried like any other call."""
        after: str | None = None
        while True:
            page_variables = {**(variables or {}), "first": page_size, "after": after}
            data: Any = self.execute(document, page_variables)
            for key in connection:
                data = data.get(key) if isinstance(data, Mapping) else None
            if not isinstance(data, Mapping):
                raise ShopifyRejected(
                    f"no connection at {'.'.join(connection)} in Shopify's answer",
                    status=200,
                    messages=[".".join(connection)],
                )
            nodes = data.get("nodes")
            if nodes is None:
                nodes = [edge.get("node") for edge in data.get("edges") or []]
            yield from (node for node in nodes if isinstance(node, dict))
            info = data.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return
            if info["endCursor"] == after:  # the same page again would never end
                raise ShopifyRejected(
                    f"the cursor of {'.'.join(connection)} does not advance",
                    status=200,
                    messages=[str(after)],
                )
            after = info["endCursor"]

    # -- waiting --------------------------------------------------------------------------------
    def _backoff(self, failures: int) -> float:
        return backoff(
            failures, first=RETRY_FIRST, cap=RETRY_CAP, jitter=self._jitter, uniform=self._uniform
        )

    def _retry_wait(
        self, attempt: int, wait: float, problem: str, status: int | None = None
    ) -> None:
        """Wait `wait` s before the next attempt, or raise when this was the last one."""
        if attempt >= self.max_attempts:
            raise ShopifyUnavailable(
                f"gave up after {attempt} attempts: {problem}", status=status, retry_after=wait
            )
        logger.info("Shopify: %s; attempt %d again in %.2f s", problem, attempt + 1, wait)
        self._wait(wait, problem, status)

    def _wait(self, seconds: float, why: str, status: int | None = None) -> None:
        if seconds > self.max_wait:
            raise ShopifyUnavailable(
                f"Shopify asks for a wait of {seconds:.1f} s ({why}), more than {self.max_wait} s",
                status=status,
                retry_after=seconds,
            )
        self._sleep(seconds)
