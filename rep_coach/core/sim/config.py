"""Configuration of the simulator, and its parsing from ``key=value`` options."""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
from typing import Any, Dict, get_args, get_origin, get_type_hints, Mapping, Optional, Tuple, \
    Union


class SimConfigError(ValueError):
    """A simulator option that is unknown or has a bad value; the message names it."""


@dataclass
class SimConfig:
    """
    Everything that defines a simulated session; same config, same samples.

    Durations in seconds, noise as per-sample standard deviations in SI units,
    bias drift as random-walk intensity per sqrt(second).  ``None`` means "draw
    at random from the seed".  ``sets = 0`` makes an endless session (stream
    only, see :class:`SimStream`).
    """

    seed: int = 0
    rate_hz: float = 100.0
    exercise: str = 'biceps_curl'
    sets: int = 1
    #: Rest between sets; None draws 60-150 s per rest.
    rest_s: Optional[float] = None
    #: Reps to failure of the first set; None draws 6-20 (the load); later sets
    #: lose 0-3 reps each to residual fatigue.
    reps_to_failure: Optional[int] = None
    #: Each set stops with this many reps in reserve (0 = to failure).
    stop_at_rir: int = 0
    #: Concentric mean-velocity loss at failure vs the first rep; None draws 0.2-0.5.
    velocity_loss: Optional[float] = None
    #: Multiplies every movement duration (subject tempo is drawn around it).
    tempo_scale: float = 1.0
    #: Draw subject anthropometry and tempo (else mid-range values).
    randomize_subject: bool = True
    #: Random mounting: rotation about the forearm, small tilt, device reversed.
    randomize_orientation: bool = True
    accel_noise: float = 0.04
    gyro_noise: float = 0.005
    accel_bias: float = 0.1
    gyro_bias: float = 0.02
    accel_bias_drift: float = 0.002
    gyro_bias_drift: float = 0.0005
    #: Per-axis scale-factor error (std, fraction).
    scale_error: float = 0.01
    #: Saturation of the simulated sensor (the MPU-6050 at its widest ranges).
    accel_range_g: float = 16.0
    gyro_range_dps: float = 2000.0
    #: Body sway amplitude (deg) while standing; fidgets are extra movements at rest.
    sway_deg: float = 1.5
    fidgets: bool = True
    false_start_prob: float = 0.15
    failed_attempt_prob: float = 0.3
    #: Idle time before the first set and after the last one.
    lead_in_s: float = 3.0
    tail_s: float = 3.0
    #: Time of the first sample on the recording's timeline.
    start_time: float = 0.0

    def validate(self) -> None:
        """Raise SimConfigError naming the first bad field."""
        from rep_coach.core.sim.exercises import get_exercise
        try:
            get_exercise(self.exercise)
        except KeyError as exc:
            raise SimConfigError(f'exercise: {exc.args[0]}') from None
        checks = [
            ('rate_hz', self.rate_hz > 0 and math.isfinite(self.rate_hz), 'must be > 0'),
            ('sets', self.sets >= 0, 'must be >= 0 (0 = endless stream)'),
            ('rest_s', self.rest_s is None or self.rest_s >= 0, 'must be >= 0'),
            ('reps_to_failure', self.reps_to_failure is None or self.reps_to_failure >= 1,
             'must be >= 1'),
            ('stop_at_rir', self.stop_at_rir >= 0, 'must be >= 0'),
            ('velocity_loss', self.velocity_loss is None or 0 <= self.velocity_loss < 0.9,
             'must be in [0, 0.9)'),
            ('tempo_scale', 0.2 <= self.tempo_scale <= 5, 'must be in [0.2, 5]'),
            ('false_start_prob', 0 <= self.false_start_prob <= 1, 'must be in [0, 1]'),
            ('failed_attempt_prob', 0 <= self.failed_attempt_prob <= 1, 'must be in [0, 1]'),
            ('lead_in_s', self.lead_in_s >= 0, 'must be >= 0'),
            ('tail_s', self.tail_s >= 0, 'must be >= 0'),
        ]
        for name in ('accel_noise', 'gyro_noise', 'accel_bias', 'gyro_bias',
                     'accel_bias_drift', 'gyro_bias_drift', 'scale_error', 'sway_deg'):
            checks.append((name, getattr(self, name) >= 0, 'must be >= 0'))
        for name in ('accel_range_g', 'gyro_range_dps'):
            checks.append((name, getattr(self, name) > 0, 'must be > 0'))
        for name, ok, why in checks:
            if not ok:
                raise SimConfigError(f'sim option {name}={getattr(self, name)!r}: {why}')

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     base: Optional['SimConfig'] = None) -> 'SimConfig':
        """
        Return ``base`` (or the defaults) updated from ``{name: value}``.

        String values are converted to the field's type (``none`` for optional
        fields, ``true/false/1/0/yes/no`` for booleans), so the options of a
        ``sim:exercise=hammer_curl,sets=2`` source spec go straight in.
        """
        hints = get_type_hints(cls)
        values = {f.name: getattr(base, f.name) if base is not None else f.default
                  for f in fields(cls)}
        for key, raw in options.items():
            if key not in hints:
                raise SimConfigError(f'unknown sim option {key!r}; known: '
                                     f'{", ".join(sorted(hints))}')
            values[key] = _convert(key, raw, hints[key])
        config = cls(**values)
        config.validate()
        return config


_TRUE = ('1', 'true', 'yes', 'on')
_FALSE = ('0', 'false', 'no', 'off')


def _convert(key: str, raw: Any, hint: Any) -> Any:
    """Convert ``raw`` to the type ``hint`` (Optional[...] allowed); errors name ``key``."""
    optional = get_origin(hint) is Union and type(None) in get_args(hint)
    target: Tuple[Any, ...] = tuple(a for a in get_args(hint) if a is not type(None)) \
        if optional else (hint,)
    kind = target[0]
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ('none', '')):
        if optional:
            return None
        raise SimConfigError(f'sim option {key}: a value is required')
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError('expected true or false')
        if kind is int:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError('expected an integer')
            return int(str(raw).strip()) if isinstance(raw, str) else int(raw)
        if kind is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError('expected a finite number')
            return value
        return str(raw).strip()
    except (TypeError, ValueError) as exc:
        raise SimConfigError(f'sim option {key}={raw!r}: {exc}') from None


def describe_options() -> Dict[str, str]:
    """Return ``{option: default}`` for help texts."""
    return {f.name: repr(f.default) for f in fields(SimConfig)}
