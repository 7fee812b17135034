"""
The rclpy subset rep_coach nodes use: real rclpy when importable, else Cyclone DDS.

``BACKEND`` says which: ``'rclpy'`` or ``'dds'``. Both export the same names with rclpy's
signatures, so node code is written once against ``from rep_coach.runtime import ...``.
"""

try:
    import rclpy
except ImportError:  # no ROS 2 installation: speak the ROS 2 wire protocol over Cyclone DDS
    from .dds import (  # noqa: F401
        DurabilityPolicy, ExternalShutdownException, HistoryPolicy, LivelinessPolicy, Node,
        Parameter, ParameterDescriptor, QoSProfile, qos_profile_sensor_data,
        qos_profile_system_default, rclpy, ReliabilityPolicy, remove_ros_args,
        SingleThreadedExecutor)

    BACKEND = 'dds'
else:
    from rcl_interfaces.msg import ParameterDescriptor  # noqa: F401
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor  # noqa: F401
    from rclpy.node import Node  # noqa: F401
    from rclpy.parameter import Parameter  # noqa: F401
    from rclpy.qos import (  # noqa: F401
        DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, qos_profile_sensor_data,
        qos_profile_system_default, ReliabilityPolicy)
    from rclpy.utilities import remove_ros_args  # noqa: F401

    BACKEND = 'rclpy'

__all__ = [
    'BACKEND', 'DurabilityPolicy', 'ExternalShutdownException', 'HistoryPolicy',
    'LivelinessPolicy', 'Node', 'Parameter', 'ParameterDescriptor', 'QoSProfile',
    'ReliabilityPolicy', 'SingleThreadedExecutor', 'qos_profile_sensor_data',
    'qos_profile_system_default', 'rclpy', 'remove_ros_args',
]
