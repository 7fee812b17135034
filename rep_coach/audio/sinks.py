"""
Where cue audio goes: a device (aplay, pw-play, sounddevice), WAV files, or nowhere.

Each hardware access sits behind exactly one library or command: ``aplay`` /
``pw-play`` run as subprocesses with the WAV on stdin (never through a shell),
``sounddevice`` is imported only when asked for.  :func:`make_sink` turns the
``sink`` parameter into a sink and degrades anything unusable (missing command,
no sound device, missing library) to :class:`NullSink` with one warning, so the
text feedback always keeps flowing.
"""

from __future__ import annotations

from dataclasses import dataclass
import glob
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional

from rep_coach.audio.log import LoggerLike, warner
from rep_coach.audio.tones import Clip
# The sink forms are audio_feedback's parameter rule, kept with the parameter table so the
# node, make_sink and the demo's --audio check one rule.
from rep_coach.core.params import parse_sink, SINK_SPECS  # noqa: F401 - SINK_SPECS re-exported


#: File names the wav sink writes: ``0001_rep.wav`` (group 1 the number).
_OWN_WAV = re.compile(r'^(\d{4,})_(rep|rir|stop|summary|cue)\.wav$')


class SinkUnavailable(RuntimeError):
    """The requested sink cannot work here (command, library or device missing)."""


@dataclass
class PlayContext:
    """
    One cue's trip through the player, filled in as it goes.

    ``enqueued_*`` is when the cue reached the player (the event, as far as audio
    is concerned); the sink calls :meth:`mark_start` when the audio is handed to
    the device, so ``latency_s`` is event-to-playback-start.
    """

    number: int               # 1-based cue number since the player started
    cue: Any                  # rep_coach.core.coaching.Cue
    enqueued_mono: float
    enqueued_wall: float
    start_mono: Optional[float] = None
    start_wall: Optional[float] = None
    end_mono: Optional[float] = None
    dropped: Optional[str] = None   # why it was not played ('superseded', 'closed')
    error: Optional[str] = None

    def mark_start(self) -> None:
        """Record that playback starts now."""
        self.start_mono = time.monotonic()
        self.start_wall = time.time()

    @property
    def latency_s(self) -> Optional[float]:
        """Seconds from reaching the player to playback start (None if not played)."""
        if self.start_mono is None:
            return None
        return self.start_mono - self.enqueued_mono


class Sink:
    """Base sink: ``play`` blocks until the clip is done (called by the player's worker)."""

    name = 'sink'
    #: True when playing takes real time, so a backlog goes stale and may be
    #: superseded; False for sinks that just record (every cue is kept).
    realtime = True

    def play(self, clip: Clip, ctx: PlayContext) -> None:
        """Play ``clip``; call ``ctx.mark_start()`` when audio starts."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Cut the clip being played short (a higher-priority cue is waiting)."""

    def on_dropped(self, ctx: PlayContext) -> None:
        """Note a cue that will not be played (``ctx.dropped`` says why)."""

    def close(self) -> None:
        """Release resources."""

    def describe(self) -> str:
        """One-line description for logs."""
        return self.name

    def __repr__(self) -> str:
        """Show the description."""
        return f'<{type(self).__name__} {self.describe()}>'


class NullSink(Sink):
    """Discard audio (no device, or audio disabled); optionally take real time."""

    name = 'null'

    def __init__(self, paced: bool = False) -> None:
        self.paced = paced
        self.realtime = paced
        self._cut = threading.Event()

    def play(self, clip: Clip, ctx: PlayContext) -> None:
        """Mark the start; when paced, wait the clip's duration (interruptible)."""
        ctx.mark_start()
        if self.paced:
            self._cut.clear()
            self._cut.wait(clip.duration)

    def interrupt(self) -> None:
        """Stop waiting."""
        self._cut.set()


class WavDirSink(Sink):
    """
    Write every cue as ``NNNN_kind.wav`` in a directory plus ``index.jsonl``.

    Nothing an earlier session wrote to the directory is lost: the numbers continue
    after the highest ``NNNN`` already there (a first session writes ``0001_rep.wav``
    on, a second after the first's last file), and ``index.jsonl`` is appended to.

    Each index line: ``cue`` number (of its session, from 1), ``text``, ``kind``,
    ``priority``, ``set_index``, ``rep_index``, ``event_stamp`` (the cue's stamp), ``enqueued`` and
    ``play_start`` (wall-clock seconds), ``latency_ms``, ``file`` (relative name,
    null for a dropped cue), ``duration_s`` and ``dropped``.
    """

    name = 'wav'
    realtime = False

    def __init__(self, directory: str) -> None:
        if not directory:
            raise ValueError("sink 'wav:DIR' needs a directory, e.g. wav:/tmp/cues")
        self.directory = Path(directory).expanduser()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f'sink wav:{directory}: cannot create directory: {exc}') from exc
        self.index_path = self.directory / 'index.jsonl'
        # An earlier session's cues are a record too: number on after them rather than
        # overwrite (or delete) them, so names stay NNNN_kind.wav in the order written.
        found = (_OWN_WAV.match(path.name) for path in self.directory.glob('*.wav'))
        self.first_number = 1 + max((int(m.group(1)) for m in found if m), default=0)
        self._lock = threading.Lock()
        self._index = open(self.index_path, 'a', encoding='utf-8')

    def describe(self) -> str:
        """Name the directory."""
        return f'wav:{self.directory}'

    def play(self, clip: Clip, ctx: PlayContext) -> None:
        """Write the WAV file, then its index line."""
        number = self.first_number + ctx.number - 1
        fname = f'{number:04d}_{getattr(ctx.cue, "kind", "cue")}.wav'
        (self.directory / fname).write_bytes(clip.to_wav_bytes())
        # The file now exists in full: that is this sink's "playback start".
        ctx.mark_start()
        self._write_index(ctx, fname, clip.duration)

    def on_dropped(self, ctx: PlayContext) -> None:
        """Index the dropped cue too, so the record shows what was superseded."""
        self._write_index(ctx, None, None)

    def _write_index(self, ctx: PlayContext, fname: Optional[str],
                     duration: Optional[float]) -> None:
        cue = ctx.cue
        latency = ctx.latency_s
        entry: Dict[str, Any] = {
            'cue': ctx.number, 'text': getattr(cue, 'text', None),
            'kind': getattr(cue, 'kind', None), 'priority': getattr(cue, 'priority', None),
            'set_index': getattr(cue, 'set_index', None),
            'rep_index': getattr(cue, 'rep_index', None),
            'event_stamp': getattr(cue, 'stamp', None), 'enqueued': ctx.enqueued_wall,
            'play_start': ctx.start_wall,
            'latency_ms': None if latency is None else round(latency * 1000.0, 3),
            'file': fname, 'duration_s': duration, 'dropped': ctx.dropped}
        with self._lock:
            if self._index.closed:
                return
            self._index.write(json.dumps(entry) + '\n')
            self._index.flush()

    def close(self) -> None:
        """Close the index."""
        with self._lock:
            self._index.close()


class CommandSink(Sink):
    """Play through a command that reads a WAV file on stdin (aplay, pw-play)."""

    def __init__(self, argv: List[str], name: Optional[str] = None,
                 logger: LoggerLike = None) -> None:
        if not argv:
            raise ValueError('CommandSink needs a command')
        path = shutil.which(argv[0])
        if path is None:
            raise SinkUnavailable(f'player command {argv[0]!r} not found on PATH')
        self.argv = [path] + list(argv[1:])
        self.name = name or os.path.basename(argv[0])
        self._warn = warner(logger)
        self._proc: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self._cut = False
        self._failures = 0

    def describe(self) -> str:
        """Show the command line."""
        return ' '.join(self.argv)

    def play(self, clip: Clip, ctx: PlayContext) -> None:
        """Start the command, feed it the WAV, wait for it (or an interrupt)."""
        data = clip.to_wav_bytes()
        with self._lock:
            self._cut = False
            try:
                proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            except OSError as exc:
                ctx.error = str(exc)
                self._failed(f'cannot start {self.argv[0]}: {exc}')
                return
            self._proc = proc
        try:
            assert proc.stdin is not None
            proc.stdin.write(data)
            ctx.mark_start()
            proc.stdin.close()
        except (BrokenPipeError, OSError) as exc:
            # The player died early (bad device...): reported from its stderr below.
            ctx.error = f'write to {self.name}: {exc}'
        try:
            # stdin is already closed (communicate() would try to flush it); the
            # player's stderr is a few lines at most, so it cannot fill its pipe.
            proc.wait(timeout=max(5.0, 3.0 * clip.duration + 2.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            ctx.error = f'{self.name} timed out'
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
        with self._lock:
            self._proc = None
            cut = self._cut
        if proc.returncode != 0 and not cut:
            msg = (err or b'').decode(errors='replace').strip()
            ctx.error = ctx.error or f'{self.name} exit {proc.returncode}: {msg}'
            self._failed(ctx.error)

    def _failed(self, msg: str) -> None:
        # Warn on the first failure and then rarely: a broken device fails every cue.
        self._failures += 1
        if self._failures in (1, 10, 100, 1000):
            self._warn(f'audio sink {self.name}: {msg} (failure #{self._failures})')

    def interrupt(self) -> None:
        """Terminate the running player process."""
        with self._lock:
            self._cut = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()

    def close(self) -> None:
        """Stop anything still playing."""
        self.interrupt()


class SoundDeviceSink(Sink):
    """Play through PortAudio with the optional ``sounddevice`` package."""

    name = 'sounddevice'

    def __init__(self, device: Optional[str] = None) -> None:
        try:
            import sounddevice  # noqa: F401  (optional dependency)
        except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
            raise SinkUnavailable(f'sounddevice unusable: {exc}') from exc
        self._sd = sounddevice
        self.device = device or None
        try:
            sounddevice.query_devices(self.device, kind='output')
        except Exception as exc:  # noqa: B902 (PortAudioError / ValueError: no output device)
            raise SinkUnavailable(f'sounddevice: no output device ({exc})') from exc

    def play(self, clip: Clip, ctx: PlayContext) -> None:
        """Play and wait."""
        self._sd.play(clip.samples, clip.rate, device=self.device)
        ctx.mark_start()
        self._sd.wait()

    def interrupt(self) -> None:
        """Stop PortAudio playback."""
        self._sd.stop()


def has_alsa_playback_device() -> bool:
    """Whether the kernel exposes an ALSA playback PCM (``/dev/snd/pcmC*D*p``)."""
    return bool(glob.glob('/dev/snd/pcmC*D*p'))


def has_pipewire() -> bool:
    """Whether a PipeWire server socket is reachable for this user."""
    runtime = os.environ.get('XDG_RUNTIME_DIR') or f'/run/user/{os.getuid()}'
    remote = os.environ.get('PIPEWIRE_REMOTE', 'pipewire-0')
    return os.path.exists(os.path.join(runtime, remote))


def make_sink(spec: str = 'auto', logger: LoggerLike = None) -> Sink:
    """
    Build the sink named by the ``sink`` parameter.

    ``auto``: aplay when a sound card exists, else pw-play when PipeWire runs,
    else null.  ``aplay`` / ``aplay:DEVICE`` (e.g. ``aplay:null``), ``pw-play``,
    ``sounddevice`` / ``sounddevice:DEVICE``, ``wav:DIR``, ``null``.  A sink that
    cannot work here becomes :class:`NullSink` with one warning; a spec that is
    none of ``SINK_SPECS`` or an unusable ``wav`` directory raises ValueError.
    """
    warn = warner(logger)
    try:
        kind, arg = parse_sink(spec)
    except ValueError as exc:
        raise ValueError(f'sink {spec!r}: {exc}') from None
    try:
        if kind == 'null':
            return NullSink()
        if kind == 'wav':
            return WavDirSink(arg)
        if kind == 'auto':
            if has_alsa_playback_device() and shutil.which('aplay'):
                return CommandSink(['aplay', '-q'], 'aplay', logger)
            if has_pipewire() and shutil.which('pw-play'):
                return CommandSink(['pw-play', '-'], 'pw-play', logger)
            raise SinkUnavailable('no sound device (no ALSA playback PCM, no PipeWire) '
                                  'or no aplay/pw-play')
        if kind == 'aplay':
            if not arg and not has_alsa_playback_device():
                # aplay would fail on every cue; say so once, now.
                if shutil.which('aplay') is None:
                    raise SinkUnavailable("player command 'aplay' not found on PATH")
                raise SinkUnavailable('no ALSA playback device in /dev/snd '
                                      '(use aplay:DEVICE to name one)')
            argv = ['aplay', '-q'] + (['-D', arg] if arg else [])
            return CommandSink(argv, 'aplay', logger)
        if kind == 'pw-play':
            if not has_pipewire() and shutil.which('pw-play'):
                raise SinkUnavailable('no PipeWire server socket')
            return CommandSink(['pw-play', '-'], 'pw-play', logger)
        # 'sounddevice', the one kind left that parse_sink admits.
        return SoundDeviceSink(arg or None)
    except SinkUnavailable as exc:
        warn(f'audio sink {spec!r} unavailable: {exc}; audio disabled, text cues still '
             f'published')
        return NullSink()
