"""The ``cnnbook`` command: ``cnnbook assign`` writes the students' exercise notebooks and the
grading bundles from the chapters, ``cnnbook grade SUBMISSIONS/`` grades a folder of notebooks,
``cnnbook reproduce`` trains the notes' models in full mode and ``cnnbook bench`` times training.
"""

import argparse
import importlib
import sys
from pathlib import Path

from cnnbook import assignments, grading

# Subcommands that are whole programs of their own, with their own options (--help lists them).
PROGRAMS = {
    "reproduce": ("cnnbook.reproduce", "train the notes' models in full mode (the report)"),
    "bench": ("cnnbook.bench", "time one training epoch: the book, plain Keras, plain PyTorch"),
}


def positive(text: str) -> float:
    """An argparse type: a number greater than zero."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main(argv=None):
    """Run the command line given (default: sys.argv)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PROGRAMS:
        return importlib.import_module(PROGRAMS[argv[0]][0]).main(argv[1:])
    parser = argparse.ArgumentParser(prog="cnnbook", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, summary) in PROGRAMS.items():
        commands.add_parser(name, help=summary, add_help=False)
    assign = commands.add_parser(
        "assign", help="write the exercise notebooks (student/) and grading bundles (grading/)"
    )
    assign.add_argument(
        "chapters", nargs="*", help="chapters such as 03_parameters (default: all in _toc.yml)"
    )
    assign.add_argument("--book", default=".", help="the book's root folder (default: .)")
    assign.add_argument("--out", help="where to write (default: BOOK/_build/assignments)")
    grade = commands.add_parser(
        "grade", help="grade a folder of notebooks: scores.csv and feedback/ in --out"
    )
    grade.add_argument("submissions", help="folder of submitted notebooks, one per student")
    grade.add_argument("--out", default="_build/grades", help="default: _build/grades")
    grade.add_argument(
        "--bundles",
        default="_build/assignments/grading",
        help="the grading bundles of `cnnbook assign` (default: _build/assignments/grading)",
    )
    grade.add_argument(
        "--timeout", type=positive, default=300, help="seconds per notebook (default: 300)"
    )
    grade.add_argument(
        "--memory-gb", type=positive, default=4, help="memory per notebook (default: 4)"
    )
    grade.add_argument("--jobs", type=int, help="notebooks graded at once (default: one per core)")
    grade.add_argument(
        "--chapter", help="grade every file as this chapter's notebook (default: its metadata)"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "assign":
            out = args.out or Path(args.book) / "_build" / "assignments"
            assignments.assign(args.book, out, args.chapters or None)
        else:
            limits = grading.Limits(timeout=args.timeout, memory_gb=args.memory_gb)
            grading.grade(
                args.submissions, args.bundles, args.out, limits, args.jobs, args.chapter
            )
    except ValueError as error:
        parser.exit(2, f"cnnbook {args.command}: {error}\n")
