"""Tests of tones, cached espeak-ng speech, sinks and the non-blocking player."""

import json
import logging
from pathlib import Path
import shutil
import threading
import time
from typing import List

import numpy as np
import pytest

from rep_coach.audio import (AudioCuePlayer, build_player, Clip, CommandSink, dominant_frequency,
                             EspeakTTS, fallback_clip, make_sink, NullSink, PlayContext, Sink,
                             SinkUnavailable, tone, WavDirSink)
from rep_coach.core.coaching import (AUDIO_TONE, CoachingConfig, CoachingPolicy, Cue,
                                     number_to_words, PRIORITY)
from rep_coach.core.types import RepEvent

HAVE_ESPEAK = shutil.which('espeak-ng') is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason='espeak-ng not installed')


def cue(text: str, kind: str = 'rep', audio: str = 'speech', rep_index: int = 1) -> Cue:
    """Build a cue."""
    return Cue(text=text, kind=kind, priority=PRIORITY[kind], stamp=1.0, set_index=1,
               rep_index=rep_index, audio=audio)


def rms(clip: Clip) -> float:
    """Root-mean-square amplitude as a fraction of full scale."""
    return float(np.sqrt(np.mean((clip.samples / 32768.0) ** 2)))


class GateSink(Sink):
    """A real-time sink whose playback lasts until the test opens the gate."""

    name = 'gate'
    realtime = True

    def __init__(self) -> None:
        self.played: List[str] = []
        self.started = threading.Event()
        self.gate = threading.Event()
        self.interrupts = 0

    def play(self, clip: Clip, ctx: PlayContext) -> None:
        ctx.mark_start()
        self.played.append(ctx.cue.text)
        self.started.set()
        self.gate.wait(5.0)
        self.gate.clear()

    def interrupt(self) -> None:
        self.interrupts += 1
        self.gate.set()


# ---------------------------------------------------------------- tones, clips

@pytest.mark.parametrize('freq', [440.0, 880.0, 1234.0])
def test_tone_has_configured_frequency(freq: float) -> None:
    clip = tone(freq, duration_s=0.2, volume=0.5)
    assert clip.samples.dtype == np.int16
    assert abs(clip.duration - 0.2) < 1e-3
    assert abs(dominant_frequency(clip) - freq) < 3.0
    assert 0.3 < np.abs(clip.samples).max() / 32767 <= 0.5 + 1e-3
    # Fades: no click at either end.
    assert abs(int(clip.samples[0])) < 100 and abs(int(clip.samples[-1])) < 100


def test_clip_wav_round_trip_and_fallbacks() -> None:
    clip = tone(660.0, 0.1)
    back = Clip.from_wav_bytes(clip.to_wav_bytes())
    assert back.rate == clip.rate and np.array_equal(back.samples, clip.samples)
    durations = {k: fallback_clip(k, 880.0).duration for k in ('rep', 'rir', 'stop', 'summary')}
    assert len({round(d, 4) for d in durations.values()}) == 4   # tellable apart
    assert abs(dominant_frequency(fallback_clip('stop', 880.0)) - 440.0) < 5.0
    with pytest.raises(ValueError):
        Clip.from_wav_bytes(b'not a wav')
    with pytest.raises(ValueError):
        tone(20000.0)


# ------------------------------------------------------------------------ TTS

@needs_espeak
def test_espeak_renders_non_silent_plausible_speech() -> None:
    tts = EspeakTTS(voice='en', rate=175, volume=1.0)
    assert tts.available and tts.warning is None
    short = tts.render('two left')
    long = tts.render('eight reps, stopped one short of failure')
    assert short is not None and long is not None
    assert rms(short) > 0.02 and rms(long) > 0.02
    assert 0.2 < short.duration < 1.5
    assert 1.0 < long.duration < 5.0 and long.duration > short.duration
    # Cached: the same object back, with no process start.
    t0 = time.perf_counter()
    assert tts.render('two left') is short
    assert time.perf_counter() - t0 < 0.005
    faster = EspeakTTS(rate=350).render('eight reps, stopped one short of failure')
    assert faster is not None and faster.duration < long.duration
    quiet = EspeakTTS(volume=0.3).render('two left')
    assert quiet is not None and rms(quiet) < rms(short)


@needs_espeak
def test_prerender_in_background_fills_cache() -> None:
    tts = EspeakTTS()
    phrases = CoachingPolicy().fixed_phrases(max_count=30)
    thread = tts.prerender(phrases)
    assert thread is not None and thread.daemon
    assert tts.wait_ready(20.0)
    assert all(tts.cached(p) is not None for p in phrases)
    assert tts.cached('thirty') is not None and tts.cached('stop') is not None


def test_missing_tts_engine_warns_and_player_falls_back() -> None:
    warnings: List[str] = []
    tts = EspeakTTS(command='no-such-espeak', logger=warnings.append)
    assert not tts.available and len(warnings) == 1 and 'no-such-espeak' in warnings[0]
    assert tts.render('one') is None
    player = AudioCuePlayer(NullSink(), tts)
    try:
        clip = player.clip_for(cue('stop', 'stop'))
        assert clip.duration > 0 and abs(dominant_frequency(clip) - 440.0) < 5.0
    finally:
        player.close()


def test_tts_failures_are_reported_first_and_then_every_hundredth() -> None:
    # Audit: only the first failure was ever logged (it was an empty form cue's), so a
    # later real failure of the engine went unsaid.
    warnings: List[str] = []
    tts = EspeakTTS(command='false', logger=warnings.append)   # found, fails every time
    assert tts.available, warnings
    assert tts.render('') is None and tts.render('  ') is None and tts.failures == 0
    for n in range(250):
        assert tts.render(f'phrase {n}') is None
    assert tts.failures == 250
    assert len(warnings) == 3 and "failed on 'phrase 0'" in warnings[0]
    assert warnings[1].endswith('(100 failures so far)')
    assert warnings[2].endswith('(200 failures so far)')


# ---------------------------------------------------------------------- sinks

def test_make_sink_specs_and_errors(tmp_path: Path) -> None:
    assert isinstance(make_sink('null'), NullSink)
    assert isinstance(make_sink(f'wav:{tmp_path / "w"}'), WavDirSink)
    with pytest.raises(ValueError, match='sink'):
        make_sink('speakers')
    with pytest.raises(ValueError, match='wav'):
        make_sink('wav:')


def test_missing_player_command_degrades_to_warning(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    with pytest.raises(SinkUnavailable, match='no-such-player'):
        CommandSink(['no-such-player', '-q'])
    monkeypatch.setenv('PATH', str(tmp_path))          # no aplay, no pw-play
    warnings: List[str] = []
    for spec in ('aplay:null', 'aplay', 'pw-play', 'auto'):
        sink = make_sink(spec, warnings.append)
        assert isinstance(sink, NullSink), spec
    assert len(warnings) == 4 and all('text cues still published' in w for w in warnings)
    assert "'aplay' not found" in warnings[0]


def test_sounddevice_absent_or_deviceless_is_a_warning(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    with caplog.at_level(logging.WARNING, logger='rep_coach.audio'):
        sink = make_sink('sounddevice')
    # Either a real device exists here, or it degraded with a logged warning.
    assert isinstance(sink, NullSink) == bool(caplog.records)


def test_ros_style_logger_is_accepted() -> None:
    class RosLogger:

        def __init__(self) -> None:
            self.got: List[str] = []

        def warning(self, msg: str) -> None:
            self.got.append(msg)

    log = RosLogger()
    EspeakTTS(command='no-such-espeak', logger=log)
    assert len(log.got) == 1


def test_wav_sink_writes_numbered_files_and_index(tmp_path: Path) -> None:
    out = tmp_path / 'cues'
    tts = EspeakTTS() if HAVE_ESPEAK else None
    player = AudioCuePlayer(make_sink(f'wav:{out}'), tts, tone_hz=1000.0)
    policy = CoachingPolicy(CoachingConfig(rep_cue='tone'))
    sent: List[Cue] = []
    for i in range(1, 4):
        sent += policy.on_rep(RepEvent(1, i, i - 1.0, float(i), i + 0.05), float(i))
    sent += policy.flush(20.0)
    for c in sent:
        player.play(c)
    player.close()
    lines = [json.loads(x) for x in (out / 'index.jsonl').read_text().splitlines()]
    assert [x['cue'] for x in lines] == [1, 2, 3, 4]
    assert [x['text'] for x in lines] == ['one', 'two', 'three', 'three reps']
    assert [x['kind'] for x in lines] == ['rep', 'rep', 'rep', 'summary']
    for entry in lines:
        for key in ('event_stamp', 'play_start', 'file', 'latency_ms', 'enqueued'):
            assert entry[key] is not None, key
        assert entry['play_start'] >= entry['enqueued']
    assert lines[0]['event_stamp'] == pytest.approx(1.05)
    files = sorted(p.name for p in out.glob('*.wav'))
    assert files == [x['file'] for x in lines] == ['0001_rep.wav', '0002_rep.wav',
                                                   '0003_rep.wav', '0004_summary.wav']
    first = Clip.from_wav_bytes((out / files[0]).read_bytes())
    assert abs(dominant_frequency(first) - 1000.0) < 5.0
    last = Clip.from_wav_bytes((out / files[-1]).read_bytes())
    assert rms(last) > 0.02
    if HAVE_ESPEAK:
        assert last.duration > 0.5     # spoken summary, not the fallback chime


def test_wav_sink_keeps_an_earlier_sessions_files_and_numbers_on(tmp_path: Path) -> None:
    # Before: a second session deleted the first's 0001_rep.wav ... and truncated its index.
    out = tmp_path / 'cues'
    out.mkdir()
    (out / '0007_notes.wav').write_bytes(b'not ours')   # not the sink's name: not counted
    for texts in (['one', 'two'], ['one']):
        player = AudioCuePlayer(make_sink(f'wav:{out}'), None)
        for text in texts:
            player.play(cue(text))
        player.close()
    lines = [json.loads(x) for x in (out / 'index.jsonl').read_text().splitlines()]
    assert [(x['cue'], x['text'], x['file']) for x in lines] == [
        (1, 'one', '0001_rep.wav'), (2, 'two', '0002_rep.wav'), (1, 'one', '0003_rep.wav')]
    assert sorted(p.name for p in out.glob('*.wav')) == [
        '0001_rep.wav', '0002_rep.wav', '0003_rep.wav', '0007_notes.wav']
    assert (out / '0007_notes.wav').read_bytes() == b'not ours'


def test_wav_sink_keeps_a_burst_in_order(tmp_path: Path) -> None:
    player = AudioCuePlayer(make_sink(f'wav:{tmp_path}'), None)
    assert player.lossless
    for i in range(1, 41):
        player.play(cue(number_to_words(i), rep_index=i))
    player.close()
    lines = (tmp_path / 'index.jsonl').read_text().splitlines()
    assert [json.loads(x)['text'] for x in lines] == [number_to_words(i) for i in range(1, 41)]


# --------------------------------------------------------------------- player

def test_newer_cue_supersedes_stale_one_and_stop_is_never_dropped() -> None:
    sink = GateSink()
    player = AudioCuePlayer(sink, None, interrupt_priority=None)
    try:
        t0 = time.perf_counter()
        player.play(cue('one', rep_index=1))
        assert sink.started.wait(2.0)          # 'one' is playing, the gate holds it
        player.play(cue('two', rep_index=2))
        player.play(cue('three', rep_index=3))  # supersedes the stale 'two'
        player.play(cue('stop', 'stop', rep_index=3))  # supersedes 'three'
        player.play(cue('four', rep_index=4))  # must not push the stop out
        assert time.perf_counter() - t0 < 0.5   # never blocked on the busy sink
        sink.gate.set()
        deadline = time.monotonic() + 2.0
        while len(sink.played) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        sink.gate.set()
        assert player.wait_idle(2.0)
        assert sink.played == ['one', 'stop']
        dropped = [(c.cue.text, c.dropped) for c in player.history if c.dropped]
        assert dropped == [('two', 'superseded'), ('three', 'superseded'),
                           ('four', 'superseded')]
        assert player.stats.superseded == 3 and player.stats.played == 2
    finally:
        sink.gate.set()
        player.close(drain=False)


def test_stop_interrupts_a_playing_count() -> None:
    sink = GateSink()
    player = AudioCuePlayer(sink, None)      # default: stop cuts lower priority
    try:
        player.play(cue('seven', rep_index=7))
        assert sink.started.wait(2.0)
        player.play(cue('stop', 'stop', rep_index=7))
        deadline = time.monotonic() + 2.0
        while len(sink.played) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert sink.played == ['seven', 'stop'] and sink.interrupts == 1
        stop_ctx = [c for c in player.history if c.cue.text == 'seven'][0]
        assert stop_ctx.end_mono is not None
    finally:
        sink.gate.set()
        player.close(drain=False)


def test_play_is_non_blocking_and_close_drops_pending() -> None:
    sink = GateSink()
    player = AudioCuePlayer(sink, None)
    player.play(cue('one'))
    assert sink.started.wait(2.0)
    t0 = time.perf_counter()
    player.play(cue('two'))
    assert time.perf_counter() - t0 < 0.01
    sink.gate.set()
    player.close(drain=False)
    player.play(cue('three'))                # after close: ignored, no error
    assert sink.played in (['one'], ['one', 'two'])


@needs_espeak
def test_cached_speech_cue_starts_within_50ms() -> None:
    tts = EspeakTTS()
    player = AudioCuePlayer(NullSink(), tts)
    player.prerender(['eight', 'stop'], background=False)
    for text, kind in (('eight', 'rep'), ('stop', 'stop')):
        player.play(cue(text, kind))
        assert player.wait_idle(2.0)
    player.play(cue('x', 'rep', audio=AUDIO_TONE))
    player.close()
    lat = [c.latency_s for c in player.history]
    assert len(lat) == 3 and all(x is not None and x < 0.05 for x in lat), lat


@pytest.mark.skipif(shutil.which('aplay') is None, reason='aplay not installed')
def test_aplay_to_null_device_plays() -> None:
    warnings: List[str] = []
    sink = make_sink('aplay:null', warnings.append)
    assert isinstance(sink, CommandSink) and '-D' in sink.argv and not warnings
    player = AudioCuePlayer(sink, None, logger=warnings.append)
    player.play(cue('x', audio=AUDIO_TONE))
    player.close()
    ctx = player.history[0]
    assert ctx.error is None and ctx.latency_s is not None and ctx.latency_s < 0.05
    assert not warnings


@pytest.mark.skipif(shutil.which('aplay') is None, reason='aplay not installed')
def test_aplay_bad_device_warns_once_and_text_flows() -> None:
    warnings: List[str] = []
    sink = make_sink('aplay:no_such_pcm_device', warnings.append)
    player = AudioCuePlayer(sink, None, logger=warnings.append)
    for i in range(3):
        player.play(cue(number_to_words(i + 1), audio=AUDIO_TONE))
        player.wait_idle(2.0)
    player.close()
    assert len(warnings) == 1 and 'aplay' in warnings[0]
    assert player.stats.errors == 3


def test_build_player_never_raises_for_missing_pieces(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PATH', str(tmp_path))          # no espeak-ng, no aplay
    warnings: List[str] = []
    player = build_player(sink='aplay', logger=warnings.append, phrases=['one'])
    assert isinstance(player.sink, NullSink) and len(warnings) == 2
    player.play(cue('one'))
    player.close()
    assert player.stats.played == 1


def test_tts_cache_keeps_prerendered_cues_and_only_a_few_other_phrases(tmp_path):
    import shutil as _shutil
    from rep_coach.audio.tts import EspeakTTS
    if _shutil.which('espeak-ng') is None:
        pytest.skip('espeak-ng not installed')
    tts = EspeakTTS()
    tts.prerender(['one', 'two'], background=False)
    for k in range(EspeakTTS.MAX_UNPINNED + 3):
        assert tts.render(f'set {k} done') is not None
    assert len(tts) == 2 + EspeakTTS.MAX_UNPINNED
    assert tts.cached('one') is not None and tts.cached('two') is not None
    assert tts.cached('set 0 done') is None
    assert tts.cached(f'set {EspeakTTS.MAX_UNPINNED + 2} done') is not None
