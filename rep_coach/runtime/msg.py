"""Message classes: the real ROS ones under rclpy, generated Cyclone DDS structs otherwise."""

from . import BACKEND

if BACKEND == 'rclpy':
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from geometry_msgs.msg import Quaternion, Vector3
    from sensor_msgs.msg import CompressedImage, Image, Imu
    from std_msgs.msg import Float32, Header, String
else:
    from .dds.messages import message_class as _m

    Time = _m('builtin_interfaces/msg/Time')
    Header = _m('std_msgs/msg/Header')
    String = _m('std_msgs/msg/String')
    Float32 = _m('std_msgs/msg/Float32')
    Quaternion = _m('geometry_msgs/msg/Quaternion')
    Vector3 = _m('geometry_msgs/msg/Vector3')
    Imu = _m('sensor_msgs/msg/Imu')
    Image = _m('sensor_msgs/msg/Image')
    CompressedImage = _m('sensor_msgs/msg/CompressedImage')
    KeyValue = _m('diagnostic_msgs/msg/KeyValue')
    DiagnosticStatus = _m('diagnostic_msgs/msg/DiagnosticStatus')
    DiagnosticArray = _m('diagnostic_msgs/msg/DiagnosticArray')

__all__ = [
    'CompressedImage', 'DiagnosticArray', 'DiagnosticStatus', 'Float32', 'Header', 'Image',
    'Imu', 'KeyValue', 'Quaternion', 'String', 'Time', 'Vector3',
]
