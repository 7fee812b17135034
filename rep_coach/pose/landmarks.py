"""
BlazePose landmark indices and the backend-neutral :class:`PoseResult`.

Names are anatomical: ``LEFT_*`` is the *subject's* left, as in MediaPipe's own
topology (the AI-Trainer script swapped them).  Rules address landmarks only
through this module, so they never depend on the estimator backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Iterable, Optional, Tuple

import numpy as np

N_LANDMARKS = 33


class Lm(IntEnum):
    """The 33 BlazePose landmarks (subject's anatomical left/right)."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


#: Bones drawn on the annotated output (a subset of MediaPipe's connections).
SKELETON: Tuple[Tuple[Lm, Lm], ...] = (
    (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER), (Lm.LEFT_HIP, Lm.RIGHT_HIP),
    (Lm.LEFT_SHOULDER, Lm.LEFT_HIP), (Lm.RIGHT_SHOULDER, Lm.RIGHT_HIP),
    (Lm.LEFT_SHOULDER, Lm.LEFT_ELBOW), (Lm.LEFT_ELBOW, Lm.LEFT_WRIST),
    (Lm.RIGHT_SHOULDER, Lm.RIGHT_ELBOW), (Lm.RIGHT_ELBOW, Lm.RIGHT_WRIST),
    (Lm.LEFT_HIP, Lm.LEFT_KNEE), (Lm.LEFT_KNEE, Lm.LEFT_ANKLE),
    (Lm.RIGHT_HIP, Lm.RIGHT_KNEE), (Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE),
    (Lm.LEFT_ANKLE, Lm.LEFT_HEEL), (Lm.LEFT_HEEL, Lm.LEFT_FOOT_INDEX),
    (Lm.LEFT_ANKLE, Lm.LEFT_FOOT_INDEX),
    (Lm.RIGHT_ANKLE, Lm.RIGHT_HEEL), (Lm.RIGHT_HEEL, Lm.RIGHT_FOOT_INDEX),
    (Lm.RIGHT_ANKLE, Lm.RIGHT_FOOT_INDEX),
)

#: A landmark counts as seen when both probabilities reach this value.  Both are
#: sigmoid outputs (probabilities), so 0.5 is the model's own decision boundary.
RELIABLE_PROB = 0.5


@dataclass
class PoseResult:
    """
    One person's pose in one frame, independent of the backend.

    ``image`` is (33, 3): x and y normalized to [0, 1] by the frame's width and
    height, z on roughly the scale of x (relative depth, hip-centred; *not*
    metres).  ``visibility`` and ``presence`` are (33,) probabilities (after the
    sigmoid); ``presence`` is NaN for backends that do not report it.
    ``world`` is (33, 3) metres, origin between the hips, camera axes
    (x right, y down, z away from the camera).  ``width``/``height`` are the
    frame's pixel size, needed to turn normalized x/y into isotropic units.
    """

    t: float
    image: np.ndarray
    world: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image, dtype=np.float64).reshape(N_LANDMARKS, 3)
        self.world = np.asarray(self.world, dtype=np.float64).reshape(N_LANDMARKS, 3)
        self.visibility = np.asarray(self.visibility, dtype=np.float64).reshape(N_LANDMARKS)
        self.presence = np.asarray(self.presence, dtype=np.float64).reshape(N_LANDMARKS)
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'PoseResult: bad frame size {self.width}x{self.height}')

    def pixels(self) -> np.ndarray:
        """Return (33, 2) pixel coordinates (isotropic, unlike normalized x/y)."""
        return self.image[:, :2] * np.array([self.width, self.height], dtype=np.float64)

    def reliable(self, lms: Iterable[int], prob: float = RELIABLE_PROB) -> bool:
        """Return True when every landmark in ``lms`` is visible and present."""
        idx = np.fromiter((int(i) for i in lms), dtype=np.int64)
        vis_ok = bool(np.all(self.visibility[idx] >= prob))
        pres = self.presence[idx]
        # NaN presence means "not reported by this backend", not "absent".
        pres_ok = bool(np.all(np.isnan(pres) | (pres >= prob)))
        return vis_ok and pres_ok

    def first_unreliable(self, lms: Iterable[int],
                         prob: float = RELIABLE_PROB) -> Optional[str]:
        """Return the name of the first unreliable landmark in ``lms``, if any."""
        for i in lms:
            if not self.reliable([i], prob):
                return Lm(int(i)).name.lower()
        return None
