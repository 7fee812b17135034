"""Topic names (all relative, so a namespace per gym station works), their types and QoS."""

from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from rep_coach.qos import QosSpec

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
#: What each stage runs (its model file or configuration, and the parameters deciding its
#: outputs): one JSON ``StageInfo`` (``rep_coach/stage_info.py``) per stage node, published
#: once at start-up and latched, so a bag says which models produced its detections.
STAGE_INFO = 'stage_info'

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
    STAGE_INFO: 'std_msgs/msg/String',
}

#: Topics whose QoS is sensor data (best effort); every other topic is reliable.
SENSOR_TOPICS = frozenset({IMU, IMU_CLOCK})
#: Camera frames and what is drawn on them: only the newest is worth having.
NEWEST_ONLY_TOPICS = frozenset({IMAGE, IMAGE_COMPRESSED, FORM_LANDMARKS})
#: Said once and kept for whoever joins later (``/robot_description``'s QoS).
LATCHED_TOPICS = frozenset({STAGE_INFO})

#: Data seconds between two ``imu/clock`` messages (5 per second at real-time playback).
IMU_CLOCK_PERIOD_S = 0.2

#: History depth of the reliable event topics: deep enough that a slow subscriber
#: catches up after a hiccup instead of losing a rep.
EVENT_DEPTH = 100

# The QoS of each kind of topic, as writers offer it: the one definition that the
# nodes' publishers and subscriptions (``rep_coach.nodes.common``) and a recorded
# bag's offered-QoS metadata (``rep_coach.bagio``) are both made from.

#: Sensor data as rclpy's ``qos_profile_sensor_data``: a late sample is worth less
#: than the next one.
SENSOR_QOS = QosSpec('best_effort', 'volatile', 'keep_last', 5)
#: Events (reps, verdicts, cues, diagnostics, labels): none may be lost.
EVENT_QOS = QosSpec('reliable', 'volatile', 'keep_last', EVENT_DEPTH)
#: Camera frames and landmarks: a stale frame is dropped, not queued.
NEWEST_ONLY_QOS = QosSpec('best_effort', 'volatile', 'keep_last', 1)
#: Latched, as ROS 2 does it: the writer keeps its last message for late-joining readers
#: (which must ask for transient local too).  One message per writer: each stage node is
#: one writer of ``stage_info``, so a late reader gets every stage's, if its own history
#: holds them all: a String topic is one instance, and a reader's keep last 1 keeps only
#: the newest of several writers' messages (the recorder keeps 1000).
LATCHED_QOS = QosSpec('reliable', 'transient_local', 'keep_last', 1)


def topic_qos(topic: str) -> QosSpec:
    """Return the QoS that ``topic`` (relative name, as in this module) is offered with."""
    if topic in SENSOR_TOPICS:
        return SENSOR_QOS
    if topic in NEWEST_ONLY_TOPICS:
        return NEWEST_ONLY_QOS
    if topic in LATCHED_TOPICS:
        return LATCHED_QOS
    return EVENT_QOS


#: Every relative topic name the graph uses: what a recording's namespace is inferred from.
RELATIVE_TOPICS = (IMU, IMU_CLOCK, TRUE_REPS, REPS, NEAR_FAILURE, FEEDBACK, DIAGNOSTICS, IMAGE,
                   IMAGE_COMPRESSED, FORM_LANDMARKS, FORM_EVENTS, FORM_CUES, STAGE_INFO)


class RecordedNamespace(NamedTuple):
    """The namespace a bag was recorded in, and how it is known."""

    #: ``/station1``, ``/`` for the root, ``''`` when not known.
    name: str
    #: ``metadata`` (``custom_data['namespace']``), ``topics`` (inferred) or ``''``.
    source: str
    #: Why it is not known (empty when it is).
    reason: str = ''


def split_topic(topic: str) -> Optional[Tuple[str, str]]:
    """
    Return (namespace, rep_coach name) of ``topic``, or None if it has no rep_coach name.

    The longest known relative name wins (``/s1/labels/reps`` is ``labels/reps`` in
    ``/s1``, not ``reps`` in ``/s1/labels``); the root is ``/``.
    """
    for relative in sorted(RELATIVE_TOPICS, key=len, reverse=True):
        if topic == f'/{relative}':
            return '/', relative
        if topic.endswith(f'/{relative}'):
            return topic[:-len(relative) - 1], relative
    return None


def topic_prefix(topic: str) -> Optional[str]:
    """Return the namespace before ``topic``'s rep_coach name, or None if it has none."""
    split = split_topic(topic)
    return None if split is None else split[0]


def recorded_namespace(custom_data: Mapping[str, str],
                       topics: Iterable[str]) -> RecordedNamespace:
    """
    Return the namespace of a recording from its metadata, else from its topic names.

    ``custom_data`` is the bag's (rep_coach's recorder writes ``namespace`` there;
    ``ros2 bag record`` does not).  Without it, the namespace is inferred when all of
    the bag's rep_coach topics (a known relative name from this module after a prefix)
    share one prefix; other topics (``/rosout``, ``/tf``) are ignored.
    """
    stated = str(custom_data.get('namespace', '')).strip()
    if stated:
        return RecordedNamespace('/' + stated.strip('/'), 'metadata')
    prefixes: Dict[str, List[str]] = {}
    for topic in topics:
        prefix = topic_prefix(topic)
        if prefix is not None:
            prefixes.setdefault(prefix, []).append(topic)
    if len(prefixes) == 1:
        return RecordedNamespace(next(iter(prefixes)), 'topics')
    if not prefixes:
        return RecordedNamespace('', '', 'no rep_coach topic (one named as in '
                                         'rep_coach/topics.py) in the bag')
    where = '; '.join(f'{prefix}: {", ".join(sorted(names))}'
                      for prefix, names in sorted(prefixes.items()))
    return RecordedNamespace('', '', 'its rep_coach topics lie under several namespaces '
                                     f'({where})')
