"""
Audio clips and synthesised tones (numpy only, no device access).

A :class:`Clip` is mono int16 PCM at a sample rate; it converts to and from WAV
bytes with the standard ``wave`` module, which is what every sink consumes.
"""

from __future__ import annotations

from dataclasses import dataclass
import io
from typing import Optional, Sequence
import wave

import numpy as np

#: Sample rate of synthesised clips; espeak-ng renders at 22050 Hz too, so one
#: rate throughout avoids resampling and lets clips be concatenated.
DEFAULT_RATE = 22050


@dataclass
class Clip:
    """Mono 16-bit PCM audio."""

    samples: np.ndarray   # (N,) int16
    rate: int = DEFAULT_RATE

    def __post_init__(self) -> None:
        self.samples = np.ascontiguousarray(np.asarray(self.samples).reshape(-1),
                                            dtype=np.int16)
        if self.rate <= 0:
            raise ValueError(f'Clip.rate = {self.rate}: must be > 0 Hz')

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / float(self.rate)

    def to_wav_bytes(self) -> bytes:
        """Encode as a complete RIFF/WAV file in memory."""
        buf = io.BytesIO()
        with wave.open(buf, 'wb') as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(self.samples.astype('<i2').tobytes())
        return buf.getvalue()

    @classmethod
    def from_wav_bytes(cls, data: bytes) -> 'Clip':
        """
        Decode WAV bytes (mono or stereo, 8/16-bit) into a mono int16 clip.

        espeak-ng ``--stdout`` writes a streaming header whose frame count is a
        placeholder, so frames are read until the data runs out rather than
        trusting ``getnframes``.
        """
        try:
            with wave.open(io.BytesIO(data), 'rb') as src:
                channels, width, rate = src.getnchannels(), src.getsampwidth(), \
                    src.getframerate()
                raw = src.readframes(2 ** 31 - 1)
        except (wave.Error, EOFError) as exc:
            raise ValueError(f'not a PCM WAV stream ({len(data)} bytes): {exc}') from exc
        if width == 2:
            pcm = np.frombuffer(raw[:len(raw) // 2 * 2], dtype='<i2')
        elif width == 1:
            pcm = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8)
        else:
            raise ValueError(f'WAV sample width {width} bytes is not supported')
        if channels > 1:
            usable = pcm.shape[0] // channels * channels
            pcm = pcm[:usable].reshape(-1, channels).mean(axis=1)
        return cls(np.asarray(pcm, dtype=np.int16), rate)

    def trimmed(self, threshold: float = 0.01, pad_s: float = 0.02) -> 'Clip':
        """
        Drop leading/trailing near-silence (keeping ``pad_s``).

        TTS output carries ~0.3 s of trailing silence; trimming it frees the
        player sooner, so the next cue is less likely to wait or be superseded.
        """
        x = self.samples
        if x.size == 0:
            return self
        loud = np.nonzero(np.abs(x.astype(np.int32)) > threshold * 32767)[0]
        if loud.size == 0:
            return Clip(x[:0], self.rate)
        pad = int(pad_s * self.rate)
        return Clip(x[max(0, loud[0] - pad):loud[-1] + 1 + pad], self.rate)


def silence(duration_s: float, rate: int = DEFAULT_RATE) -> Clip:
    """Return ``duration_s`` of silence."""
    return Clip(np.zeros(max(0, int(round(duration_s * rate))), dtype=np.int16), rate)


def tone(freq_hz: float, duration_s: float = 0.08, volume: float = 0.5,
         rate: int = DEFAULT_RATE, fade_s: float = 0.005) -> Clip:
    """Synthesise a sine tone with short raised-cosine fades (no clicks)."""
    if not 0 < freq_hz < rate / 2:
        raise ValueError(f'tone frequency {freq_hz} Hz outside (0, {rate / 2}) Hz')
    if duration_s <= 0:
        raise ValueError(f'tone duration {duration_s} s must be > 0')
    n = max(1, int(round(duration_s * rate)))
    t = np.arange(n) / float(rate)
    x = np.sin(2.0 * np.pi * freq_hz * t)
    nf = min(int(fade_s * rate), n // 2)
    if nf > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(nf) / nf)
        x[:nf] *= ramp
        x[n - nf:] *= ramp[::-1]
    amp = float(np.clip(volume, 0.0, 1.0)) * 32767.0
    return Clip(np.round(x * amp).astype(np.int16), rate)


def concat(clips: Sequence[Clip], gap_s: float = 0.0) -> Clip:
    """Join clips of one sample rate with ``gap_s`` of silence between them."""
    if not clips:
        return Clip(np.zeros(0, dtype=np.int16))
    rate = clips[0].rate
    if any(c.rate != rate for c in clips):
        raise ValueError('concat: clips have different sample rates')
    gap = silence(gap_s, rate).samples
    parts = []
    for i, clip in enumerate(clips):
        if i and gap.size:
            parts.append(gap)
        parts.append(clip.samples)
    return Clip(np.concatenate(parts), rate)


def beeps(freq_hz: float, count: int, duration_s: float = 0.08, gap_s: float = 0.06,
          volume: float = 0.5, rate: int = DEFAULT_RATE) -> Clip:
    """Return ``count`` identical tones separated by ``gap_s``."""
    one = tone(freq_hz, duration_s, volume, rate)
    return concat([one] * max(1, int(count)), gap_s)


def fallback_clip(kind: str, tone_hz: float, volume: float = 0.5,
                  rate: int = DEFAULT_RATE, duration_s: float = 0.08) -> Clip:
    """
    Non-speech rendering of a cue kind, used when no TTS engine is available.

    Distinct patterns keep the cues tellable apart by ear: one beep per rep, two
    for a reps-in-reserve warning, three long low ones for stop, and a falling
    pair for the set summary.
    """
    if kind == 'rir':
        return beeps(tone_hz, 2, duration_s, volume=volume, rate=rate)
    if kind == 'stop':
        return beeps(tone_hz / 2.0, 3, duration_s * 2.5, gap_s=0.08, volume=volume, rate=rate)
    if kind == 'summary':
        return concat([tone(tone_hz, duration_s * 1.5, volume, rate),
                       tone(tone_hz * 0.75, duration_s * 1.5, volume, rate)], 0.03)
    return tone(tone_hz, duration_s, volume, rate)


def dominant_frequency(clip: Clip, min_hz: Optional[float] = 20.0) -> float:
    """Frequency (Hz) of the largest FFT peak, for checks and diagnostics."""
    x = clip.samples.astype(np.float64)
    if x.size < 2:
        return 0.0
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1.0 / clip.rate)
    if min_hz:
        spec[freqs < min_hz] = 0.0
    k = int(np.argmax(spec))
    if 0 < k < spec.size - 1:
        # Parabolic interpolation of the log-magnitude peak: sub-bin accuracy.
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-12)
        denom = a - 2 * b + c
        delta = 0.5 * (a - c) / denom if denom != 0 else 0.0
        return float(freqs[k] + delta * (freqs[1] - freqs[0]))
    return float(freqs[k])
