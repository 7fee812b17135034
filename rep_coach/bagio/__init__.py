"""
Session bags: crash-safe rosbag2 recording, reading, repair (rosbags-based, no ROS needed).

Layout of a bag written by :class:`BagRecorder`::

    session_2024-05-01/            0700
        metadata.yaml              0600, rosbag2 metadata version 8
        session_2024-05-01_0.mcap  0600, complete MCAP (one per max_file_duration_s/size)
        session_2024-05-01_1.mcap  0600, the file being written, appended at every flush

Why version 8 and not rosbags' latest (9): ROS 2 Humble's rosbag2 (0.15.x)
decodes ``offered_qos_profiles`` as a *string* for every version >= 4 and never
rejects a newer version number; version 9 (Jazzy) stores it as a YAML *list*
with string enums, which Humble fails on ("yaml-cpp: bad conversion", see
ros2/rosbag2#2013, #1895).  Version 8 keeps the Humble string form with integer
rmw enums (identical in Humble and later for the values we write) while newer
distros read it through their version-aware decoders.  Humble ignores the v6-v8
keys (custom_data, type_description_hash, ros_distro).  Details: docs/bags.md.

Crash safety: :class:`BagRecorder` appends a chunk to the open MCAP file and
syncs it every ``flush_interval_s`` (:mod:`.mcapwriter`), and rotates to a new
file by size or duration, rewriting metadata.yaml atomically only then.  A
SIGKILL loses at most the messages since the last flush: the open file lacks
only its summary and footer; :func:`read_bag` reads it by a scan and
:func:`repair_bag` (``rep-coach repair BAG``) finalises it.  Details: docs/bags.md.
"""

from .errors import (BagError, BagExistsError, BagReadError, BagRecoveryWarning,  # noqa: F401
                     BagWriteError)
from .metadata import BAG_VERSION, BagMetadata, bags_in, load_metadata, TopicEntry  # noqa: F401
from .qos import PRESETS, QosSpec, to_rosbags_qos  # noqa: F401
from .reader import BagMessage, read_bag  # noqa: F401
from .recorder import BagRecorder, RecorderStats  # noqa: F401
from .repair import repair_bag, RepairReport  # noqa: F401

__all__ = ['BAG_VERSION', 'BagError', 'BagExistsError', 'BagMessage', 'BagMetadata',
           'BagReadError', 'BagRecorder', 'BagRecoveryWarning', 'BagWriteError', 'PRESETS',
           'QosSpec', 'RecorderStats', 'RepairReport', 'TopicEntry', 'bags_in', 'load_metadata',
           'read_bag', 'repair_bag', 'to_rosbags_qos']
