"""
``rep-coach``: one command for the graph, replay, evaluation, training and tools.

Each subcommand lives in ``rep_coach/cli/<name>.py`` with ``add_parser(subparsers)``
and ``run(args) -> int``; modules are imported only when their subcommand runs so
``rep-coach --help`` stays fast and optional extras (torch, mediapipe) stay optional.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import sys
from typing import List, Optional

from rep_coach import __version__

#: (subcommand, module, one-line help) in the order ``--help`` lists them.
SUBCOMMANDS = [
    ('demo', 'demo', 'run the whole graph on a simulated set to failure and summarise it'),
    ('launch', 'launch', 'start every node as its own process, as ros2 launch would'),
    ('play', 'play', 'replay a recorded session bag onto the graph (like ros2 bag play)'),
    ('repair', 'repair', 'recover a session bag whose recording was cut (crash, power loss)'),
    ('evaluate', 'evaluate', 'score the learned pipeline and the baseline on labelled data'),
    ('plot', 'plot', 'draw a set: IMU, true and detected reps, near-failure probability'),
    ('train', 'train', 'train the learned segmenter and classifier (needs the train extra)'),
    ('bench', 'bench', 'measure inference, graph latency, CPU and memory side by side'),
    ('form', 'form', 'camera form coaching on an image, video or camera (pose extra)'),
]


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """Build the top-level parser; only ``command``'s module is imported for its options."""
    parser = argparse.ArgumentParser(
        prog='rep-coach',
        description='Wrist-IMU strength-training coach: rep counting, near-failure '
                    'detection and audio cues on a ROS 2 node graph (runs without ROS '
                    'on Cyclone DDS).')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}',
                        help="print rep_coach's version and exit")
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, module, help_text in SUBCOMMANDS:
        if name == command:
            _import(module).add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def _import(module: str):
    return importlib.import_module(f'{__name__}.{module}')


#: Exit status when the reader of stdout went away (``| head``): the shell's for SIGPIPE.
EXIT_BROKEN_PIPE = 128 + 13


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``rep-coach`` command."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        if not _stdout_gone():
            raise           # another pipe (a child process's, say): a real failure
        # The output was cut by its reader (rep-coach evaluate DIR | head), not a failure
        # of ours: no traceback.  stdout goes to devnull so that Python's flush at exit
        # does not fail on the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _stdout_gone() -> bool:
    """Tell whether stdout's reader has closed it (poll flags a readerless pipe)."""
    poller = select.poll()
    poller.register(sys.stdout.fileno(), select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _main(argv: List[str]) -> int:
    names = {name: module for name, module, _ in SUBCOMMANDS}
    command = next((a for a in argv if not a.startswith('-')), None)
    command = command if command in names else None
    try:
        parser = build_parser(command)
    except ImportError as exc:
        # A subcommand whose module needs a missing optional extra says which.
        print(f'rep-coach {command}: unavailable here: {exc}', file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='[%(levelname)s] [%(name)s]: %(message)s')
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(_import(names[args.command]).run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
