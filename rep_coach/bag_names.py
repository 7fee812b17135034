"""
Default names of session bags: which station, and when, readable from the name alone.

Several gym stations usually record into one directory (one ``bag_dir`` for the whole
gym, or the same ``--record DIR`` on every station's command line) and are started
together, so a name made of the time alone would collide: the second station's recorder
would find the bag directory taken.  The station's namespace is therefore part of the
name; ``/gym/station_3`` becomes ``gym.station_3`` (ROS name tokens never hold a dot,
so the mapping cannot make two namespaces alike).  Plain Python, no rosbags: the ROS
launch file names its ``ros2 bag record`` output with it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterator, Optional

#: How many numbered alternatives :func:`bag_name_candidates` offers after the plain name.
MAX_SUFFIX = 99


def station_label(namespace: str) -> str:
    """Return the namespace as a file-name part: ``/gym/station_3`` -> ``gym.station_3``."""
    return '.'.join(token for token in namespace.split('/') if token)


def default_bag_name(namespace: str, when: Optional[datetime] = None) -> str:
    """Return ``rep_coach_<station>_<YYYYmmdd>_<HHMMSS>`` (no station part at the root)."""
    stamp = (when or datetime.now()).strftime('%Y%m%d_%H%M%S')
    label = station_label(namespace)
    return f'rep_coach_{label}_{stamp}' if label else f'rep_coach_{stamp}'


def bag_name_candidates(name: str) -> Iterator[str]:
    """
    Yield ``name``, then ``name_2`` ... ``name_99``: what to try when a name is taken.

    For generated names only: a station restarted within the same second (a respawned
    recorder) gets a new bag instead of failing.  A name the user chose is never varied.
    """
    yield name
    for number in range(2, MAX_SUFFIX + 1):
        yield f'{name}_{number}'
