"""
Console logging in the rcutils format: ``[INFO] [1700000000.123456789] [ns.node]: msg``.

Honours ``--ros-args --log-level LEVEL`` (all loggers) and ``--log-level name:=LEVEL`` (one
logger and its children), and ``RCUTILS_CONSOLE_OUTPUT_FORMAT`` for the common ``{severity}``,
``{time}``, ``{name}``, ``{message}`` fields. Output goes to stderr as rcutils does by default.
"""  # noqa: A005 (rclpy.logging's counterpart; a submodule shadows nothing)

from __future__ import annotations

from enum import IntEnum
import os
import sys
import threading
import time
from typing import Any, Dict, Optional


class LoggingSeverity(IntEnum):
    """Severities, numbered as rcutils."""

    UNSET = 0
    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40
    FATAL = 50


_DEFAULT_FORMAT = '[{severity}] [{time}] [{name}]: {message}'
_lock = threading.Lock()
_default_level = LoggingSeverity.INFO
_levels: Dict[str, LoggingSeverity] = {}


def parse_severity(level: Any) -> LoggingSeverity:
    """Turn ``'debug'``, ``'WARN'``, ``20`` or a severity into a ``LoggingSeverity``."""
    if isinstance(level, str):
        name = level.strip().upper()
        if name == 'WARNING':
            name = 'WARN'
        try:
            return LoggingSeverity[name]
        except KeyError:
            raise ValueError(f'unknown log level {level!r}; use debug, info, warn, error or '
                             'fatal') from None
    return LoggingSeverity(int(level))


def configure(default_level: Optional[str], logger_levels: Any = ()) -> None:
    """Apply the ``--log-level`` arguments (called by ``init``)."""
    global _default_level
    if default_level is not None:
        _default_level = parse_severity(default_level)
    for name, level in logger_levels:
        _levels[name] = parse_severity(level)


def reset() -> None:
    """Forget configured levels (called by ``shutdown`` so a later ``init`` starts fresh)."""
    global _default_level
    _default_level = LoggingSeverity.INFO
    _levels.clear()


def _effective_level(name: str) -> LoggingSeverity:
    # A logger inherits the level of its nearest configured ancestor ("a.b" <- "a").
    probe = name
    while probe:
        if probe in _levels and _levels[probe] != LoggingSeverity.UNSET:
            return _levels[probe]
        probe = probe.rpartition('.')[0]
    return _default_level


class RcutilsLogger:
    """A named logger with rclpy's methods (``info``, ``warning``, ``get_child`` ...)."""

    def __init__(self, name: str = '') -> None:
        self.name = name
        self._once: set = set()
        self._last: Dict[Any, float] = {}
        self._seen: set = set()

    def get_child(self, name: str) -> 'RcutilsLogger':
        """Return the logger ``<self>.<name>``."""
        return RcutilsLogger(f'{self.name}.{name}' if self.name else name)

    def set_level(self, level: Any) -> None:
        """Set this logger's level."""
        _levels[self.name] = parse_severity(level)

    def get_effective_level(self) -> LoggingSeverity:
        """Return the level in force for this logger."""
        return _effective_level(self.name)

    def is_enabled_for(self, severity: Any) -> bool:
        """Return whether a message of ``severity`` would be printed."""
        return parse_severity(severity) >= self.get_effective_level()

    def log(self, message: Any, severity: Any, **kwargs: Any) -> bool:
        """Print ``message`` if enabled; supports rclpy's once/skip_first/throttle kwargs."""
        severity = parse_severity(severity)
        if severity < self.get_effective_level():
            return False
        caller = sys._getframe(2) if kwargs else None
        site = (caller.f_code.co_filename, caller.f_lineno) if caller else None
        if kwargs.get('once'):
            if site in self._once:
                return False
            self._once.add(site)
        if kwargs.get('skip_first'):
            if site not in self._seen:
                self._seen.add(site)
                return False
        period = kwargs.get('throttle_duration_sec')
        if period:
            now = time.monotonic()
            if now - self._last.get(site, -1e18) < float(period):
                return False
            self._last[site] = now
        _emit(severity, self.name, str(message))
        return True

    def debug(self, message: Any, **kwargs: Any) -> bool:
        """Log at DEBUG."""
        return self.log(message, LoggingSeverity.DEBUG, **kwargs)

    def info(self, message: Any, **kwargs: Any) -> bool:
        """Log at INFO."""
        return self.log(message, LoggingSeverity.INFO, **kwargs)

    def warning(self, message: Any, **kwargs: Any) -> bool:
        """Log at WARN."""
        return self.log(message, LoggingSeverity.WARN, **kwargs)

    # No ``warn`` alias: rclpy deprecated it and Rolling removed it (ros2/rclpy#1456),
    # so node code that called it would pass here and fail on a real ROS 2 install.

    def error(self, message: Any, **kwargs: Any) -> bool:
        """Log at ERROR."""
        return self.log(message, LoggingSeverity.ERROR, **kwargs)

    def fatal(self, message: Any, **kwargs: Any) -> bool:
        """Log at FATAL."""
        return self.log(message, LoggingSeverity.FATAL, **kwargs)


def _emit(severity: LoggingSeverity, name: str, message: str) -> None:
    now = time.time_ns()
    fields = {
        'severity': severity.name,
        'time': f'{now // 1_000_000_000}.{now % 1_000_000_000:09d}',
        'name': name,
        'message': message,
        'function_name': '', 'file_name': '', 'line_number': '',
    }
    fmt = os.environ.get('RCUTILS_CONSOLE_OUTPUT_FORMAT') or _DEFAULT_FORMAT
    try:
        line = fmt.format_map(fields)
    except (KeyError, ValueError, IndexError):
        line = _DEFAULT_FORMAT.format_map(fields)
    with _lock:
        sys.stderr.write(line + '\n')
        sys.stderr.flush()


def get_logger(name: str) -> RcutilsLogger:
    """Return a logger (as ``rclpy.logging.get_logger``)."""
    return RcutilsLogger(name)
