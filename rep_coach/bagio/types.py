"""Message definitions and hashes for bag connections, from rosbags' type stores."""  # noqa: A005

from __future__ import annotations

import threading
from typing import Optional, Tuple

from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

_LOCK = threading.Lock()
_DEFAULT: Optional[Typestore] = None


def default_typestore() -> Typestore:
    """Return a private Humble type store (private: we register bag-defined types in it)."""
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = get_typestore(Stores.ROS2_HUMBLE)
        return _DEFAULT


def ensure_type(store: Typestore, msgtype: str, msgdef: str = '') -> bool:
    """
    Make ``msgtype`` known to ``store``, from the bag's ros2msg definition if need be.

    Returns False when the type is unknown and no usable definition was given.
    """
    if msgtype in store.fielddefs:
        return True
    if not msgdef:
        return False
    try:
        store.register(get_types_from_msg(msgdef, msgtype))
    except Exception:  # noqa: B902 - rosbags raises several parser error types
        return False
    return msgtype in store.fielddefs


def msgdef_and_hash(store: Typestore, msgtype: str) -> Tuple[str, str]:
    """Return the ros2msg definition and RIHS01 hash of a known type (KeyError if unknown)."""
    if msgtype not in store.fielddefs:
        raise KeyError(msgtype)
    msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
    return msgdef, store.hash_rihs01(msgtype)
