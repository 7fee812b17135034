"""
Training data: recordings on the 100 Hz model grid with their targets.

A :class:`Session` is one recording (a dataset set, or a simulated session of
several sets) resampled with the pipeline's own :class:`StreamResampler`, so
training sees the samples the live stage sees.  Arrays are cached under a
directory outside the repository (default ``~/.cache/rep_coach``) because
parsing the Trigno CSVs takes seconds.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
import hashlib
import logging
import os
from pathlib import Path
import pickle
from typing import List, Optional, Sequence

import numpy as np

from rep_coach.core.resample import StreamResampler
from rep_coach.core.types import ImuRecording
from rep_coach.learned.kinematic_input import replay_channels
from rep_coach.learned.preprocess import RATE_HZ

LOG = logging.getLogger(__name__)

#: The segmentation target covers [end - END_BEFORE_S, end + END_AFTER_S].  The
#: published design uses +-0.4 s; after the end we use 0.3 s, because the causal
#: network's falling edge (which places the end, see rep_coach.learned.events) is
#: what the cue waits for: 0.1 s less wait for the lifter.
END_BEFORE_S = 0.4
END_AFTER_S = 0.3
#: Bump when the cached representation, or how the loader reads a directory, changes.
_CACHE_VERSION = 9


@dataclass
class Rep:
    """A labelled rep on the session timeline (s)."""

    start: float
    end: float
    peak: Optional[float]
    rpe: Optional[float]
    rir: Optional[int]


@dataclass
class Session:
    """
    One recording on the model grid.

    ``x`` (6, N) the raw axes in SI units (accel m/s^2 x, y, z, gyro rad/s x, y,
    z), from which the classifier's rep signals are cut as stage 1 cuts them live
    (:func:`rep_coach.core.rep_signal.rep_signal`); ``kin`` (N_INPUTS, N) the
    mounting-invariant channels exactly as the live segmenter computes them;
    ``angle``/``rate`` (N,) the forearm angle (rad) and rate (rad/s) its per-rep
    features are computed from.
    """

    name: str
    subject: Optional[str]
    t0: float
    x: np.ndarray
    kin: np.ndarray
    angle: np.ndarray
    rate: np.ndarray
    sets: List[List[Rep]] = field(default_factory=list)
    recording: Optional[ImuRecording] = None
    #: Per set: its outer boundaries come from the recording (``SetLabels``).
    edges_from_recording: List[bool] = field(default_factory=list)

    @property
    def t(self) -> np.ndarray:
        """Sample times, s."""
        return self.t0 + np.arange(self.x.shape[1]) / RATE_HZ


def session_from_recording(rec: ImuRecording, keep_recording: bool = True) -> Session:
    """Resample one recording onto the model grid; labels carried over."""
    block = StreamResampler(RATE_HZ).push(rec.imu)
    x = np.ascontiguousarray(np.concatenate([block.accel, block.gyro], axis=1).T)
    sets = [[Rep(r.start, r.end, r.peak, r.rpe, r.rir) for r in s.reps] for s in rec.sets]
    t0 = float(block.t[0]) if len(block) else 0.0
    kin, angle, rate = replay_channels(block)
    return Session(rec.name, rec.subject, t0, x, kin, angle, rate, sets,
                   rec if keep_recording else None,
                   [s.edges_from_recording for s in rec.sets])


def default_cache_dir() -> Path:
    """Cache directory outside the repository (``REP_COACH_CACHE`` overrides)."""
    return Path(os.environ.get('REP_COACH_CACHE', Path.home() / '.cache' / 'rep_coach'))


def load_thomas2025(data_dir: Path, cache_dir: Optional[Path] = None) -> List[Session]:
    """
    Load (or read the cache of) every set of a thomas2025-layout directory.

    The cache only saves the parsing: one that cannot be read is parsed again, and one
    that cannot be written is a warning, never the end of a training run.
    """
    from rep_coach.core.thomas2025 import load_dataset
    data_dir = Path(data_dir).resolve()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha1(f'{_CACHE_VERSION}:{data_dir}'.encode()).hexdigest()[:12]
    path = cache_dir / f'thomas2025_{key}.pkl'
    if path.is_file():
        try:
            with path.open('rb') as handle:
                return pickle.load(handle)
        # What a cut or foreign file raises; its sets are parsed again and it is replaced.
        except (OSError, EOFError, pickle.UnpicklingError, ImportError, AttributeError,
                TypeError, ValueError) as exc:
            LOG.warning('data cache %s unreadable (%s: %s); reading %s again', path,
                        type(exc).__name__, exc, data_dir)
    sessions = [session_from_recording(r) for r in load_dataset(data_dir)]
    # One temporary file per process: two trainings started together both write the
    # cache, and a shared name would let them interleave into one corrupt file.
    tmp = path.with_suffix(f'.{os.getpid()}.tmp')
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tmp.open('wb') as handle:
            pickle.dump(sessions, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        LOG.warning('cannot write the data cache in %s (%s); going on without it (set '
                    'REP_COACH_CACHE to a writable directory)', cache_dir, exc)
        with contextlib.suppress(OSError):   # a part written before the disk filled
            tmp.unlink()
    return sessions


def end_region(tau: np.ndarray, end: float, factor: float = 1.0) -> np.ndarray:
    """
    Mask of times ``tau`` inside the target region of a rep ``end``.

    ``factor`` stretches the region with a time-warp (source time per played time).
    """
    return (tau >= end - END_BEFORE_S * factor) & (tau <= end + END_AFTER_S * factor)


def segment_targets(n: int, t0: float, ends: Sequence[float],
                    spans: Sequence[tuple]) -> np.ndarray:
    """(2, n) float32 targets: 0 = in a rep end's region, 1 = inside a rep."""
    t = t0 + np.arange(n) / RATE_HZ
    y = np.zeros((2, n), dtype=np.float32)
    for e in ends:
        y[0, end_region(t, e)] = 1.0
    for s, e in spans:
        y[1, (t >= s) & (t < e)] = 1.0
    return y


def session_targets(sess: Session) -> np.ndarray:
    """Segmentation targets of a whole session."""
    reps = [r for s in sess.sets for r in s]
    return segment_targets(sess.x.shape[1], sess.t0, [r.end for r in reps],
                           [(r.start, r.end) for r in reps])


def subjects_of(sessions: Sequence[Session]) -> List[str]:
    """Distinct subjects, sorted."""
    return sorted({s.subject for s in sessions if s.subject})
