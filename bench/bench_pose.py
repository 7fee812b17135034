"""
Frames per second of the pose path (BlazePose + form rules) on one CPU core.

Usage: ``python bench/bench_pose.py [--frames 100] [--json]``.  Pins the
process to one core before mediapipe starts its thread pool, then times
``estimator.estimate`` alone and ``FormCoach.process`` (estimate + smoothing +
rules + reps) in video (tracking) mode on the shared front-squat photos.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import time
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / 'shared' / 'data' / 'pose'


def _frames() -> List:
    import cv2
    import numpy as np
    imgs = [cv2.imread(str(p)) for p in sorted(PHOTOS.glob('*.jpg'))]  # 500_perfect first
    imgs = [i for i in imgs if i is not None]
    if not imgs:  # no person: still times the detector path
        imgs = [np.full((864, 480, 3), 127, np.uint8)]
    return imgs


def bench(backend: str, n: int) -> Dict[str, float]:
    """Return fps of the estimator, of the whole coach, and the rules' cost."""
    from rep_coach.pose import FormCoach, make_estimator
    # One photo repeated: in a real video consecutive frames are close, so the
    # tracker (ROI from the previous landmarks) runs instead of the detector.
    img = _frames()[0]
    est = make_estimator(backend)
    poses = [est.estimate(img, i / 30) for i in range(5)]  # warm-up
    t0 = time.perf_counter()
    for i in range(n):
        poses.append(est.estimate(img, (i + 5) / 30))
    est_s = time.perf_counter() - t0
    est.close()
    coach = FormCoach('front_squat', estimator=_Null())
    t0 = time.perf_counter()
    for i, pose in enumerate(poses):
        coach.process_pose(pose, i / 30)
    rules_s = (time.perf_counter() - t0) / len(poses)
    coach = FormCoach('front_squat', backend=backend)
    for i in range(5):
        coach.process(img, i / 30)
    t0 = time.perf_counter()
    for i in range(n):
        coach.process(img, (i + 5) / 30)
    coach_s = time.perf_counter() - t0
    coach.close()
    h, w = img.shape[:2]
    return {'backend': backend, 'frames': n, 'frame_size': f'{w}x{h}',
            'estimator_fps': round(n / est_s, 2), 'coach_fps': round(n / coach_s, 2),
            'rules_ms_per_frame': round(rules_s * 1000.0, 3),
            'person_found': sum(p is not None for p in poses[5:]) / n}


class _Null:

    def estimate(self, frame, t):  # pragma: no cover - unused
        return None

    def close(self) -> None:
        pass


def main(argv: List[str] = None) -> int:
    """Run the benchmark and print a table or JSON."""
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--frames', type=int, default=100)
    ap.add_argument('--backend', action='append', choices=('mediapipe', 'mediapipe-legacy'))
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args(argv)
    if hasattr(os, 'sched_setaffinity'):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    sys.path.insert(0, str(REPO))
    results = [bench(b, args.frames) for b in (args.backend or ['mediapipe', 'mediapipe-legacy'])]
    if args.json:
        print(json.dumps({'cores': 1, 'results': results}, indent=2))
    else:
        for r in results:
            print(f"{r['backend']:18s} estimator {r['estimator_fps']:6.1f} fps  coach "
                  f"{r['coach_fps']:6.1f} fps  rules {r['rules_ms_per_frame']:.2f} ms  "
                  f"({r['frame_size']}, {r['frames']} frames)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
