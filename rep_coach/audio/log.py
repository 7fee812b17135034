"""The one way audio code reports problems: a logger callback or Python logging."""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Union

#: A warning sink: ``print``-like callable, ``logging.Logger``, or a ROS logger
#: (anything with ``.warning(str)``); None means Python logging.
LoggerLike = Union[Callable[[str], Any], logging.Logger, Any, None]

_DEFAULT = logging.getLogger('rep_coach.audio')


def warner(logger: LoggerLike) -> Callable[[str], None]:
    """Return a ``warn(msg)`` function for whatever logger the caller gave."""
    if logger is None:
        return _DEFAULT.warning
    warning: Optional[Callable[[str], Any]] = getattr(logger, 'warning', None)
    if warning is None:
        warning = getattr(logger, 'warn', None)
    if callable(warning):
        return lambda msg: warning(msg)
    if callable(logger):
        return lambda msg: logger(msg)
    raise TypeError(f'logger {logger!r} is neither callable nor has .warning()')
