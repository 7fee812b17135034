"""Topic names (all relative, so a namespace per gym station works) and their types."""

from typing import Dict

IMU = 'imu/data_raw'
#: The IMU timeline at a low rate: std_msgs/Header stamped with the newest sample the
#: stages have accepted, every IMU_CLOCK_PERIOD_S of data.  Derived from imu/data_raw (so
#: not recorded: a replay regenerates it); lets a node keep data time without reading 100 Hz.
IMU_CLOCK = 'imu/clock'
TRUE_REPS = 'labels/reps'
REPS = 'reps'
NEAR_FAILURE = 'near_failure'
FEEDBACK = 'feedback'
DIAGNOSTICS = 'diagnostics'
IMAGE = 'image_raw'
IMAGE_COMPRESSED = 'image_raw/compressed'
FORM_LANDMARKS = 'form/landmarks'
FORM_EVENTS = 'form/events'
FORM_CUES = 'form/cues'

#: ROS 2 type of every topic the graph uses (what a recorder needs to know).
TOPIC_TYPES: Dict[str, str] = {
    IMU: 'sensor_msgs/msg/Imu',
    TRUE_REPS: 'std_msgs/msg/String',
    REPS: 'std_msgs/msg/String',
    NEAR_FAILURE: 'std_msgs/msg/String',
    FEEDBACK: 'std_msgs/msg/String',
    DIAGNOSTICS: 'diagnostic_msgs/msg/DiagnosticArray',
    FORM_EVENTS: 'std_msgs/msg/String',
    FORM_CUES: 'std_msgs/msg/String',
}

#: Topics whose QoS is sensor data (best effort); every other topic is reliable.
SENSOR_TOPICS = frozenset({IMU, IMU_CLOCK})

#: Data seconds between two ``imu/clock`` messages (5 per second at real-time playback).
IMU_CLOCK_PERIOD_S = 0.2

#: History depth of the reliable event topics: deep enough that a slow subscriber
#: catches up after a hiccup instead of losing a rep.
EVENT_DEPTH = 100
