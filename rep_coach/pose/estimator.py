"""The one interface every pose backend implements, and the backend factory."""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

import numpy as np

from rep_coach.pose.landmarks import PoseResult

#: Backends known to :func:`make_estimator`; the first one is the default.
BACKENDS = ('mediapipe', 'mediapipe-legacy')


class PoseBackendUnavailable(RuntimeError):
    """The optional ``pose`` extra (mediapipe) is not installed or is unusable."""


@runtime_checkable
class PoseEstimator(Protocol):
    """
    Single-person pose estimator with tracking between calls.

    ``estimate`` takes a BGR uint8 frame (OpenCV's layout) and its timestamp in
    seconds (strictly increasing in video mode) and returns the pose or None
    when no person is found.
    """

    def estimate(self, frame_bgr: np.ndarray, timestamp: float) -> Optional[PoseResult]:
        """Return the pose in ``frame_bgr`` or None."""
        ...

    def close(self) -> None:
        """Release the backend's resources."""
        ...


def make_estimator(backend: str = 'mediapipe', static_image: bool = False,
                   min_detection_confidence: float = 0.5,
                   min_tracking_confidence: float = 0.5) -> PoseEstimator:
    """
    Build a pose estimator; ``static_image`` disables tracking across frames.

    Raises :class:`PoseBackendUnavailable` when the backend's packages are absent
    and ``ValueError`` for an unknown backend name.
    """
    if backend not in BACKENDS:
        raise ValueError(f'pose backend {backend!r} unknown; choose one of {BACKENDS}')
    from rep_coach.pose import mediapipe_backend as mpb  # lazy: optional extra
    cls = mpb.TasksEstimator if backend == 'mediapipe' else mpb.LegacyEstimator
    return cls(static_image=static_image,
               min_detection_confidence=min_detection_confidence,
               min_tracking_confidence=min_tracking_confidence)
