"""The Cyclone DDS implementation of the runtime API (used when rclpy is not importable)."""

from types import SimpleNamespace

from rep_coach.ros_args import remove_ros_args

from . import api as _api
from .context import ExternalShutdownException
from .executor import Executor, SingleThreadedExecutor
from .logging import get_logger, LoggingSeverity
from .node import Node
from .params import Parameter, ParameterDescriptor
from .qos import DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile
from .qos import qos_profile_sensor_data, qos_profile_system_default, ReliabilityPolicy

# A module-like ``rclpy``: what the nodes call as ``rclpy.init()``, ``rclpy.spin(node)`` ...
rclpy = SimpleNamespace(
    init=_api.init,
    ok=_api.ok,
    shutdown=_api.shutdown,
    try_shutdown=_api.try_shutdown,
    spin=_api.spin,
    spin_once=_api.spin_once,
    spin_until_future_complete=_api.spin_until_future_complete,
    create_node=_api.create_node,
    get_global_executor=_api.get_global_executor,
    remove_ros_args=remove_ros_args,
    logging=SimpleNamespace(get_logger=get_logger, LoggingSeverity=LoggingSeverity),
)

__all__ = [
    'DurabilityPolicy', 'Executor', 'ExternalShutdownException', 'HistoryPolicy',
    'LivelinessPolicy', 'Node', 'Parameter', 'ParameterDescriptor', 'QoSProfile',
    'ReliabilityPolicy', 'SingleThreadedExecutor', 'qos_profile_sensor_data',
    'qos_profile_system_default', 'rclpy', 'remove_ros_args',
]
