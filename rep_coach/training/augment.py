"""
Augmentations of scaled (6, N) IMU signals: frame rotation, time-warp, noise, gain.

Rotation applies one random rotation to the accelerometer and gyroscope
triplets together: any axis, any angle up to ``rotation_deg`` (default 180, i.e.
any mounting).  A strap or watch is worn either way round, on either wrist, at
any angle (thomas2025 subjects differ by more than 90 deg: the resting arm reads
about +x gravity for some, -x for others), and a model that has only seen one
mounting mistakes the top of a curl for its bottom on another.  The segmenter
also gets mounting-invariant angle/rate channels, which rotations leave as they
are.  Time-warp is done by the crop sampler (it must move the labels too); gain
and noise are per triplet.

The segmenter sees only the invariant channels, so it gets
:func:`augment_kinematic` instead: what differs between lifters and sessions
there is not the mounting but the reference pose (a lifter who starts with the
arm a little bent reads 20-30 deg at every rep end), the range of motion, and
how hard and fast they move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class AugmentConfig:
    """Ranges of the random augmentations (all off = identity)."""

    rotation_deg: float = 180.0
    flip_prob: float = 0.0      # extra chance of a 180 deg turn about a random sensor axis
    warp: float = 0.15          # speed factor in [1 - warp, 1 + warp]
    noise: float = 0.01         # std of additive noise in scaled units
    gain: float = 0.1           # multiplicative gain in [1 - gain, 1 + gain] per triplet


def random_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """Rotation matrix about a uniformly random axis by up to ``max_deg``."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis) + 1e-12
    angle = np.deg2rad(rng.uniform(-max_deg, max_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def augment(x: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """
    Rotate, scale and add noise to the raw axes (rows 0-5) of a (C, N) signal; clip.

    Rows 6+ (the mounting-invariant angle/rate) are left as they are: a rotation of
    the sensor does not change them, and noise/gain there is not what a sensor does.
    """
    x = x.astype(np.float64, copy=True)
    if cfg.rotation_deg > 0 or cfg.flip_prob > 0:
        rot = random_rotation(rng, cfg.rotation_deg)
        if rng.random() < cfg.flip_prob:
            flip = -np.eye(3)
            flip[rng.integers(3)] *= -1.0  # diag(1,-1,-1) etc.: 180 deg about one axis
            rot = rot @ flip
        x[0:3] = rot @ x[0:3]
        x[3:6] = rot @ x[3:6]
    if cfg.gain > 0:
        x[0:3] *= rng.uniform(1 - cfg.gain, 1 + cfg.gain)
        x[3:6] *= rng.uniform(1 - cfg.gain, 1 + cfg.gain)
    if cfg.noise > 0:
        x[0:6] += rng.normal(scale=cfg.noise, size=(6, x.shape[1]))
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def augment_kinematic(x: np.ndarray, rng: np.random.Generator,
                      cfg: AugmentConfig) -> np.ndarray:
    """
    Augment the segmenter's (4, N) channels: angle offset and gain, rate gains, noise.

    Row order of :mod:`rep_coach.learned.kinematic_input`: angle / pi, signed rate,
    |omega|, |a| - g.  The angle gets a gain (range of motion) and an offset of up
    to 30 deg (reference pose), folded at 0 like an arccos; the rates share one
    gain (a faster or slower lifter); the acceleration its own.
    """
    x = x.astype(np.float64, copy=True)
    if cfg.gain > 0:
        offset = rng.uniform(-5.0, 30.0) / 180.0
        x[0] = np.abs(x[0] * rng.uniform(1 - cfg.gain, 1 + cfg.gain) + offset)
        x[1:3] *= rng.uniform(1 - 2 * cfg.gain, 1 + 2 * cfg.gain)
        x[3] *= rng.uniform(1 - 2 * cfg.gain, 1 + 2 * cfg.gain)
    if cfg.noise > 0:
        x += rng.normal(scale=cfg.noise, size=x.shape)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def warp_positions(start: float, length: int, factor: float) -> np.ndarray:
    """Fractional source indices of a crop played ``factor`` times faster."""
    return start + np.arange(length) * factor


def interp_channels(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of (C, N) at fractional positions inside [0, N - 1]."""
    i0 = np.clip(np.floor(pos).astype(int), 0, x.shape[1] - 1)
    i1 = np.minimum(i0 + 1, x.shape[1] - 1)
    w = (pos - i0)[None, :]
    return x[:, i0] * (1 - w) + x[:, i1] * w
