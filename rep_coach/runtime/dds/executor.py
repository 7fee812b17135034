"""
A single-threaded executor over a Cyclone WaitSet.

Subscriptions are ReadConditions and timers are monotonic deadlines; everything ready is queued
and run one callback at a time on the thread that calls ``spin``/``spin_once``, so callbacks never
run concurrently.  Every wake-up takes all the samples waiting (up to a batch per reader) and
queues them before waiting again.  The path from one wake-up to the next is kept short, because
at 100 Hz it runs 100 times a second in every IMU consumer: the list of readers and timers is
rebuilt only when a node, subscription or timer comes or goes, and the wake-up guard condition
is reset only when something set it.

A callback that raises is logged at ERROR with the node name and spinning continues: rclpy
would propagate the exception and end ``spin``, but a coaching node that dies on one malformed
sample is worse than one that reports it; ``KeyboardInterrupt`` and other ``BaseException``s
still propagate.
"""

from __future__ import annotations

from collections import deque
import threading
import time
import traceback
from typing import Any, Deque, List, Optional, Tuple

from cyclonedds.core import GuardCondition, WaitSet

from .context import Context, ExternalShutdownException, get_default_context
from .participant import get_participant

# Longest single wait. Python runs signal handlers only between bytecodes, so a wait inside the
# Cyclone C library must return periodically for SIGINT/SIGTERM to be handled promptly.
_MAX_WAIT_NS = 100_000_000
# Samples taken from one reader per round, so one busy topic cannot starve timers or others.
_TAKE_BATCH = 32


class ShutdownException(Exception):
    """Raised by ``spin_once`` on an executor that was shut down."""


class Executor:
    """Runs the callbacks of the nodes added to it."""

    def __init__(self, *, context: Optional[Context] = None) -> None:
        self._context = context or get_default_context()
        self._nodes: List[Any] = []
        self._ready: Deque[Tuple[str, Any, Any]] = deque()
        self._lock = threading.RLock()
        self._is_shutdown = False
        self._waitset: Optional[WaitSet] = None
        self._guard: Optional[GuardCondition] = None
        self._attached: dict = {}
        # What _collect walks: rebuilt by _sync_attachments when entities_changed() said so.
        self._timers: List[Tuple[Any, Any]] = []
        self._subscriptions: List[Tuple[Any, Any]] = []
        self._entities_dirty = True
        self._guard_set = False
        self._context.add_waker(self.wake)

    @property
    def context(self) -> Context:
        """Return the context."""
        return self._context

    def add_node(self, node: Any) -> bool:
        """Add a node; return False if it was already added."""
        with self._lock:
            if node in self._nodes:
                return False
            self._nodes.append(node)
            node._executor = self
        self.entities_changed()
        return True

    def remove_node(self, node: Any) -> None:
        """Remove a node (pending callbacks of it are dropped)."""
        with self._lock:
            if node in self._nodes:
                self._nodes.remove(node)
                node._executor = None
                for subscription in node._subscriptions:
                    self._forget_subscription(subscription)
                self._ready = deque(item for item in self._ready if item[2] is not node)
                self._entities_dirty = True

    def get_nodes(self) -> List[Any]:
        """Return the nodes."""
        return list(self._nodes)

    def wake(self) -> None:
        """Interrupt a wait in progress (thread-safe)."""
        if self._guard is not None:
            # Set before the flag: the waiting thread resets the guard only after seeing the
            # flag, so a wake-up can cost an extra loop but is never lost.
            self._guard.set(True)
            self._guard_set = True

    def entities_changed(self) -> None:
        """Note that a node's subscriptions or timers changed, and wake the wait (thread-safe)."""
        self._entities_dirty = True
        self.wake()

    def shutdown(self, timeout_sec: Optional[float] = None) -> bool:
        """Stop spinning and detach every node."""
        self._is_shutdown = True
        for node in list(self._nodes):
            self.remove_node(node)
        self.wake()
        self._context.remove_waker(self.wake)
        return True

    # -- spinning -----------------------------------------------------------------------------
    def spin(self) -> None:
        """Run callbacks until the context or the executor shuts down."""
        while self._context.ok() and not self._is_shutdown:
            self.spin_once()
        self._raise_if_external_shutdown()

    def spin_once(self, timeout_sec: Optional[float] = None) -> None:
        """Run at most one ready callback, waiting up to ``timeout_sec`` (None: forever)."""
        if self._is_shutdown:
            raise ShutdownException('executor was shut down')
        self._raise_if_external_shutdown()
        item = self._next_ready(timeout_sec)
        if item is not None:
            self._run(item)

    def spin_until_future_complete(self, future: Any, timeout_sec: Optional[float] = None
                                   ) -> None:
        """Spin until ``future.done()`` (or the timeout)."""
        deadline = None if timeout_sec is None else time.monotonic() + timeout_sec
        while self._context.ok() and not future.done():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            self.spin_once(timeout_sec=min(remaining, 0.1) if remaining is not None else 0.1)

    def _raise_if_external_shutdown(self) -> None:
        if self._context.shutdown_reason == 'SIGTERM':
            raise ExternalShutdownException()

    # -- internals ----------------------------------------------------------------------------
    def _ensure_waitset(self) -> WaitSet:
        if self._waitset is None:
            participant = get_participant(self._context.domain_id)
            self._waitset = WaitSet(participant.dp)
            self._guard = GuardCondition(participant.dp)
            self._waitset.attach(self._guard)
        return self._waitset

    def _sync_attachments(self, waitset: WaitSet) -> None:
        self._entities_dirty = False
        wanted = {id(s): s for node in self._nodes for s in node._subscriptions}
        for key in list(self._attached):
            if key not in wanted:
                self._forget_subscription(self._attached[key])
        for key, subscription in wanted.items():
            if key not in self._attached:
                waitset.attach(subscription.condition)
                self._attached[key] = subscription
        self._timers = [(t, node) for node in self._nodes for t in node._timers]
        self._subscriptions = [(s, node) for node in self._nodes for s in node._subscriptions]

    def _forget_subscription(self, subscription: Any) -> None:
        if self._attached.pop(id(subscription), None) is not None and self._waitset is not None:
            self._waitset.detach(subscription.condition)

    def _collect(self) -> Optional[int]:
        """Queue due timers and received samples; return ns until the next timer."""
        now = time.monotonic_ns()
        next_due: Optional[int] = None
        ready = self._ready
        for timer, node in self._timers:
            if timer._canceled:
                continue
            if now >= timer._next_call_ns:
                timer._advance(now)
                ready.append(('timer', timer, node))
            wait = timer._next_call_ns - now
            next_due = wait if next_due is None or wait < next_due else next_due
        for subscription, node in self._subscriptions:
            # A read condition is one cheap check; a take on an empty reader is not,
            # and every wake-up would pay it for every subscription of every node.
            if not subscription.has_data():
                continue
            for msg in subscription.take(_TAKE_BATCH):
                ready.append(('subscription', (subscription, msg), node))
        return next_due

    def _next_ready(self, timeout_sec: Optional[float]) -> Optional[Tuple[str, Any, Any]]:
        deadline = None
        if timeout_sec is not None and timeout_sec >= 0:
            deadline = time.monotonic_ns() + int(timeout_sec * 1e9)
        waitset = self._ensure_waitset()
        while True:
            # As rclpy's executor: nothing is dispatched once the context is shut down (a
            # signal), not even what was ready before; the node's callbacks would publish
            # into a dead context.
            if not self._context.ok() or self._is_shutdown:
                return None
            if self._ready:
                return self._ready.popleft()
            if self._entities_dirty:
                with self._lock:
                    self._sync_attachments(waitset)
            next_timer = self._collect()
            if self._ready:
                return self._ready.popleft()
            wait = _MAX_WAIT_NS if next_timer is None else min(_MAX_WAIT_NS, max(next_timer, 0))
            if deadline is not None:
                remaining = deadline - time.monotonic_ns()
                if remaining <= 0:
                    return None
                wait = min(wait, remaining)
            waitset.wait(wait)
            if self._guard_set:
                self._guard_set = False
                self._guard.take()

    def _run(self, item: Tuple[str, Any, Any]) -> None:
        self._context.callback_depth += 1
        try:
            # A signal that came after this callback was picked, before the count above
            # held signals back, has shut the context down: the callback would fail its
            # first publish (a traceback in a clean SIGTERM stop, seen in CI in sessions
            # 15 and 17), so it does not run, as no callback runs after a shutdown.
            if self._context.ok():
                self._run_callback(item)
        finally:
            self._context.callback_depth -= 1
        self._context.apply_pending_signal()

    def _run_callback(self, item: Tuple[str, Any, Any]) -> None:
        kind, payload, node = item
        try:
            if kind == 'timer':
                payload.callback()
            else:
                subscription, msg = payload
                subscription.callback(msg)
        except Exception as exc:  # noqa: B902 - deliberately keep spinning, see module doc
            where = 'timer' if kind == 'timer' else f'subscription on {payload[0].topic_name}'
            node.get_logger().error(
                f'{kind} callback of node {node.get_fully_qualified_name()} ({where}) raised '
                f'{type(exc).__name__}: {exc}\n{traceback.format_exc().rstrip()}')


class SingleThreadedExecutor(Executor):
    """The executor ``rclpy.spin`` uses: one thread, callbacks in arrival order."""
