"""Draw the skeleton, faults, view status and rep count onto a frame."""

from __future__ import annotations

import numpy as np

from rep_coach.pose.coach import FrameVerdict
from rep_coach.pose.landmarks import SKELETON

GREEN, RED, WHITE, AMBER = (80, 200, 80), (40, 40, 230), (255, 255, 255), (0, 170, 255)


def annotate(frame_bgr: np.ndarray, v: FrameVerdict) -> np.ndarray:
    """Return a copy of ``frame_bgr`` with the verdict drawn on it."""
    import cv2  # optional extra; only the drawing path needs it
    out = frame_bgr.copy()
    h, w = out.shape[:2]
    scale = max(0.5, min(w, h) / 720.0)
    th = max(1, int(round(2 * scale)))
    if v.pose is not None:
        px = v.pose.pixels().astype(int)
        color = RED if v.faults else GREEN
        for a, b in SKELETON:
            if v.pose.reliable([a, b]):
                cv2.line(out, tuple(px[a]), tuple(px[b]), color, th, cv2.LINE_AA)
        for i in range(px.shape[0]):
            if v.pose.reliable([i]):
                cv2.circle(out, tuple(px[i]), th + 1, WHITE, -1, cv2.LINE_AA)
    lines = [(f'reps: {v.rep_count}', WHITE)]
    if v.status == 'ok':
        lines.append((f'view: {v.view}', WHITE))
    else:
        lines.append((f'{v.status}: {v.reason}'[:80], AMBER))
    lines += [(f, RED) for f in v.faults]
    y = int(30 * scale)
    for text, color in lines:
        cv2.putText(out, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, (0, 0, 0),
                    th + 2, cv2.LINE_AA)
        cv2.putText(out, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, color, th,
                    cv2.LINE_AA)
        y += int(28 * scale)
    return out
