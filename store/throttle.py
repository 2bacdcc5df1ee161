"""Password log-in throttling (issue 14): failures per account and per client, with exponential
backoff, and a cap on concurrent Argon2 checks. In memory, per process (the app is one process:
DuckDB's single writer); a restart forgets the counters, which is acceptable for a backoff.

- ``Backoff``: after ``free`` failures of one key within ``window`` seconds, the key waits
  ``base * 2**(failures - free)`` seconds (at most ``cap``) after its last failure before its next
  attempt. A success resets an account (``reset``); a client is forgiven that one attempt
  (``forgive``). At most ``max_keys`` keys are kept (the least recently failed go first).
- ``LoginGuard.enter``: refuses a throttled account or client (``LoginThrottled``, 429), counts
  the attempt as a failure *before* the password is checked (so parallel requests cannot slip
  past the limit), then waits for one of ``concurrency`` Argon2 slots; beyond ``queue`` waiting
  requests, or after ``queue_wait`` seconds, ``LoginBusy`` (503). ``leave`` frees the slot and
  settles the counters.

Nothing here imports the web framework: auth.py maps the two exceptions to responses."""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

ACCOUNT_FREE = 5  # failures of one account before it waits
CLIENT_FREE = 20  # failures of one client address (an office behind one NAT tries several accounts)
BACKOFF_BASE = 30.0  # seconds, doubled at each further failure
BACKOFF_CAP = 15 * 60.0
WINDOW = 15 * 60.0  # a key quiet this long (after its wait) starts again from zero
MAX_KEYS = 50_000
CONCURRENCY = 2  # Argon2 checks at once (each takes 64 MiB and about 0.1-0.3 s of CPU)
QUEUE = 4  # log-ins waiting for a slot; more are answered "busy" at once
QUEUE_WAIT = 10.0  # seconds a log-in waits for a slot at most


class LoginRefused(Exception):
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class LoginThrottled(LoginRefused):
    """Too many failed log-ins for this account or from this client: wait ``retry_after`` s."""

    status = 429


class LoginBusy(LoginRefused):
    """Too many log-ins are being checked right now."""

    status = 503


@dataclass
class _Entry:
    failures: int = 0
    last: float = 0.0  # time of the last failure
    until: float = 0.0  # no attempt before this time


class Backoff:
    def __init__(self, free: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP, window: float = WINDOW,
                 max_keys: int = MAX_KEYS, clock: Callable[[], float] = time.monotonic):
        self.free, self.base, self.cap, self.window, self.max_keys = free, base, cap, window, max_keys
        self.clock = clock
        self._items: OrderedDict[str, _Entry] = OrderedDict()

    # callers hold LoginGuard's lock; a Backoff alone is not thread-safe
    def wait(self, key: str) -> float:
        """Seconds before ``key`` may try again (0: now)."""
        e = self._items.get(key)
        if e is None:
            return 0.0
        t = self.clock()
        if e.until <= t and t - max(e.last, e.until) > self.window:
            del self._items[key]
            return 0.0
        return max(0.0, e.until - t)

    def _lock_for(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap, self.base * math.pow(2, min(failures - self.free, 32)))

    def fail(self, key: str) -> None:
        t = self.clock()
        e = self._items.pop(key, None) or _Entry()
        if e.failures and e.until <= t and t - max(e.last, e.until) > self.window:
            e = _Entry()
        e.failures += 1
        e.last = t
        e.until = t + self._lock_for(e.failures)
        self._items[key] = e  # the most recent at the end
        while len(self._items) > self.max_keys:
            self._items.popitem(last=False)

    def forgive(self, key: str) -> None:
        """Undo one ``fail`` (an attempt that turned out right, or was never checked)."""
        e = self._items.get(key)
        if e is None:
            return
        e.failures -= 1
        if e.failures <= 0:
            del self._items[key]
            return
        e.until = e.last + self._lock_for(e.failures) if e.failures >= self.free else 0.0

    def reset(self, key: str) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Ticket:
    account: str
    client: str


class LoginGuard:
    def __init__(self, account_free: int = ACCOUNT_FREE, client_free: int = CLIENT_FREE,
                 concurrency: int = CONCURRENCY, queue: int = QUEUE, queue_wait: float = QUEUE_WAIT,
                 base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic):
        self.accounts = Backoff(account_free, base, cap, window, clock=clock)
        self.clients = Backoff(client_free, base, cap, window, clock=clock)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency)
        self.concurrency, self.queue, self.queue_wait = concurrency, queue, queue_wait
        self._inside = 0  # checking or waiting for a slot

    def enter(self, account: str, client: str) -> Ticket:
        """Count one attempt and take an Argon2 slot, or raise LoginThrottled / LoginBusy."""
        account = account.strip().lower()[:128]
        with self._lock:
            wait = max(self.accounts.wait(account), self.clients.wait(client))
            if wait > 0:
                raise LoginThrottled(f"Too many failed log-ins; try again in {_human(wait)}.", math.ceil(wait))
            if self._inside >= self.concurrency + self.queue:
                raise LoginBusy("The server is busy checking other log-ins; try again in a moment.", 2)
            self.accounts.fail(account)
            self.clients.fail(client)
            self._inside += 1
        ticket = Ticket(account, client)
        if not self._slots.acquire(timeout=self.queue_wait):
            with self._lock:
                self._inside -= 1
                self.accounts.forgive(account)
                self.clients.forgive(client)
            raise LoginBusy("The server is busy checking other log-ins; try again in a moment.", 2)
        return ticket

    def leave(self, ticket: Ticket, ok: bool) -> None:
        """Free the slot; a right password resets the account and forgives the client this attempt."""
        self._slots.release()
        with self._lock:
            self._inside -= 1
            if ok:
                self.accounts.reset(ticket.account)
                self.clients.forgive(ticket.client)


def _human(seconds: float) -> str:
    s = math.ceil(seconds)
    if s < 90:
        return f"{s} seconds"
    return f"{math.ceil(s / 60)} minutes"
