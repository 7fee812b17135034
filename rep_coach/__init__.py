"""rep_coach: wrist-IMU rep counting and near-failure coaching on a ROS 2 node graph."""

#: The package version (setup.py reads it from here; package.xml repeats it).
__version__ = '0.1.0'
