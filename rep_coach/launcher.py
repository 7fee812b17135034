"""
A small process launcher that plays the part of ``ros2 launch`` where ROS is absent.

It starts every node as its own process with the same ``--ros-args`` a ROS launch
would pass (``__node``, ``__ns``, ``--params-file``, ``-p``), prefixes their output
like ``ros2 launch`` (``[imu_publisher-1] ...``), reports a node that dies with its
exit code (and restarts it when ``respawn`` is set), and stops everything cleanly on
SIGINT/SIGTERM: first the coaching nodes, then the recorder, so the recording holds
the last cue and is finalised.

Every node of the graph is *required* (``ros2 launch``'s ``on_exit=Shutdown()``, which
``launch/rep_coach.launch.py`` sets the same way): when one exits and is not respawned,
the others are stopped, at once if it failed, :data:`DRAIN_S` later if it finished cleanly
(a finite source with ``shutdown_when_done``), and a failure makes :meth:`Launcher.run`
return 1.  Without this a node that failed at start (a missing CSV, a corrupt model) left
the rest running forever, doing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import errno
import fcntl
import json
import logging
import os
from pathlib import Path
import random
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, IO, List, Optional

from rep_coach.core.params import NODE_PARAMS, ParameterError, validate_all
from rep_coach.params_file import (load_params_file, params_for_node, ParamsEntry,
                                   ParamsFileError)
from rep_coach.ros_names import fully_qualified_name, normalize_namespace, params_key_matches

LOG = logging.getLogger('launch')
#: Seconds a node gets to exit after SIGINT before SIGTERM, then SIGKILL (as ros2 launch).
SIGINT_TIMEOUT_S = 5.0
SIGTERM_TIMEOUT_S = 3.0
#: The recorder stops last so the bag holds everything the other nodes said.
LAST_TO_STOP = ('session_recorder',)
#: Seconds the graph runs on after a required node finished cleanly, so the others handle
#: its last messages (the last rep's event, cue and recording) before they are stopped.
DRAIN_S = 2.0
#: Exit codes of a node that did not fail: finished, or stopped by SIGINT (as 128 + 2 too).
CLEAN_EXIT_CODES = (0, -signal.SIGINT, 128 + signal.SIGINT)


def node_failed(code: int) -> bool:
    """Return whether a node's exit code is a failure (not a clean finish or a SIGINT)."""
    return code not in CLEAN_EXIT_CODES


def required_exit_reason(process: str, code: int) -> str:
    """Say why the graph stops after the required node ``process`` exited with ``code``."""
    if node_failed(code):
        return f'{process} failed (exit code {code}) and the graph cannot run without it'
    return f'{process} finished (exit code {code}), so the graph is done'


class LaunchError(RuntimeError):
    """A launch that cannot start; the message names the culprit."""


#: Domains an isolated run may claim: 1-101 and 215-232, the ids the ROS 2 docs
#: ("About Domain ID") call safe on Linux.  Cyclone's ports for domain d are
#: 7400 + 250 d + {0, 1} and, per participant index i (<= 32 on loopback), + 10 + 2 i
#: and + 11 + 2 i: for these ids they stay out of the kernel's ephemeral range
#: 32768-60999, where any socket may already hold them.  0 is the user's own graph's.
ISOLATED_DOMAINS = tuple(range(1, 102)) + tuple(range(215, 233))


class DomainClaim:
    """
    A ROS domain this process holds against every other claim of this user's.

    The hold is an exclusive ``flock`` on the domain's lock file: the kernel drops it
    when the process exits however it ends, so no claim outlives its holder.  The lock
    files are per user (an owner-only directory), so runs of two users on one machine
    do not see each other's claims.
    """

    def __init__(self, domain: int, fd: int) -> None:
        self.domain = domain
        # A bare descriptor, not a file object: garbage collection never closes it, so
        # a claim nobody references any more is still held until release() or exit.
        self._fd: Optional[int] = fd

    @property
    def held(self) -> bool:
        """Whether the claim is still held."""
        return self._fd is not None

    def release(self) -> None:
        """Give the domain back (idempotent); only when no graph of ours still uses it."""
        if self._fd is not None:
            os.close(self._fd)         # closing the only descriptor drops the flock
            self._fd = None

    def __enter__(self) -> 'DomainClaim':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return f'DomainClaim(domain={self.domain}, held={self.held})'


def domain_lock_dir() -> Path:
    """Return this user's directory of domain lock files (owner-only), creating it."""
    path = Path(tempfile.gettempdir()) / f'rep_coach-domains-{os.getuid()}'
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise LaunchError(f'domain lock directory {path}: {exc.strerror or exc}') from exc
    # A shared temp dir: refuse a directory (or symlink) someone else put there.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise LaunchError(f'domain lock directory {path}: not a directory owned by this '
                          'user; remove it')
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def claim_domain() -> DomainClaim:
    """
    Claim a free domain of :data:`ISOLATED_DOMAINS`, trying them in random order.

    Raises LaunchError when every one is held, by this process or another of this user.
    """
    lock_dir = domain_lock_dir()
    # SystemRandom: the global generator may be seeded alike in parallel test runs.
    for domain in random.SystemRandom().sample(ISOLATED_DOMAINS, len(ISOLATED_DOMAINS)):
        path = lock_dir / f'domain-{domain}.lock'
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise LaunchError(f'domain lock file {path}: {exc.strerror or exc}') from exc
        try:
            # flock, not fcntl locks: two descriptors of one process exclude each other too.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                continue
            raise LaunchError(f'domain lock file {path}: {exc.strerror or exc}') from exc
        return DomainClaim(domain, fd)
    raise LaunchError(f'all {len(ISOLATED_DOMAINS)} ROS domains for isolated runs are held '
                      f'by running processes (locks in {lock_dir}); wait for a run to end, '
                      'or set ROS_DOMAIN_ID yourself')


def isolated_env(base: Optional[Dict[str, str]] = None,
                 claim: Optional[DomainClaim] = None) -> Dict[str, str]:
    """
    Return ``base`` (default: ``os.environ``) on loopback only, in a domain of its own.

    For tests, benchmarks and demos that must neither reach nor hear another graph:
    ``ROS_LOCALHOST_ONLY=1`` keeps traffic on loopback, and the domain is one no other
    run of this user on this machine holds.  Without ``claim`` a new domain is claimed and held
    until this process exits, since the children given this environment may run as
    long as it does; pass a :func:`claim_domain` claim to give it back sooner.
    """
    if claim is None:
        claim = claim_domain()
    elif not claim.held:
        raise LaunchError(f'domain {claim.domain} was released; claim another')
    env = dict(os.environ if base is None else base)
    env['ROS_LOCALHOST_ONLY'] = '1'
    env['ROS_DOMAIN_ID'] = str(claim.domain)
    env.pop('ROS_AUTOMATIC_DISCOVERY_RANGE', None)
    return env


@dataclass
class NodeLaunch:
    """
    How to start one node.

    ``required``: the graph cannot run without the node, so when it exits the launcher
    stops the others (``ros2 launch``'s ``on_exit=Shutdown()``); a node with ``respawn``
    is restarted instead.
    """

    executable: str
    name: str = ''
    overrides: Dict[str, Any] = field(default_factory=dict)
    respawn: bool = False
    respawn_delay_s: float = 1.0
    required: bool = True

    def __post_init__(self) -> None:
        self.name = self.name or self.executable


def _param_arg(name: str, value: Any) -> str:
    # JSON is valid YAML, which is how rcl parses -p values: strings stay strings.
    return f'{name}:={json.dumps(value)}'


def node_command(node: NodeLaunch, params_file: Optional[Path], namespace: str) -> List[str]:
    """Return the argv that starts ``node`` with ROS-style arguments."""
    # Through rep_coach.nodes' __main__: a node stopped while importing exits cleanly.
    cmd = [sys.executable, '-m', 'rep_coach.nodes', node.executable, '--ros-args',
           '-r', f'__node:={node.name}']
    if namespace.strip('/'):
        cmd += ['-r', f'__ns:=/{namespace.strip("/")}']
    if params_file is not None:
        cmd += ['--params-file', str(params_file)]
    for key, value in node.overrides.items():
        cmd += ['-p', _param_arg(key, value)]
    return cmd


def validate_params_file(path: Path, nodes: List[NodeLaunch], namespace: str = '') -> None:
    """
    Check every value meant for ``nodes`` (in ``namespace``) against the parameter tables.

    The file's sections apply to a node as they will in the node (rcl's key matching,
    :func:`rep_coach.ros_names.params_key_matches`, on its fully qualified name); a node's
    overrides win over them.  Catches unknown (mistyped) parameter names and bad values
    before any process starts, naming the file, or the override, the node and the parameter.
    """
    try:
        entries = load_params_file(str(path))
    except ParamsFileError as exc:
        raise LaunchError(str(exc)) from exc
    node_ns = normalize_namespace(namespace)
    for node in nodes:
        if node.executable not in NODE_PARAMS:
            continue
        fqn = fully_qualified_name(node_ns, node.name)
        values = _meant_for(node.executable, entries, params_for_node(entries, fqn), fqn)
        values.update(node.overrides)
        try:
            validate_all(node.executable, values)
        except ParameterError as exc:
            if exc.name in node.overrides:
                raise LaunchError(f'{exc} (a value the launch passes as -p, not one from '
                                  f'parameter file {path})') from exc
            raise LaunchError(f'parameter file {path}: {exc}') from exc


#: Parameters rclpy declares in every node itself: valid in any section, not ours to check.
RCLPY_NODE_PARAMS = ('use_sim_time', 'start_type_description_service')


def _meant_for(executable: str, entries: List[ParamsEntry], values: Dict[str, Any],
               fqn: str) -> Dict[str, Any]:
    """
    Return the file's ``values`` for a node without those meant for other nodes.

    rcl hands a node every value of every section whose key matches it, and a node
    ignores what it does not declare: a ``/**`` section may set ``playback_speed`` for
    imu_publisher alone.  So a name this node does not know counts as a mistake only
    when a section naming this node exactly gives it, or when no rep_coach node (nor
    rclpy itself) declares it: a typo.
    """
    own = {spec.name for spec in NODE_PARAMS[executable]}
    anyone = {spec.name for specs in NODE_PARAMS.values() for spec in specs}
    anyone.update(RCLPY_NODE_PARAMS)
    exact = {name for entry in entries if '*' not in entry.node_key
             and params_key_matches(entry.node_key, fqn) for name in entry.params}
    return {name: value for name, value in values.items()
            if name in own or name in exact or name not in anyone}


def _load_prctl() -> Optional[Callable[..., int]]:
    try:
        import ctypes
        return ctypes.CDLL('libc.so.6', use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Prepared once in the parent: between fork and exec only two bare system calls run
# (prctl, sigprocmask), nothing that takes a lock another thread may have held.
_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1
_SIGINT_ONLY = frozenset({signal.SIGINT})


def _prepare_child() -> None:
    """
    Between fork and exec: tie the child to the launcher, hold SIGINT until it can stop.

    The kernel SIGTERMs the child if the launcher dies (Linux only).  SIGINT is blocked
    across the exec, and ``rep_coach.nodes.__main__`` unblocks it once its handler is in
    place.  A graph stopped in the first milliseconds (one node failing fast) otherwise
    interrupts an interpreter still starting, which dies of the signal (exit code -2, no
    word) or of a KeyboardInterrupt.  Blocked, the SIGINT waits and becomes a clean stop.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGINT_ONLY)


@dataclass
class _Running:
    node: NodeLaunch
    number: int
    proc: subprocess.Popen
    pump: threading.Thread
    stopping: bool = False
    restarts: int = 0


class Launcher:
    """Start, watch and stop a set of node processes."""

    def __init__(self, nodes: List[NodeLaunch], params_file: Optional[Path] = None,
                 namespace: str = '', env: Optional[Dict[str, str]] = None,
                 output: IO[str] = sys.stderr, drain_s: float = DRAIN_S) -> None:
        self.nodes = nodes
        self.params_file = params_file
        self.namespace = namespace
        self.env = dict(os.environ if env is None else env)
        self.output = output
        self.drain_s = drain_s
        self.exit_codes: Dict[str, List[int]] = {}
        #: Why the graph is stopping on its own (a required node exited), or None.
        self.stop_reason: Optional[str] = None
        self._stop_at: Optional[float] = None
        self._running: Dict[str, _Running] = {}
        self._counter = 0
        self._stop = threading.Event()
        self._out_lock = threading.Lock()

    # -- starting ---------------------------------------------------------------------

    def start(self) -> None:
        """Validate the parameters, then start every node."""
        if self.params_file is not None:
            validate_params_file(self.params_file, self.nodes, self.namespace)
        for node in self.nodes:
            self._spawn(node)

    def _spawn(self, node: NodeLaunch, restarts: int = 0) -> None:
        self._counter += 1
        cmd = node_command(node, self.params_file, self.namespace)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=self.env, text=True,
                                bufsize=1, start_new_session=True,
                                preexec_fn=_prepare_child)
        label = f'{node.name}-{self._counter}'
        pump = threading.Thread(target=self._pump, args=(label, proc.stdout), daemon=True)
        pump.start()
        self._running[node.name] = _Running(node, self._counter, proc, pump,
                                            restarts=restarts)
        self._say(f'[INFO] [launch]: process started with pid [{proc.pid}]: {label}')

    def _pump(self, label: str, stream: IO[str]) -> None:
        for line in stream:
            self._say(f'[{label}] {line.rstrip()}')

    def _say(self, line: str) -> None:
        with self._out_lock:
            print(line, file=self.output, flush=True)

    # -- watching ---------------------------------------------------------------------

    def pids(self) -> Dict[str, int]:
        """Return the pid of every running node."""
        return {name: r.proc.pid for name, r in self._running.items()}

    def alive(self, name: str) -> bool:
        """Whether node ``name`` is running."""
        run = self._running.get(name)
        return run is not None and run.proc.poll() is None

    def poll(self) -> None:
        """
        Report nodes that exited; restart those with ``respawn``.

        A required node's exit schedules the stop of the graph (:meth:`run` carries it
        out): at once after a failure, ``drain_s`` later after a clean finish.
        """
        for name, run in list(self._running.items()):
            code = run.proc.poll()
            if code is None or run.stopping:
                continue
            run.pump.join(timeout=1.0)
            self.exit_codes.setdefault(name, []).append(code)
            label = f'{name}-{run.number}'
            if code == 0:
                self._say(f'[INFO] [launch]: process[{label}]: process has finished cleanly '
                          f'[pid {run.proc.pid}]')
            else:
                self._say(f'[ERROR] [launch]: process[{label}] process has died '
                          f'[pid {run.proc.pid}, exit code {code}, cmd '
                          f'\'{" ".join(run.proc.args)}\'].')
            del self._running[name]
            if run.node.respawn and not self._stop.is_set():
                self._say(f'[INFO] [launch]: respawning {name} in '
                          f'{run.node.respawn_delay_s:.1f} s')
                time.sleep(run.node.respawn_delay_s)
                self._spawn(run.node, run.restarts + 1)
            elif run.node.required and not self._stop.is_set():
                self._required_exited(label, code)

    def _required_exited(self, label: str, code: int) -> None:
        reason = required_exit_reason(label, code)
        others = ', '.join(self._running) or 'none left'
        if node_failed(code):
            self.stop_reason = reason
            self._say(f'[ERROR] [launch]: {reason}: stopping {others}')
            self._stop.set()
        elif self._stop_at is None:
            self.stop_reason = reason
            self._stop_at = time.monotonic() + self.drain_s
            self._say(f'[INFO] [launch]: {reason}: stopping {others} in {self.drain_s:.1f} s, '
                      'once they have handled its last messages')

    def run(self, duration: Optional[float] = None,
            until: Optional[Callable[['Launcher'], bool]] = None,
            handle_signals: bool = True) -> int:
        """
        Start the nodes, watch them until a signal, ``duration`` or ``until``; stop all.

        A required node that exits stops the graph too (see :meth:`poll`).  Returns 0 when
        every node ended cleanly, 1 when one died with an error.
        """
        previous = {}
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: self._stop.set())
        try:
            self.start()
            deadline = None if duration is None else time.monotonic() + duration
            while not self._stop.is_set():
                self.poll()
                if not self._running:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if until is not None and until(self):
                    break
                if self._stop_at is not None and time.monotonic() >= self._stop_at:
                    break
                self._stop.wait(0.1)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        failed = any(node_failed(code) for codes in self.exit_codes.values() for code in codes)
        return 1 if failed else 0

    # -- stopping ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Make ``run`` stop at its next check (thread- and signal-safe)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop every node: SIGINT, then SIGTERM, then SIGKILL; the recorder last."""
        self._stop.set()
        first = [r for n, r in self._running.items() if n not in LAST_TO_STOP]
        last = [r for n, r in self._running.items() if n in LAST_TO_STOP]
        for group in (first, last):
            self._stop_group(group)
        for name, run in list(self._running.items()):
            run.pump.join(timeout=2.0)
            code = run.proc.returncode
            self.exit_codes.setdefault(name, []).append(code)
            if code not in (0, None):
                self._say(f'[WARN] [launch]: process[{name}-{run.number}] exited with '
                          f'code {code} on shutdown')
        self._running.clear()

    def _stop_group(self, group: List[_Running]) -> None:
        alive = [r for r in group if r.proc.poll() is None]
        for sig, timeout in ((signal.SIGINT, SIGINT_TIMEOUT_S),
                             (signal.SIGTERM, SIGTERM_TIMEOUT_S), (signal.SIGKILL, 5.0)):
            for run in alive:
                run.stopping = True
                if run.proc.poll() is None:
                    run.proc.send_signal(sig)
            deadline = time.monotonic() + timeout
            for run in alive:
                try:
                    run.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            alive = [r for r in alive if r.proc.poll() is None]
            if not alive:
                return
            self._say(f'[WARN] [launch]: {", ".join(r.node.name for r in alive)} did not '
                      f'exit after {signal.Signals(sig).name}; escalating')


#: The coaching graph, in start order (the same nodes the launch file starts).
GRAPH = ('imu_publisher', 'rep_segmenter', 'near_failure_classifier', 'audio_feedback')
#: Readers of imu/data_raw in :func:`standard_graph` with the recorder (rep_segmenter,
#: near_failure_classifier, session_recorder): what ``wait_for_subscribers`` should be for
#: a run whose first samples every reader must see.  audio_feedback reads imu/clock instead.
IMU_READERS = 2


def standard_graph(source: Optional[str] = None, record_dir: Optional[str] = None,
                   overrides: Optional[Dict[str, Dict[str, Any]]] = None,
                   respawn: Optional[List[str]] = None) -> List[NodeLaunch]:
    """
    Return the coaching graph, plus the recorder when ``record_dir`` is given.

    ``overrides`` maps node name -> parameters that win over the YAML (like ``-p``).
    """
    overrides = {k: dict(v) for k, v in (overrides or {}).items()}
    if source:
        overrides.setdefault('imu_publisher', {})['source'] = source
    names = list(GRAPH)
    if record_dir:
        names.append('session_recorder')
        overrides.setdefault('session_recorder', {})['bag_dir'] = str(record_dir)
    unknown = set(respawn or []) - set(names)
    if unknown:
        raise LaunchError(f'--respawn names nodes that are not launched: {sorted(unknown)}')
    return [NodeLaunch(name, overrides=overrides.get(name, {}),
                       respawn=name in (respawn or [])) for name in names]
