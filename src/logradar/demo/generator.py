"""Logs of a small online shop: five services, realistic templates and rates, and incidents.

:class:`DemoSystem` simulates ``api-gateway``, ``auth``, ``payments``, ``inventory`` and
``db``. Requests arrive as a Poisson process whose rate drifts mildly; each request becomes a
flow of lines across services that share its ``request_id`` (gateway in, token check, the
service, its SQL, gateway out). Background lines (health checks, pool and cache stats,
checkpoints) run beside. Levels are mostly INFO, some WARN and a few ERROR, as in any healthy
system. Lines look like ``2026-11-25T13:01:02.123Z INFO [payments] charge created txn=...``.

Lines are generated in fixed ticks from one seeded ``numpy`` generator, so they are a pure
function of the seed, the start time and when incidents were injected, not of how often
:meth:`DemoSystem.advance` is called. No I/O.

>>> system = DemoSystem(seed=1, start_ns=0)
>>> lines = system.advance(2 * 10**9)
>>> len(lines) > 200, {line.stream for line in lines} == set(STREAMS)
(True, True)
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

STREAMS = ("api-gateway", "auth", "payments", "inventory", "db")
INCIDENTS = ("db_outage",)
"""Incidents :meth:`DemoSystem.inject` knows."""

#: The never-seen ERROR message ``payments`` logs in the ``db_outage`` incident.
OUTAGE_MESSAGE = "Connection to db-primary:5432 refused (pool exhausted, 50/50 in use) txn={txn}"
NS = 1_000_000_000

_LINES_PER_REQUEST = 5.05
"""Average lines one request produces (measured); sets the request rate for a line rate."""
_BACKGROUND_PER_SECOND = 9.5
"""Lines per second that do not belong to a request."""

_WAREHOUSES = ("ams", "fra", "dub")
_PROVIDERS = ("stripe", "adyen")
_CURRENCIES = ("EUR", "USD", "GBP")
_SCOPES = ("read", "write", "checkout")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One generated line: its stream, event time (ns since the epoch) and full text."""

    stream: str
    ts_ns: int
    text: str


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}"


def header(ts_ns: int, level: str, stream: str) -> str:
    """``2026-11-25T13:01:02.123Z INFO [stream]``."""
    ms = ts_ns // 1_000_000
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z {level} [{stream}]"


def novel_error_lines(pattern: int, count: int, ts_ns: int, stream: str = "payments") -> list[str]:
    """``count`` lines of a new error pattern, number ``pattern``, unlike any other pattern.

    Each pattern has its own made-up words and its own token count (18 + ``pattern``), so a
    template miner can merge it neither with the normal lines nor with another pattern.
    """
    words = []
    for i in range(14 + pattern):
        digest = hashlib.blake2b(f"{pattern}:{i}".encode(), digest_size=8).digest()
        words.append("".join(chr(97 + b % 26) for b in digest))
    text = " ".join(words)
    head = header(ts_ns, "ERROR", stream)
    return [f"{head} {text} txn={pattern:03d}{i:08x}" for i in range(count)]


class DemoSystem:
    """The simulated shop; see the module docstring.

    ``rate`` is the average total lines per second; ``tick_seconds`` the generation step.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        rate: float = 200.0,
        start_ns: int = 0,
        tick_seconds: float = 0.1,
    ) -> None:
        if rate <= _BACKGROUND_PER_SECOND:
            raise ValueError(f"rate must exceed {_BACKGROUND_PER_SECOND} lines/s, got {rate}")
        self.rng = np.random.default_rng(seed)
        self.request_rate = (rate - _BACKGROUND_PER_SECOND) / _LINES_PER_REQUEST
        self.tick_ns = int(tick_seconds * NS)
        self.start_ns = start_ns
        self.now_ns = start_ns
        """Start of the next tick to generate."""
        self.incidents: dict[str, tuple[int, int | None]] = {}
        """Injected incident -> event times it starts and ends (None: still going)."""
        self._phase = float(self.rng.uniform(0, 2 * math.pi))
        self._pending: list[tuple[int, int, str, str]] = []
        self._seq = 0

    # Public API ---------------------------------------------------------------------------
    def inject(self, incident: str, at_ns: int | None = None) -> int:
        """Start ``incident`` at ``at_ns`` (default: the next tick); return when it starts.

        ``db_outage``: ``db`` goes quiet, checkouts fail in ``payments`` with a never-seen
        error (:data:`OUTAGE_MESSAGE`), payment retries spike and the gateway answers 503.
        """
        if incident not in INCIDENTS:
            raise ValueError(f"unknown incident {incident!r}: use one of {', '.join(INCIDENTS)}")
        start = max(self.now_ns, at_ns if at_ns is not None else self.now_ns)
        self.incidents[incident] = (start, None)
        return start

    def recover(self, incident: str, at_ns: int | None = None) -> int:
        """End the injected ``incident`` at ``at_ns`` (default: the next tick); return when."""
        if incident not in self.incidents:
            raise ValueError(f"{incident!r} was not injected")
        start, _ = self.incidents[incident]
        end = max(self.now_ns, start, at_ns if at_ns is not None else self.now_ns)
        self.incidents[incident] = (start, end)
        return end

    def advance(self, until_ns: int) -> list[LogLine]:
        """Every line with event time before ``until_ns`` not returned yet, in time order."""
        while self.now_ns < until_ns:
            self._tick(self.now_ns)
            self.now_ns += self.tick_ns
        out = []
        while self._pending and self._pending[0][0] < until_ns:
            ts, _, stream, text = heapq.heappop(self._pending)
            out.append(LogLine(stream, ts, text))
        return out

    # Generation ---------------------------------------------------------------------------
    def _active(self, incident: str, ts: int) -> bool:
        span = self.incidents.get(incident)
        return span is not None and span[0] <= ts and (span[1] is None or ts < span[1])

    def _emit(self, ts: int, level: str, stream: str, text: str) -> None:
        if stream == "db" and self._active("db_outage", ts):
            return
        self._seq += 1
        heapq.heappush(
            self._pending, (ts, self._seq, stream, f"{header(ts, level, stream)} {text}")
        )

    def _tick(self, t0: int) -> None:
        rng = self.rng
        seconds = (t0 - self.start_ns) / NS
        drift = 1.0 + 0.08 * math.sin(2 * math.pi * seconds / 90.0 + self._phase)
        dt = self.tick_ns / NS
        for _ in range(rng.poisson(self.request_rate * dt * drift)):
            self._request(t0 + int(rng.integers(0, self.tick_ns)))
        for rate, make in self._background:
            for _ in range(rng.poisson(rate * dt)):
                make(self, t0 + int(rng.integers(0, self.tick_ns)))

    def _request(self, ts: int) -> None:
        rng = self.rng
        rid = f"{int(rng.integers(0, 2**62)):016x}"
        ip = self._ip()
        kind = rng.choice(len(_FLOWS), p=_FLOW_WEIGHTS)
        method, path, flow = _FLOWS[kind]
        path = path.format(
            sku=f"SKU-{int(rng.integers(1000, 99999))}", order=int(rng.integers(10**5, 10**6))
        )
        self._emit(
            ts, "INFO", "api-gateway", f"request_id={rid} method={method} path={path} client={ip}"
        )
        t = ts + int(rng.integers(1, 4) * 1_000_000)
        user = f"u{int(rng.integers(1, 50_000))}"
        if flow != "login":
            if rng.random() < 0.02:
                self._emit(t, "WARN", "auth", f"token expired user={user} request_id={rid}")
                self._respond(t, rid, 401, _AUTH_ADDRESS)
                return
            scope = _SCOPES[int(rng.integers(0, 3))]
            self._emit(
                t, "INFO", "auth", f"token validated user={user} scope={scope} request_id={rid}"
            )
            t += int(rng.integers(1, 3) * 1_000_000)
        status, t = getattr(self, f"_flow_{flow}")(t, rid, user, ip)
        self._respond(t, rid, status, _UPSTREAM[flow])

    def _respond(self, ts: int, rid: str, status: int, upstream: str) -> None:
        """The gateway's answer line (``upstream`` is the address it forwarded to)."""
        rng = self.rng
        latency = max(1, int(rng.lognormal(3.2, 0.6)))
        size = int(rng.integers(120, 48_000))
        ts += latency * 1_000_000
        if status < 500 and rng.random() < 0.02:
            status, latency = 504, 3000
        if status >= 500:
            self._emit(
                ts,
                "ERROR",
                "api-gateway",
                f"request_id={rid} upstream={upstream} error status={status} latency_ms={latency}",
            )
        else:
            self._emit(
                ts,
                "INFO",
                "api-gateway",
                f"request_id={rid} status={status} latency_ms={latency} bytes={size}",
            )
            if latency > 80:
                self._emit(
                    ts,
                    "WARN",
                    "api-gateway",
                    f"request_id={rid} slow response latency_ms={latency} threshold_ms=80",
                )

    # Flows: each returns (status, time of its last line) -----------------------------------
    def _sql(self, ts: int, table: str, rows: int | None = None) -> int:
        rng = self.rng
        duration = round(float(rng.lognormal(0.8, 0.7)), 2)
        rows = int(rng.integers(0, 40)) if rows is None else rows
        conn = f"pg-{int(rng.integers(1, 21))}"
        if duration > 10:
            self._emit(
                ts,
                "WARN",
                "db",
                f"slow query duration_ms={duration} conn={conn} plan=seq_scan",
            )
        else:
            self._emit(
                ts,
                "INFO",
                "db",
                f"query ok duration_ms={duration} table={table} rows={rows} conn={conn}",
            )
        return ts + int(duration * 1_000_000) + 200_000

    def _flow_browse(self, t: int, rid: str, user: str, ip: str) -> tuple[int, int]:
        rng = self.rng
        sku = f"SKU-{int(rng.integers(1000, 99999))}"
        available = int(rng.integers(0, 400))
        cache = "hit" if rng.random() < 0.8 else "miss"
        if cache == "miss":
            t = self._sql(t, "products", 1)
        self._emit(
            t,
            "INFO",
            "inventory",
            f"stock lookup sku={sku} available={available} cache={cache} request_id={rid}",
        )
        if available < 10:
            self._emit(
                t, "WARN", "inventory", f"low stock sku={sku} available={available} threshold=10"
            )
        return (404 if rng.random() < 0.03 else 200), t

    def _flow_cart(self, t: int, rid: str, user: str, ip: str) -> tuple[int, int]:
        rng = self.rng
        sku = f"SKU-{int(rng.integers(1000, 99999))}"
        qty = int(rng.integers(1, 5))
        t = self._sql(t, "stock", 1)
        if rng.random() < 0.05:
            self._emit(
                t,
                "WARN",
                "inventory",
                f"reservation conflict sku={sku} request_id={rid} retry=false",
            )
            return 409, t
        wh = _WAREHOUSES[int(rng.integers(0, 3))]
        self._emit(
            t,
            "INFO",
            "inventory",
            f"stock reserved sku={sku} qty={qty} warehouse={wh} request_id={rid}",
        )
        t = self._sql(t, "order_items", 1)
        return 201, t

    def _flow_checkout(self, t: int, rid: str, user: str, ip: str) -> tuple[int, int]:
        rng = self.rng
        txn = f"tx_{int(rng.integers(0, 2**40)):010x}"
        if self._active("db_outage", t):
            attempts = int(rng.integers(1, 4))
            for attempt in range(1, attempts + 1):
                t += int(rng.integers(20, 80)) * 1_000_000
                self._emit(
                    t,
                    "WARN",
                    "payments",
                    f"retrying charge txn={txn} attempt={attempt} reason=provider_timeout",
                )
            self._emit(t, "ERROR", "payments", OUTAGE_MESSAGE.format(txn=txn))
            return 503, t
        amount = f"{float(rng.lognormal(3.5, 0.9)):.2f}"
        cur = _CURRENCIES[int(rng.integers(0, 3))]
        t = self._sql(t, "orders", 1)
        self._emit(
            t,
            "INFO",
            "payments",
            f"charge created txn={txn} user={user} amount={amount} currency={cur} request_id={rid}",
        )
        provider = _PROVIDERS[int(rng.integers(0, 2))]
        latency = int(rng.lognormal(4.6, 0.5))
        if rng.random() < 0.1:
            t += latency * 1_000_000
            self._emit(
                t,
                "WARN",
                "payments",
                f"retrying charge txn={txn} attempt=1 reason=provider_timeout",
            )
        t += latency * 1_000_000
        if rng.random() < 0.08:
            code = ("05", "51", "54")[int(rng.integers(0, 3))]
            self._emit(t, "WARN", "payments", f"card declined txn={txn} code={code}")
            return 402, t
        self._emit(
            t,
            "INFO",
            "payments",
            f"charge captured txn={txn} provider={provider} latency_ms={latency}",
        )
        if latency > 200:
            self._emit(
                t,
                "WARN",
                "payments",
                f"slow provider response latency_ms={latency} txn={txn}",
            )
        t = self._sql(t, "payments", 1)
        return 201, t

    def _flow_refund(self, t: int, rid: str, user: str, ip: str) -> tuple[int, int]:
        rng = self.rng
        txn = f"tx_{int(rng.integers(0, 2**40)):010x}"
        amount = f"{float(rng.lognormal(3.0, 0.8)):.2f}"
        t = self._sql(t, "payments", 1)
        self._emit(
            t, "INFO", "payments", f"refund issued txn={txn} amount={amount} request_id={rid}"
        )
        return 200, t

    def _flow_login(self, t: int, rid: str, user: str, ip: str) -> tuple[int, int]:
        rng = self.rng
        t = self._sql(t, "users", 1)
        if rng.random() < 0.08:
            attempts = int(rng.integers(1, 6))
            self._emit(
                t,
                "WARN",
                "auth",
                f"login failed user={user} ip={ip} reason=bad_password attempts={attempts}",
            )
            return 401, t
        mfa = "true" if rng.random() < 0.4 else "false"
        self._emit(
            t, "INFO", "auth", f"login succeeded user={user} ip={ip} mfa={mfa} request_id={rid}"
        )
        t = self._sql(t, "sessions", 1)
        return 200, t

    # Background -----------------------------------------------------------------------------
    def _ip(self) -> str:
        a, b, c = (int(x) for x in self.rng.integers(1, 255, 3))
        return (
            f"10.{a}.{b}.{c}"
            if self.rng.random() < 0.3
            else f"{a}.{b}.{c}.{int(self.rng.integers(1, 255))}"
        )

    def _bg_health(self, ts: int) -> None:
        up = 3 if self._active("db_outage", ts) else 4
        self._emit(ts, "INFO", "api-gateway", f"health check upstreams={up}/4 ok")

    def _bg_rate_limit(self, ts: int) -> None:
        self._emit(
            ts, "WARN", "api-gateway", f"rate limit exceeded client={self._ip()} limit=100/min"
        )

    def _bg_session_refresh(self, ts: int) -> None:
        user = f"u{int(self.rng.integers(1, 50_000))}"
        self._emit(ts, "INFO", "auth", f"session refreshed user={user} ttl=3600s")

    def _bg_ldap(self, ts: int) -> None:
        server = f"ldap-{int(self.rng.integers(1, 3))}.internal"
        self._emit(ts, "ERROR", "auth", f"LDAP bind timeout after 5000 ms server={server}")

    def _bg_webhook(self, ts: int) -> None:
        hook = f"wh_{int(self.rng.integers(0, 2**32)):08x}"
        self._emit(
            ts,
            "ERROR",
            "payments",
            f"webhook delivery failed id={hook} status=500 retry_in_s=30",
        )

    def _bg_pool(self, ts: int) -> None:
        rng = self.rng
        active, wait = int(rng.integers(3, 18)), int(rng.integers(0, 4))
        self._emit(
            ts,
            "INFO",
            "payments",
            f"db pool stats active={active}/50 idle={50 - active} wait_ms={wait}",
        )

    def _bg_cache(self, ts: int) -> None:
        rng = self.rng
        hits, misses = int(rng.integers(800, 1200)), int(rng.integers(100, 300))
        self._emit(
            ts,
            "INFO",
            "inventory",
            f"cache stats hits={hits} misses={misses} hit_ratio={hits / (hits + misses):.3f}",
        )

    def _bg_replenish(self, ts: int) -> None:
        rng = self.rng
        sku = f"SKU-{int(rng.integers(1000, 99999))}"
        supplier = f"SUP-{int(rng.integers(100, 140))}"
        qty = int(rng.integers(50, 500))
        self._emit(
            ts,
            "INFO",
            "inventory",
            f"replenishment order placed sku={sku} qty={qty} supplier={supplier}",
        )

    def _bg_checkpoint(self, ts: int) -> None:
        rng = self.rng
        buffers = int(rng.integers(200, 5000))
        self._emit(
            ts,
            "INFO",
            "db",
            f"checkpoint complete wrote={buffers} buffers pct={buffers / 163.84:.1f} "
            f"seconds={float(rng.uniform(0.1, 3)):.3f}",
        )

    def _bg_autovacuum(self, ts: int) -> None:
        rng = self.rng
        oid = 16384 + int(rng.integers(0, 40))
        removed, remain = int(rng.integers(0, 9000)), int(rng.integers(1000, 10**6))
        self._emit(
            ts,
            "INFO",
            "db",
            f"automatic vacuum relid={oid} removed={removed} remain={remain}",
        )

    def _bg_deadlock(self, ts: int) -> None:
        rng = self.rng
        pid, oid = int(rng.integers(1000, 60000)), 16384 + int(rng.integers(0, 40))
        self._emit(
            ts,
            "ERROR",
            "db",
            f"deadlock detected pid={pid} relid={oid} action=rollback",
        )

    def _bg_replication(self, ts: int) -> None:
        lag = int(self.rng.lognormal(3.0, 0.8))
        level = "WARN" if lag > 50 else "INFO"
        self._emit(ts, level, "db", f"replication status replica=db-replica-1 lag_ms={lag}")

    _background: tuple[tuple[float, Callable[[DemoSystem, int], None]], ...] = (
        (1.0, _bg_health),
        (0.5, _bg_rate_limit),
        (1.0, _bg_session_refresh),
        (0.5, _bg_ldap),
        (0.5, _bg_webhook),
        (1.0, _bg_pool),
        (1.0, _bg_cache),
        (0.5, _bg_replenish),
        (0.5, _bg_checkpoint),
        (1.0, _bg_autovacuum),
        (0.5, _bg_deadlock),
        (2.0, _bg_replication),
    )


_FLOWS = (
    ("GET", "/api/v1/products/{sku}", "browse"),
    ("POST", "/api/v1/cart/items", "cart"),
    ("POST", "/api/v1/checkout", "checkout"),
    ("POST", "/api/v1/orders/{order}/refund", "refund"),
    ("POST", "/api/v1/login", "login"),
)
_AUTH_ADDRESS = "10.0.3.7:9000"
_UPSTREAM = {
    "browse": "10.0.4.21:8080",
    "cart": "10.0.4.21:8080",
    "checkout": "10.0.5.13:8443",
    "refund": "10.0.5.13:8443",
    "login": _AUTH_ADDRESS,
}
"""Address of the service behind each flow, as the gateway logs it."""
_FLOW_WEIGHTS = np.array([0.55, 0.2, 0.12, 0.03, 0.1])
