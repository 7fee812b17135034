"""
Process-wide state: ``init``/``shutdown``, the ROS arguments, signals and the participant.

There is one DomainParticipant per process (as rmw_cyclonedds has one per context), created on
first use and reused by every node. Its domain comes from ``ROS_DOMAIN_ID``; discovery is limited
to this host when ``ROS_LOCALHOST_ONLY=1`` or ``ROS_AUTOMATIC_DISCOVERY_RANGE`` is ``LOCALHOST``
(or ``OFF``), using the same Cyclone configuration fragment rmw_cyclonedds generates, placed
*before* any user ``CYCLONEDDS_URI`` so that explicit user settings still win.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable, List, Optional, Sequence

from rep_coach.ros_args import parse_ros_args, RosArgs

from . import logging as ros_logging
from .params import validate_sources


class ExternalShutdownException(Exception):
    """Raised by ``spin`` when the context was shut down from outside (e.g. SIGTERM)."""


def discovery_range() -> str:
    """Return ``SUBNET``, ``LOCALHOST`` or ``OFF`` from the ROS environment variables."""
    if os.environ.get('ROS_LOCALHOST_ONLY', '') == '1':
        return 'LOCALHOST'
    value = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '').strip().upper()
    if value in ('LOCALHOST', 'OFF', 'SUBNET'):
        return value
    return 'SUBNET'


def cyclone_config(range_: str, static_peers: Sequence[str] = (),
                   user_uri: Optional[str] = None) -> Optional[str]:
    """
    Build the Cyclone configuration string for a discovery range (None: Cyclone defaults).

    LOCALHOST: no multicast, unicast discovery towards ``localhost`` with automatic participant
    indices (so several processes on the host find each other's well-known ports). OFF: no
    multicast, no peers and a per-process domain tag so nothing is discovered.
    """
    parts: List[str] = []
    if range_ in ('LOCALHOST', 'OFF') or static_peers:
        xml = '<CycloneDDS><Domain>'
        if range_ in ('LOCALHOST', 'OFF'):
            xml += '<General><AllowMulticast>false</AllowMulticast></General>'
        if range_ == 'OFF':
            xml += ('<Discovery><ParticipantIndex>none</ParticipantIndex>'
                    f'<Tag>ros_discovery_off_{os.getpid()}</Tag>')
        else:
            # 32 as rmw_cyclonedds: bounds unicast discovery traffic to 32 processes per host.
            xml += ('<Discovery><ParticipantIndex>auto</ParticipantIndex>'
                    '<MaxAutoParticipantIndex>32</MaxAutoParticipantIndex>')
            peers = (['localhost'] if range_ == 'LOCALHOST' else []) + list(static_peers)
            if peers:
                xml += '<Peers>' + ''.join(f'<Peer address="{p}"/>' for p in peers) + '</Peers>'
        xml += '</Discovery></Domain></CycloneDDS>'
        parts.append(xml)
    if user_uri:
        parts.append(user_uri)
    return ','.join(parts) if parts else None


class Context:
    """The init/shutdown lifecycle and everything that lives as long as it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._initialized = False
        self._shutdown_reason: Optional[str] = None
        self.args = RosArgs()
        self.domain_id = 0
        self._waker_callbacks: List[Callable[[], None]] = []
        self._old_handlers: dict = {}
        #: Callbacks running now (the executor counts); a signal then waits for them.
        self.callback_depth = 0
        self.pending_signal: Optional[str] = None

    # -- lifecycle ------------------------------------------------------------------------
    def init(self, args: Optional[Sequence[str]] = None, domain_id: Optional[int] = None) -> None:
        """Parse ROS arguments, configure logging, install signal handlers."""
        with self._lock:
            if self.ok():
                raise RuntimeError('Context.init() must only be called once')
            parsed = parse_ros_args(list(sys.argv if args is None else args))
            validate_sources(parsed.param_sources)
            ros_logging.reset()
            ros_logging.configure(parsed.log_level, parsed.logger_levels)
            self.args = parsed
            self.pending_signal = None
            if domain_id is None:
                domain_id = int(os.environ.get('ROS_DOMAIN_ID', '0') or 0)
            self.domain_id = domain_id
            self._shutdown_reason = None
            self._initialized = True
            self._install_signal_handlers()

    def ok(self) -> bool:
        """Return whether the context is initialized and not shut down."""
        return self._initialized and self._shutdown_reason is None

    @property
    def shutdown_reason(self) -> Optional[str]:
        """Return why the context shut down: ``'api'``, ``'SIGINT'``, ``'SIGTERM'`` or None."""
        return self._shutdown_reason

    def shutdown(self, reason: str = 'api') -> None:
        """End the context; raise if not initialized or already ended (as rclpy)."""
        with self._lock:
            if not self.ok():
                raise RuntimeError('failed to shutdown: context is not initialized or was '
                                   'already shut down')
            self._shutdown_reason = reason
            if reason == 'api':
                self._restore_signal_handlers()
        self.wake()

    def try_shutdown(self) -> None:
        """Shut down if not already; never raise for a second call."""
        with self._lock:
            if self.ok():
                self.shutdown()
            else:
                self._restore_signal_handlers()

    # -- executors waiting on us -------------------------------------------------------------
    def add_waker(self, callback: Callable[[], None]) -> None:
        """Register a callback that interrupts an executor's wait (called on shutdown)."""
        self._waker_callbacks.append(callback)

    def remove_waker(self, callback: Callable[[], None]) -> None:
        """Unregister a waker."""
        if callback in self._waker_callbacks:
            self._waker_callbacks.remove(callback)

    def wake(self) -> None:
        """Interrupt every executor's wait."""
        for callback in list(self._waker_callbacks):
            callback()

    # -- signals ------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        # Python only allows handlers from the main thread; elsewhere keep the defaults.
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in ((signal.SIGINT, self._on_sigint),
                                (signal.SIGTERM, self._on_sigterm)):
            if signum not in self._old_handlers:
                self._old_handlers[signum] = signal.signal(signum, handler)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._old_handlers.clear()

    def _on_sigint(self, signum: int, frame: object) -> None:
        self._on_signal('SIGINT')

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self._on_signal('SIGTERM')

    def _on_signal(self, reason: str) -> None:
        # A signal inside a callback takes effect when the callback returns: an interrupt
        # in the middle of, say, a bag flush would leave half-written state behind, and a
        # context shut down under a running callback would fail its next publish (rcl
        # refuses a publish on a shut-down context, and so does the fallback).
        if self.callback_depth:
            self.pending_signal = self.pending_signal or reason
            return
        self._stop_for(reason)

    def _stop_for(self, reason: str) -> None:
        # Like rclpy (Jazzy): the signal shuts the context down, so ok() turns False
        # everywhere.  SIGINT then raises like Python's default handler, which lets
        # "except KeyboardInterrupt" in main() run its cleanup; after SIGTERM, spin raises
        # ExternalShutdownException so the main pattern cleans up and exits 0.
        if self.ok():
            self._shutdown_reason = reason
            self.wake()
        if reason == 'SIGINT':
            raise KeyboardInterrupt

    def apply_pending_signal(self) -> None:
        """Act on a signal that arrived during a callback (call when callbacks return)."""
        if self.pending_signal and not self.callback_depth:
            reason, self.pending_signal = self.pending_signal, None
            self._stop_for(reason)


_default_context = Context()


def get_default_context() -> Context:
    """Return the process-wide context."""
    return _default_context
