"""rep_coach: wrist-IMU rep counting and near-failure coaching on a ROS 2 node graph."""

__version__ = '0.1.0'
