"""The module-level functions of ``rclpy`` (``init``, ``spin`` ...) for the DDS runtime."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from rep_coach.ros_args import remove_ros_args as _remove_ros_args

from .context import Context, get_default_context
from .executor import Executor, SingleThreadedExecutor

_global_executor: Optional[Executor] = None


def init(*, args: Optional[Sequence[str]] = None, context: Optional[Context] = None,
         domain_id: Optional[int] = None, signal_handler_options: Any = None) -> None:
    """Initialize: parse ``args`` (default ``sys.argv``), set up logging and signal handlers."""
    (context or get_default_context()).init(args, domain_id)


def ok(*, context: Optional[Context] = None) -> bool:
    """Return whether the context is initialized and not shut down."""
    return (context or get_default_context()).ok()


def shutdown(*, context: Optional[Context] = None, uninstall_handlers: Optional[bool] = None
             ) -> None:
    """End the context; raises if it was already ended (as rclpy)."""
    (context or get_default_context()).shutdown()
    _reset_global_executor()


def try_shutdown(*, context: Optional[Context] = None,
                 uninstall_handlers: Optional[bool] = None) -> None:
    """Shut down if still running; never raises for a repeated call."""
    (context or get_default_context()).try_shutdown()
    _reset_global_executor()


def _reset_global_executor() -> None:
    global _global_executor
    if _global_executor is not None:
        _global_executor.shutdown()
        _global_executor = None


def get_global_executor() -> Executor:
    """Return the executor used by ``spin``/``spin_once`` when none is given."""
    global _global_executor
    if _global_executor is None:
        _global_executor = SingleThreadedExecutor()
    return _global_executor


def spin(node: Any, executor: Optional[Executor] = None) -> None:
    """Spin ``node`` until shutdown; raises ExternalShutdownException after SIGTERM."""
    executor = executor or get_global_executor()
    added = executor.add_node(node)
    try:
        executor.spin()
    finally:
        if added:
            executor.remove_node(node)


def spin_once(node: Any, *, executor: Optional[Executor] = None,
              timeout_sec: Optional[float] = None) -> None:
    """
    Run at most one callback of ``node``.

    Unlike ``spin`` the node stays on the executor afterwards (``destroy_node``
    detaches it): the executor takes samples from the middleware in batches, and
    removing the node after each call would drop the ones taken but not yet run.
    """
    executor = executor or get_global_executor()
    executor.add_node(node)
    executor.spin_once(timeout_sec=timeout_sec)


def spin_until_future_complete(node: Any, future: Any, executor: Optional[Executor] = None,
                               timeout_sec: Optional[float] = None) -> None:
    """Spin until ``future`` is done."""
    executor = executor or get_global_executor()
    added = executor.add_node(node)
    try:
        executor.spin_until_future_complete(future, timeout_sec)
    finally:
        if added:
            executor.remove_node(node)


def create_node(node_name: str, **kwargs: Any) -> Any:
    """Create a ``Node`` (as ``rclpy.create_node``)."""
    from .node import Node

    return Node(node_name, **kwargs)


def remove_ros_args(args: Optional[Sequence[str]] = None) -> List[str]:
    """Strip ``--ros-args ... [--]`` sections (as ``rclpy.utilities.remove_ros_args``)."""
    return _remove_ros_args(args)
