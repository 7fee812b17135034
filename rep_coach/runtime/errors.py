"""
The runtime's start-up failures, as nodes report them whichever backend runs.

Importable without rclpy or Cyclone: ``run_node`` uses it under both backends.
"""

from __future__ import annotations


class MiddlewareStartupError(RuntimeError):
    """The middleware refused this process (no DDS participant); the message says why."""


#: Where rclpy defines the error of a failed rcl/rmw call (``rclpy._rclpy_pybind11.RCLError``).
#: Named, not imported: this module loads where rclpy is missing, and a private module's
#: import would tie it to one rclpy build (rolling moved the bindings to nanobind).
RCL_ERROR_NAME = 'RCLError'
RCLPY_PACKAGE = 'rclpy'


def is_middleware_startup_error(exc: BaseException) -> bool:
    """
    Return whether ``exc`` is the middleware refusing to start, under either backend.

    The DDS fallback raises :class:`MiddlewareStartupError` when Cyclone refuses the
    participant.  rclpy raises a bare ``RCLError`` when rcl cannot create the node, which
    is where rmw_cyclonedds and rmw_fastrtps create their participant (on the first
    node, not in ``rclpy.init``).  Only that exact class counts: its subclasses
    (``RCLInvalidROSArgsError``...) are a bad command line, not the middleware.
    """
    if isinstance(exc, MiddlewareStartupError):
        return True
    cls = type(exc)
    return (cls.__name__ == RCL_ERROR_NAME
            and cls.__module__.split('.')[0] == RCLPY_PACKAGE)
