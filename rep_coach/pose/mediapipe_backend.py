"""
BlazePose through mediapipe 0.10.21, strictly offline.

Only the "full" landmark model (``model_complexity=1``) and the detector ship
inside the mediapipe wheel; "lite" and "heavy" are downloaded on first use by
``mediapipe.solutions.pose``, so they are never requested here.

Two backends run the same two networks (detector -> ROI -> 33 landmarks, then
tracking from the previous frame's landmarks):

* :class:`TasksEstimator` (default) drives the Tasks ``PoseLandmarker``.  Its
  ``.task`` bundle is assembled *in memory* from the wheel's two ``.tflite``
  files (the landmark model gets the input-normalization metadata the Tasks
  graph needs: RGB scaled to [0, 1], as in the legacy graph).  Unlike the legacy
  graph it reports the ``presence`` probability.
* :class:`LegacyEstimator` drives ``mediapipe.solutions.pose``; its presence is
  not populated, so it is reported as NaN.
"""

from __future__ import annotations

import io
import os
from typing import Any, Optional
import zipfile

import numpy as np

from rep_coach.pose.estimator import PoseBackendUnavailable
from rep_coach.pose.landmarks import N_LANDMARKS, PoseResult

#: Model files inside the mediapipe wheel (relative to the package directory).
DETECTOR_REL = os.path.join('modules', 'pose_detection', 'pose_detection.tflite')
LANDMARK_REL = os.path.join('modules', 'pose_landmark', 'pose_landmark_full.tflite')
#: Number of output tensors of pose_landmark_full (landmarks, flag, mask,
#: heatmap, world landmarks); each needs an output entry in the metadata.
_N_OUTPUTS = 5


def _import_mediapipe() -> Any:
    try:
        import mediapipe as mp  # noqa: F401  (optional extra 'pose')
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PoseBackendUnavailable(
            'mediapipe is not installed; install the extra: pip install "rep_coach[pose]"'
        ) from exc
    return mp


def wheel_model_paths() -> tuple:
    """
    Return the (detector, landmark) model paths inside the mediapipe wheel.

    Raises :class:`PoseBackendUnavailable` naming the missing file; nothing is
    ever downloaded.
    """
    mp = _import_mediapipe()
    root = os.path.dirname(mp.__file__)
    paths = (os.path.join(root, DETECTOR_REL), os.path.join(root, LANDMARK_REL))
    for path in paths:
        if not os.path.isfile(path):
            raise PoseBackendUnavailable(f'model file missing from the mediapipe wheel: {path}')
    return paths


def build_task_bundle() -> bytes:
    """Return a PoseLandmarker ``.task`` bundle built from the wheel's models."""
    _import_mediapipe()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer as mw
    det_path, lm_path = wheel_model_paths()
    with open(det_path, 'rb') as f:
        detector = f.read()
    with open(lm_path, 'rb') as f:
        landmarker = bytearray(f.read())
    writer = mw.MetadataWriter.create(landmarker)
    writer.add_general_info('pose_landmark_full', 'BlazePose GHUM full, from the mediapipe wheel')
    # The legacy graph feeds RGB in [0, 1]: (pixel - 0) / 255.
    writer.add_image_input(norm_mean=[0.0], norm_std=[255.0])
    for i in range(_N_OUTPUTS):
        writer.add_feature_output(name=f'output_{i}')
    landmarker_md, _ = writer.populate()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as zf:
        zf.writestr('pose_detector.tflite', detector)
        zf.writestr('pose_landmarks_detector.tflite', landmarker_md)
    return buf.getvalue()


def _rgb(frame_bgr: np.ndarray) -> np.ndarray:
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValueError(f'expected a BGR uint8 HxWx3 frame, got {frame_bgr.dtype} '
                         f'{frame_bgr.shape}')
    return np.ascontiguousarray(frame_bgr[:, :, ::-1])


def _to_result(t: float, lms: Any, world: Any, width: int, height: int,
               has_presence: bool) -> PoseResult:
    image = np.array([(p.x, p.y, p.z) for p in lms], dtype=np.float64)
    wld = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float64)
    vis = np.array([p.visibility for p in lms], dtype=np.float64)
    if has_presence:
        pres = np.array([p.presence for p in lms], dtype=np.float64)
    else:
        pres = np.full(N_LANDMARKS, np.nan)
    # The Tasks API returns None for unset probabilities; treat them as unknown.
    vis = np.nan_to_num(vis, nan=0.0)
    return PoseResult(t, image, wld, vis, pres, width, height)


class TasksEstimator:
    """BlazePose via the Tasks ``PoseLandmarker`` (presence included)."""

    def __init__(self, static_image: bool = False, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        mp = _import_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision
        self._mp = mp
        self._static = static_image
        mode = vision.RunningMode.IMAGE if static_image else vision.RunningMode.VIDEO
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=build_task_bundle()),
            running_mode=mode, num_poses=1,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._last_ms = -1

    def estimate(self, frame_bgr: np.ndarray, timestamp: float) -> Optional[PoseResult]:
        """Return the pose in ``frame_bgr`` or None."""
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=_rgb(frame_bgr))
        if self._static:
            res = self._landmarker.detect(image)
        else:
            # The graph needs strictly increasing integer milliseconds.
            ms = max(int(round(timestamp * 1000.0)), self._last_ms + 1)
            self._last_ms = ms
            res = self._landmarker.detect_for_video(image, ms)
        if not res.pose_landmarks:
            return None
        h, w = frame_bgr.shape[:2]
        return _to_result(timestamp, res.pose_landmarks[0], res.pose_world_landmarks[0],
                          w, h, has_presence=True)

    def close(self) -> None:
        """Release the graph."""
        self._landmarker.close()


class LegacyEstimator:
    """BlazePose via ``mediapipe.solutions.pose`` (no presence output)."""

    def __init__(self, static_image: bool = False, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        mp = _import_mediapipe()
        wheel_model_paths()  # complexity 1 is bundled; refuse rather than download
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static_image, model_complexity=1, smooth_landmarks=True,
            enable_segmentation=False, min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)

    def estimate(self, frame_bgr: np.ndarray, timestamp: float) -> Optional[PoseResult]:
        """Return the pose in ``frame_bgr`` or None."""
        res = self._pose.process(_rgb(frame_bgr))
        if res.pose_landmarks is None:
            return None
        h, w = frame_bgr.shape[:2]
        return _to_result(timestamp, res.pose_landmarks.landmark,
                          res.pose_world_landmarks.landmark, w, h, has_presence=False)

    def close(self) -> None:
        """Release the graph."""
        self._pose.close()
