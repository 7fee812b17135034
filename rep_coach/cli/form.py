"""``rep-coach form``: judge lifting form in an image, a video or a camera stream."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np

from rep_coach.cli.checks import (fail, missing_extra, non_negative_int, output_path,
                                  output_problem)
from rep_coach.pose.summary import summary_lines

#: The help text, wrapped here: the formatter keeps the lines of the exit statuses, so
#: of this too.
DESCRIPTION = """\
Judge lifting form in an image, a video or a camera stream with BlazePose (the pose
extra). Prints a summary: frames, frames with a person, reps; each rep's verdict;
where each fault occurred (e.g. "knees caving: frames 120-180 (4.0-6.0 s, rep 2)");
faults that could not be judged and why. --json prints every frame instead.
"""

#: What run returns, as --help says.
EPILOG = """\
exit status: 0 judged and printed (-o written); 2 nothing judged: the pose extra is
missing, INPUT is missing, a directory, an image that does not decode or a video or
camera that does not open, -o is not a writable path of the input's type (or a camera
has no --max-frames), or the pose backend is unusable (the message names the culprit)
"""

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
#: Containers the mp4v writer produces.
VIDEO_EXTS = ('.mp4', '.mov', '.avi', '.mkv')
#: Image formats whose end is checked: leading bytes, the bytes the data ends with, names.
IMAGE_ENDS = ((b'\xff\xd8\xff', b'\xff\xd9', 'JPEG', 'end marker FF D9'),
              (b'\x89PNG\r\n\x1a\n', b'IEND\xaeB`\x82', 'PNG', 'IEND chunk'))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``form`` subcommand on ``subparsers``."""
    from rep_coach.pose.estimator import BACKENDS
    from rep_coach.pose.exercises import EXERCISES
    p = subparsers.add_parser('form', help='judge lifting form from video with BlazePose',
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='image file, video file or camera index (e.g. 0)')
    p.add_argument('--exercise', default='front_squat', choices=sorted(EXERCISES),
                   help='the lift, which sets the form rules judged (default %(default)s)')
    p.add_argument('-o', '--output', type=output_path,
                   help="annotated copy to write, of the input's type: an image in, an image "
                        f'out ({", ".join(IMAGE_EXTS)}); a video or camera in, an mp4v video '
                        f"out ({', '.join(VIDEO_EXTS)}); the name's extension says the format")
    p.add_argument('--json', action='store_true',
                   help="print one JSON object (exercise, every frame's verdict, the reps) "
                        'instead of the summary')
    p.add_argument('--backend', default=BACKENDS[0], choices=BACKENDS,
                   help="BlazePose through mediapipe's Tasks PoseLandmarker (mediapipe) or "
                        'its older solutions.pose (mediapipe-legacy, no presence output); '
                        'the models ship in the mediapipe wheel (default %(default)s)')
    p.add_argument('--max-frames', type=non_negative_int, default=0,
                   help='stop after this many frames (0 = all; needed for cameras)')
    p.set_defaults(func=run)
    return p


def truncation(path: str) -> Optional[str]:
    """
    Say how the image file at ``path`` is cut short, or None when it ends as it should.

    OpenCV decodes a truncated JPEG or PNG in part (the rest gray) without an error, so
    a damaged photo would be judged silently.  The format is told by the leading bytes
    and the data must end as the format says (zero padding after it is allowed); other
    formats are not checked.
    """
    with open(path, 'rb') as handle:
        head = handle.read(8)
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 4096))
        tail = handle.read().rstrip(b'\0')
    for magic, end, fmt, what in IMAGE_ENDS:
        if head.startswith(magic) and not tail.endswith(end):
            return f'the {fmt} data stops before its {what} (truncated or damaged)'
    return None


def _frames(cap: Any, is_camera: bool, limit: int) -> Iterator[Tuple[int, float, np.ndarray]]:
    import time
    import cv2
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    t0 = time.monotonic()
    i = 0
    while limit <= 0 or i < limit:
        ok, frame = cap.read()
        if not ok:
            return
        # Files: time from the frame index (exact, repeatable); cameras: wall clock.
        t = time.monotonic() - t0 if is_camera else i / fps
        yield i, t, frame
        i += 1


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; return the process exit status."""
    try:
        import cv2
        from tqdm import tqdm
        from rep_coach.pose import FormCoach, PoseBackendUnavailable
        from rep_coach.pose.draw import annotate
    except ImportError as exc:
        return missing_extra('form', exc, 'pose', args.json)
    src: str = args.input
    is_camera = src.isdigit() and not os.path.exists(src)
    is_image = not is_camera and src.lower().endswith(IMAGE_EXTS)
    if not is_camera and os.path.isdir(src):
        return fail('form', f'input {src} is a directory; name an image or video file',
                    args.json)
    if not is_camera and not os.path.isfile(src):
        return fail('form', f'input not found: {src}', args.json)
    if args.output is not None:
        # An image in, an annotated image out; a video or camera in, an mp4v video out.
        problem = output_problem(args.output, IMAGE_EXTS if is_image else VIDEO_EXTS)
        if problem:
            return fail('form', problem, args.json)
    try:
        coach = FormCoach(args.exercise, static_image=is_image, backend=args.backend)
        frames: List[dict] = []
        if is_image:
            img = cv2.imread(src)
            if img is None:
                return fail('form', f'cannot decode image {src}', args.json)
            damage = truncation(src)
            if damage:   # judged all the same: what did decode may still show the lifter
                print(f'rep-coach form: warning: {src}: {damage}; only the part that '
                      'decoded is judged', file=sys.stderr)
            v = coach.process(img, 0.0)
            frames.append(v.to_dict())
            if args.output is not None and not cv2.imwrite(str(args.output), annotate(img, v)):
                return fail('form', f'cannot write {args.output}', args.json)
        else:
            rc = _run_stream(args, coach, cv2, tqdm, annotate, frames, is_camera)
            if rc:
                return rc
        coach.close()
    except PoseBackendUnavailable as exc:
        return fail('form', str(exc), args.json)
    reps = [r.to_dict() for r in coach.reps]
    if args.json:
        json.dump({'exercise': args.exercise, 'frames': frames, 'reps': reps}, sys.stdout)
        sys.stdout.write('\n')
    else:
        _summary(frames, reps)
    return 0


def _run_stream(args: argparse.Namespace, coach: Any, cv2: Any, tqdm: Any, annotate: Any,
                frames: List[dict], is_camera: bool) -> int:
    cap = cv2.VideoCapture(int(args.input) if is_camera else args.input)
    if not cap.isOpened():
        what = (f'camera {args.input} (no such device?)' if is_camera
                else f'{args.input} as a video')
        return fail('form', f'cannot open {what}', args.json)
    if is_camera and args.max_frames <= 0 and args.output is not None:
        return fail('form', 'a camera needs --max-frames to write an output', args.json)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if args.max_frames > 0:
        total = min(total or args.max_frames, args.max_frames)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer: Optional[Any] = None
    try:
        for _, t, frame in tqdm(_frames(cap, is_camera, args.max_frames), total=total,
                                unit='frame', file=sys.stderr, disable=None):
            v = coach.process(frame, t)
            frames.append(v.to_dict())
            if args.output is not None:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(args.output), cv2.VideoWriter_fourcc(*'mp4v'),
                                             fps, (w, h))
                    if not writer.isOpened():
                        return fail('form', f'cannot write {args.output}', args.json)
                writer.write(annotate(frame, v))
        last = coach.finish()
        if last is not None and frames:
            frames[-1]['rep'] = last.to_dict()
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    return 0


def _summary(frames: List[dict], reps: List[dict]) -> None:
    print('\n'.join(summary_lines(frames, reps)))
