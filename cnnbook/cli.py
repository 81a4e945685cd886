"""The ``cnnbook`` command: one tool per subcommand, each a ``main(argv)`` of its own module,
imported only when asked for (so ``cnnbook reproduce`` never imports the grader).

    cnnbook assign      write the students' exercise notebooks and the grading bundles
    cnnbook grade DIR   grade a folder of notebooks: scores.csv and feedback/
    cnnbook publish     the students' site and student materials, ready to push
    cnnbook reproduce   train the notes' models, or run a chapter, in full mode (the
                        reproduction report)
    cnnbook bench       time one training epoch: the book, plain Keras, plain PyTorch

``cnnbook TOOL --help`` lists a tool's options.
"""

import importlib
import sys

TOOLS = {
    "assign": "cnnbook.course.assignments",
    "grade": "cnnbook.course.grading",
    "publish": "cnnbook.course.publish",
    "reproduce": "cnnbook.lab.reproduce",
    "bench": "cnnbook.lab.bench",
}


def main(argv=None):
    """Run the command line given (default: sys.argv)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in TOOLS:
        problem = (
            f"unknown tool {argv[0]!r}\n\n" if argv and argv[0] not in ("-h", "--help") else ""
        )
        print(problem + __doc__.strip(), file=sys.stderr if problem or not argv else sys.stdout)
        return 2 if problem or not argv else 0
    return importlib.import_module(TOOLS[argv[0]]).main(argv[1:])
