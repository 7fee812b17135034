"""
``rep-coach repair``: make the bag of a recorder that died complete and readable again.

A thin command over :func:`rep_coach.bagio.repair_bag`: it prints what was found
(one line per problem) and the report, as text or as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import sys

from rep_coach.bagio import BagReadError, BagWriteError, repair_bag
from rep_coach.cli.checks import fail

LOG = logging.getLogger('repair')

#: Exit status: repaired, or nothing needed repair.
EXIT_OK = 0
#: Exit status: the repair could not write (read-only directory, disk full).
EXIT_WRITE_FAILED = 1
#: Exit status: BAG is not a repairable bag (missing, not a directory, not MCAP, files
#: of several recordings), or part of it could not be recovered (left untouched).
EXIT_BAD_INPUT = 2

DESCRIPTION = """\
Repair a session bag whose recording was cut (the recorder crashed, was killed or
lost power), so that ros2 bag, rosbags and the mcap tools read it like a bag that
was closed cleanly.  rep-coach play and evaluate read such a bag as it is while
its metadata.yaml is there (the recorder writes it as each file begins); other
tools need it repaired, and so does a bag whose metadata.yaml is lost.

What it recovers:
  - every message flushed before the cut (the recorder flushes every
    flush_interval_s, 1 s by default): the file being written is finalised with
    its index, summary and footer;
  - a file cut or damaged in the middle: every complete chunk up to the first one
    whose CRC does not match;
  - a file whose header (the MCAP magic, its first 8 bytes) is damaged: the records
    after it;
  - files the recorder began but had not yet listed, files listed with wrong
    message counts, and a missing or garbled metadata.yaml (rebuilt from the
    files, topic QoS taken from their channels);
  - bags of earlier rep_coach versions (.<bag>_<i>.inprogress/ work directories).

What it cannot recover:
  - messages that were still buffered when the recorder died (never on disk);
  - anything after the first damaged chunk of a file (reported as bytes lost: from
    the damage to the end of the file);
  - a file of which nothing is readable: left untouched and reported (exit status
    2); only a file with nothing in it (empty, or its header and no record) is
    deleted;
  - a file listed in metadata.yaml that is gone, or empty though metadata.yaml
    lists messages in it (reported as missing, its messages lost; when no readable
    file is left, metadata.yaml and the files are left as they were and the exit
    status is 2);
  - bags in another storage than MCAP (e.g. sqlite3): refused, unchanged.

Files of another recording (named <name>_<i>.mcap with another name than the
bag's files, e.g. copied in by mistake) are left untouched, reported and not
listed.  The bag's name is the one of the files metadata.yaml lists (the directory
may have been renamed); without a readable metadata.yaml, files of several names
are refused: move the others out, then repair again.

The report says how many messages metadata.yaml listed and how many of them
were not recovered ("lost 2690 of 4689 messages listed"); before metadata.yaml is
first rewritten, the old one is kept beside it as metadata.yaml.orig (a second
repair keeps that first copy), so the recorder's counts are never lost.

Run it only once the recorder has stopped: it rewrites the file a live recorder
is appending to.  Files are replaced atomically, so a repair that is itself
interrupted can simply be run again; a healthy bag is left as it was.
"""

EPILOG = """\
exit status: 0 repaired or nothing needed repair; 1 the repair could not write
(the message names the file); 2 BAG is not a repairable bag (the message says why),
or part of it could not be recovered (the warnings name the files, left untouched;
--json: "repaired": false, "unreadable", "missing").  When the repair stops on an
error (1, or 2 for a bag that is not repairable), --json prints {"error": MESSAGE}
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``repair`` subcommand."""
    parser = subparsers.add_parser(
        'repair', help='recover a session bag whose recording was cut (crash, power loss)',
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', type=Path, metavar='BAG',
                        help='bag directory (the one holding metadata.yaml and the .mcap files)')
    parser.add_argument('--json', action='store_true',
                        help='print the report as one JSON object instead of text')
    return parser


def run(args: argparse.Namespace) -> int:
    """Repair the bag and report; see :data:`EPILOG` for the exit status."""
    LOG.info('repairing %s', args.bag)
    try:
        report = repair_bag(args.bag)
    except BagReadError as exc:
        return fail('repair', str(exc), args.json, EXIT_BAD_INPUT)
    except BagWriteError as exc:
        return fail('repair', str(exc), args.json, EXIT_WRITE_FAILED)
    except OSError as exc:   # e.g. a directory we may not list
        return fail('repair', f'{exc.filename or args.bag}: {exc.strerror or exc}', args.json,
                    EXIT_BAD_INPUT)
    for warning in report.warnings:
        LOG.warning('%s', warning)
    if args.json:
        json.dump(report.to_dict(), sys.stdout)
        sys.stdout.write('\n')
    else:
        print(report.summary())
    return EXIT_OK if report.repaired else EXIT_BAD_INPUT
