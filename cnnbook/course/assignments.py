"""Exercise notebooks for students and grading bundles, generated from the chapters.

A chapter ends with a section ``## Exercises``. Each exercise is written for sphinx-exercise:

- an ``{exercise}`` directive with a ``:label:`` (the question's name) and the task;
- optionally cells the student is given (a model to read, data);
- ``{solution-start} label`` … ``{solution-end}`` around the reference answer and its checks.
  Answer cells use otter-grader's markers (``x = 42  # SOLUTION``, or ``# BEGIN SOLUTION`` …
  ``# END SOLUTION`` inside a function), which become ``...`` in the student's notebook. A check
  is a code cell tagged ``public-check`` (the student runs it) or ``hidden-check`` (grading
  only): one function whose parameters are named after the answers, then a call to it, so the
  chapter runs every check against the reference answer. Each check is worth one point.

``assign`` turns that section into an otter-grader master notebook and runs ``otter assign``,
which strips the solutions, adds the ``grader.check`` cells and writes the public checks' test
files. It then runs the reference notebook once, every check of each exercise on its reference
answers (a failing check is an error), recording the inputs each check calls a function answer
with (``build_model()``, ``output_side(28, 5, 1, 0)``); and grades that notebook's exported
answers as a submission's are graded (`answers`, `checking`). An answer is a value (numbers,
strings, lists, tuples, dicts, sets, NumPy arrays), a Keras model, or a function whose results
on those inputs are what the checks see. For a chapter NN_name it writes

- ``student/NN_name/``: the exercise notebook and its public checks (``tests/``), for students;
- ``grading/NN_name/``: the reference notebook with the solutions, and ``questions.json``: each
  exercise's label, title, points, checks (public and hidden, with their source) and the
  recorded inputs. It never enters the grading sandbox.

Chapters are assigned side by side, one per core (``--jobs``), each reference kernel on sockets
in its own scratch folder. ``assign --students-only`` writes ``student/`` alone, without running
the reference notebook (seconds, not minutes): ``make book`` does so before building, and the
book links each chapter's student notebook (`cnnbook.book.materials`).
"""

import argparse
import ast
import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import typing
from pathlib import Path

import jupytext
import nbformat
import otter.assign
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

from cnnbook.book import toc
from cnnbook.course import answers, checking, inside

EXERCISES_HEADING = "## Exercises"
PUBLIC_CHECK = "public-check"
HIDDEN_CHECK = "hidden-check"
DIRECTIVE = re.compile(
    r"^(?P<fence>:{3,})\{(?P<name>exercise|solution-start|solution-end)\}\s*(.*?)\s*$"
)
INSTRUCTIONS = """\
Run the cells from the top. Replace each `...` with your answer and run its cell, then run the
check below it: it says whether your answer is correct, gives a hint when it is not, and tells
you when an exercise has not been attempted yet. Grading runs your notebook afresh from top to
bottom, with these checks and further, hidden ones."""
ASSIGNMENT_CONFIG = {
    "init_cell": True,
    "check_all_cell": False,
    "export_cell": False,
    "run_tests": False,  # `_calibrate` runs every check on the reference answers
    "show_question_points": True,
    "solutions_pdf": False,
    "tests": {"files": True, "ok_format": False},
}


class Directive(typing.NamedTuple):
    """An exercise, solution-start or solution-end directive of a chapter's Markdown."""

    name: str
    argument: str
    options: dict
    body: str


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: the task, the cells it gives, its answer cells and checks."""

    label: str
    title: str
    prompt: str
    given: tuple[nbformat.NotebookNode, ...]
    solution: tuple[nbformat.NotebookNode, ...]
    public_checks: tuple[str, ...]
    hidden_checks: tuple[str, ...]

    @property
    def points(self) -> int:
        """One point per check."""
        return len(self.public_checks) + len(self.hidden_checks)


def read_exercises(chapter) -> list[Exercise]:
    """The exercises at the end of a MyST chapter, in order; [] if it has no Exercises section."""
    return [item for item in _read_section(chapter)[1] if isinstance(item, Exercise)]


def master_notebook(chapter) -> nbformat.NotebookNode:
    """The otter-grader master notebook (solutions and checks) of a chapter's exercises."""
    chapter = Path(chapter)
    title, items = _read_section(chapter)
    if not any(isinstance(item, Exercise) for item in items):
        raise ValueError(f"{chapter} has no exercises; add a '{EXERCISES_HEADING}' section")
    config = {"name": chapter.stem, **ASSIGNMENT_CONFIG}
    cells = [
        nbformat.v4.new_raw_cell(
            "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)
        ),
        nbformat.v4.new_markdown_cell(f"# Exercises: {title}\n\n{INSTRUCTIONS}"),
    ]
    for item in items:
        if not isinstance(item, Exercise):
            cells.append(item)
            continue
        cells += [
            nbformat.v4.new_raw_cell(f"# BEGIN QUESTION\nname: {item.label}"),
            nbformat.v4.new_markdown_cell(f"### Exercise: {item.title}\n\n{item.prompt}"),
            *item.given,
            nbformat.v4.new_raw_cell("# BEGIN SOLUTION"),
            *item.solution,
            nbformat.v4.new_raw_cell("# END SOLUTION"),
            nbformat.v4.new_raw_cell("# BEGIN TESTS"),
            *[_test_cell(check, hidden=False) for check in item.public_checks],
            *[_test_cell(check, hidden=True) for check in item.hidden_checks],
            nbformat.v4.new_raw_cell("# END TESTS"),
            nbformat.v4.new_raw_cell("# END QUESTION"),
        ]
    metadata = {"kernelspec": jupytext.read(chapter).metadata["kernelspec"]}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata)


def assign(root, out, chapters=None, students_only=False, jobs=None) -> list[str]:
    """Write the notebook and bundle of each chapter (default: all; only the notebook if
    students_only), jobs chapters at a time (default: one per core); return the ones written."""
    root, out = Path(root), Path(out)
    paths = toc.chapters(root) if chapters is None else [_chapter_path(root, c) for c in chapters]
    written = []
    for path in paths:
        if read_exercises(path):
            written.append(path)
        else:
            print(f"{path.relative_to(root)}: no exercises, skipped")
    jobs = jobs or len(os.sched_getaffinity(0))
    if jobs < 1:
        raise ValueError(f"--jobs {jobs} assigns nothing; give 1 or more (default: one per core)")
    context = multiprocessing.get_context("spawn")  # no state of this process is shared
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        running = [pool.submit(_assign_chapter, path, out, students_only) for path in written]
        for future in running:
            future.result()
    return [path.stem for path in written]


def _assign_chapter(path: Path, out: Path, students_only: bool) -> None:
    """Run otter assign on one chapter and lay its output out under out/."""
    name = path.stem
    with tempfile.TemporaryDirectory(prefix="cnnbook-assign-") as scratch:
        master = Path(scratch) / f"{name}.ipynb"
        nbformat.write(master_notebook(path), master)
        otter.assign.main(str(master), str(Path(scratch) / "dist"), no_pdfs=True)
        dist = Path(scratch) / "dist"
        exercises = read_exercises(path)
        student, grading = out / "student" / name, out / "grading" / name
        if students_only:
            shutil.rmtree(student, ignore_errors=True)
            shutil.copytree(dist / "student", student)
            print(f"{name}: {len(exercises)} exercises -> {student}")
            return
        reference = dist / "autograder" / f"{name}.ipynb"
        manifest = {"chapter": name, "questions": _calibrate(path, reference, exercises)}
        for folder in (student, grading):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(dist / "student", student)
        grading.mkdir(parents=True)
        shutil.copy(reference, grading / f"{name}.ipynb")
    (grading / "questions.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{name}: {len(exercises)} exercises -> {student} and {grading}")


def _calibrate(chapter: Path, reference: Path, exercises: list[Exercise]) -> list[dict]:
    """The questions of a bundle: run the reference notebook, each exercise's checks on its
    answers (recording the inputs of function answers), then the checks on its export."""
    questions = [
        {
            "name": exercise.label,
            "title": exercise.title,
            "points": exercise.points,
            "checks": [
                _check_entry(source, hidden)
                for sources, hidden in (
                    (exercise.public_checks, False),
                    (exercise.hidden_checks, True),
                )
                for source in sources
            ],
        }
        for exercise in exercises
    ]
    with tempfile.TemporaryDirectory(prefix="cnnbook-calibrate-") as scratch:
        folder = Path(scratch) / "answers"
        problems = _run_reference(chapter, reference, questions, folder)
        if problems:
            raise ValueError(
                f"{chapter}: the reference answers fail their own checks; fix the answer or the "
                "check named below\n" + "\n".join(problems)
            )
        problems = _check_export(questions, folder)
        if problems:
            raise ValueError(
                f"{chapter}: the checks pass on the reference answers but not on the answers "
                "as graded (exported as plain data); give answers of the kinds listed in "
                "cnnbook/course/assignments.py\n" + "\n".join(problems)
            )
    return questions


def _run_reference(chapter: Path, reference: Path, questions: list[dict], folder: Path):
    """Run the reference notebook, each check cell replaced by a record of its exercise's
    answers in folder (`answers.record`); add each question's answer names and recorded calls;
    return the problems: the cells' errors and the checks that failed."""
    checks_path = folder.parent / "checks.json"
    checks_path.write_text(json.dumps({q["name"]: q["checks"] for q in questions}))
    notebook = nbformat.read(reference, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or inside.OTTER_INIT in cell.source:
            continue
        match = inside.CHECK_CELL.match(cell.source)
        if match:
            cell = nbformat.v4.new_code_cell(
                '__import__("cnnbook.course.answers", fromlist=["record"]).record('
                f"{match.group(1)!r}, {str(checks_path)!r}, globals(), {str(folder)!r})"
            )
        cells.append(cell)
    notebook.cells = cells
    # Sockets in this scratch folder: chapters assigned side by side never race for a port.
    sockets = {"transport": "ipc", "ip": str(folder.parent / "kernel")}
    client = NotebookClient(
        notebook,
        timeout=None,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
        config=Config({"KernelManager": sockets}),
    )
    try:
        client.execute()
    except DeadKernelError:
        raise ValueError(
            f"{chapter}: the kernel died while it ran the reference answers; a cell ended "
            "Python or used up the memory, so run the chapter to find it"
        ) from None
    problems = [
        f"{output['ename']}: {output['evalue']}"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    for question in questions:
        recorded = json.loads((folder / f"{question['name']}-record.json").read_text())
        problems += recorded["failures"]
        question["names"] = answers.names(question["checks"])
        question["calls"] = recorded["calls"]
    return problems


def _check_export(questions: list[dict], folder: Path) -> list[str]:
    """The checks that fail on the reference's export in folder, as the grader runs them."""
    results = checking.check_all({"questions": questions}, folder)
    return [
        f"{check['function']}: {outcome['error']} {outcome['message']}"
        for question in questions
        for check, outcome in zip(
            question["checks"], results[question["name"]]["checks"], strict=True
        )
        if not outcome["passed"]
    ]


def _check_entry(source: str, hidden: bool) -> dict:
    """A check as the bundle stores it: its function's name and parameters, and its source."""
    function, parameters = answers.parameters(source)
    return {"function": function, "parameters": parameters, "hidden": hidden, "source": source}


def _chapter_path(root: Path, chapter: str) -> Path:
    """The chapter file for a name such as '03_parameters' (or a path to it)."""
    for path in toc.chapters(root):
        if chapter in (path.stem, str(path), str(path.relative_to(root))):
            return path
    names = ", ".join(path.stem for path in toc.chapters(root))
    raise ValueError(f"{chapter!r} is not a chapter of the book; choose from {names}")


def _read_section(chapter) -> tuple[str, list]:
    """The chapter's title and its Exercises section as cells and Exercise items, in order."""
    chapter = Path(chapter)
    notebook = jupytext.read(chapter)
    title = next(
        (
            line[2:].strip()
            for cell in notebook.cells
            if cell.cell_type == "markdown"
            for line in cell.source.splitlines()
            if line.startswith("# ")
        ),
        chapter.stem,
    )
    pieces, started = [], False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            text = cell.source
            if not started:
                lines = text.splitlines()
                if EXERCISES_HEADING not in (line.strip() for line in lines):
                    continue
                started = True
                heading = [line.strip() for line in lines].index(EXERCISES_HEADING)
                text = "\n".join(lines[heading + 1 :])
            pieces += _markdown_pieces(text, chapter)
        elif started and cell.cell_type == "code":
            pieces.append(cell)
    return title, _group(pieces, chapter)


def _markdown_pieces(text: str, chapter: Path) -> list:
    """Split Markdown into markdown cells and the exercise and solution Directives between them."""
    pieces, plain, lines, index = [], [], text.splitlines(), 0
    while index < len(lines):
        match = DIRECTIVE.match(lines[index])
        if match is None:
            plain.append(lines[index])
            index += 1
            continue
        if "\n".join(plain).strip():
            pieces.append(nbformat.v4.new_markdown_cell("\n".join(plain).strip()))
        plain = []
        fence, name, argument = match.group("fence"), match.group("name"), match.group(3)
        end = index + 1
        while end < len(lines) and not re.fullmatch(f"{fence}:*\\s*", lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"{chapter}: the {{{name}}} directive is never closed; add {fence}")
        body = lines[index + 1 : end]
        options = {}
        while body and re.match(r"^:[\w-]+:", body[0]):
            key, _, value = body.pop(0)[1:].partition(":")
            options[key] = value.strip()
        pieces.append(Directive(name, argument, options, "\n".join(body).strip()))
        index = end + 1
    if "\n".join(plain).strip():
        pieces.append(nbformat.v4.new_markdown_cell("\n".join(plain).strip()))
    return pieces


def _group(pieces: list, chapter: Path) -> list:
    """Gather each exercise with its given cells, solution and checks; other cells pass through."""
    items, current, state = [], None, "outside"
    for piece in pieces:
        if not isinstance(piece, Directive):
            tags = piece.metadata.get("tags", [])
            if state == "solution" and (PUBLIC_CHECK in tags or HIDDEN_CHECK in tags):
                key = "hidden_checks" if HIDDEN_CHECK in tags else "public_checks"
                current[key].append(_check_source(piece.source, current["label"], chapter))
            elif state in ("given", "solution"):
                current[state].append(_plain_cell(piece))
            elif piece.cell_type == "code" or items:  # the section's introduction is the book's
                items.append(_plain_cell(piece))
        elif piece.name == "exercise":
            if state != "outside":
                raise ValueError(f"{chapter}: exercise {current['label']!r} has no solution-end")
            if not piece.options.get("label"):
                raise ValueError(f"{chapter}: the exercise {piece.argument!r} needs a :label:")
            current = {
                "label": piece.options["label"],
                "title": piece.argument,
                "prompt": piece.body,
                "given": [],
                "solution": [],
                "public_checks": [],
                "hidden_checks": [],
            }
            state = "given"
        elif piece.name == "solution-start":
            if state != "given" or piece.argument != current["label"]:
                raise ValueError(
                    f"{chapter}: solution-start {piece.argument!r} does not follow its exercise; "
                    "put it right after the exercise with that :label:"
                )
            state = "solution"
        else:  # solution-end
            if state != "solution":
                raise ValueError(f"{chapter}: a solution-end has no solution-start before it")
            items.append(_exercise(current, chapter))
            current, state = None, "outside"
    if state != "outside":
        raise ValueError(f"{chapter}: exercise {current['label']!r} has no solution-end")
    return items


def _exercise(fields: dict, chapter: Path) -> Exercise:
    """An Exercise from its gathered fields, or ValueError if it lacks an answer or checks."""
    label = fields["label"]
    if not any(cell.cell_type == "code" for cell in fields["solution"]):
        raise ValueError(f"{chapter}: exercise {label!r} has no answer cell in its solution")
    for cell in fields["solution"]:
        if cell.cell_type == "code":
            _check_answer_lines(cell.source, label, chapter)
    for key, tag in (("public_checks", PUBLIC_CHECK), ("hidden_checks", HIDDEN_CHECK)):
        if not fields[key]:
            raise ValueError(
                f"{chapter}: exercise {label!r} has no {tag}; add a code cell tagged {tag} "
                "inside its solution"
            )
    return Exercise(
        label=label,
        title=fields["title"] or label,
        prompt=fields["prompt"],
        given=tuple(fields["given"]),
        solution=tuple(fields["solution"]),
        public_checks=tuple(fields["public_checks"]),
        hidden_checks=tuple(fields["hidden_checks"]),
    )


def _check_answer_lines(source: str, label: str, chapter: Path) -> None:
    """Refuse a `# SOLUTION` line that is not a whole statement: the student's notebook would
    keep the rest of a statement that spans lines (`)  # SOLUTION` becomes `...`)."""
    for line in source.splitlines():
        if line.rstrip().endswith("# SOLUTION"):
            try:
                ast.parse(line.strip())
            except SyntaxError:
                raise ValueError(
                    f"{chapter}: in exercise {label!r}, {line.strip()!r} is not a whole "
                    "statement; keep a `# SOLUTION` answer on one line, or put a longer one "
                    "in a function between `# BEGIN SOLUTION` and `# END SOLUTION`"
                ) from None


def _check_source(source: str, label: str, chapter: Path) -> str:
    """A check's code, if it is one function definition optionally followed by a call to it."""
    body = ast.parse(source).body
    well_formed = len(body) in (1, 2) and isinstance(body[0], ast.FunctionDef)
    if well_formed and len(body) == 2:
        call = body[1]
        well_formed = (
            isinstance(call, ast.Expr)
            and isinstance(call.value, ast.Call)
            and getattr(call.value.func, "id", None) == body[0].name
        )
    if not well_formed:
        raise ValueError(
            f"{chapter}: a check of exercise {label!r} is not one function definition followed "
            "by a call to it; write `def check_...(answer): assert ...` then `check_...(answer)`"
        )
    return source


def _plain_cell(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A fresh cell with the source of cell (no jupytext metadata, no outputs)."""
    if cell.cell_type == "code":
        return nbformat.v4.new_code_cell(cell.source)
    return nbformat.v4.new_markdown_cell(cell.source)


def _test_cell(source: str, hidden: bool) -> nbformat.NotebookNode:
    """An otter test cell: the check, worth one point, public or hidden."""
    config = "\n".join(
        ['""" # BEGIN TEST CONFIG', "points: 1", f"hidden: {str(hidden).lower()}"]
        + ['""" # END TEST CONFIG', ""]
    )
    return nbformat.v4.new_code_cell(config + source)


def main(argv=None):
    """`cnnbook assign`: write the exercise notebooks and grading bundles."""
    parser = argparse.ArgumentParser(
        prog="cnnbook assign",
        description="Write the students' exercise notebooks (student/) and the grading bundles "
        "(grading/) from the chapters.",
    )
    parser.add_argument(
        "chapters", nargs="*", help="chapters such as 03_parameters (default: all in _toc.yml)"
    )
    parser.add_argument("--book", default=".", help="the book's root folder (default: .)")
    parser.add_argument("--out", help="where to write (default: BOOK/_build/assignments)")
    parser.add_argument(
        "--students-only",
        action="store_true",
        help="write the student notebooks only, without running the reference answers or "
        "writing the grading bundles (what `make book` links)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="chapters to assign at a time, each running its reference notebook "
        "(default: one per core)",
    )
    args = parser.parse_args(argv)
    try:
        assign(
            args.book,
            args.out or Path(args.book) / "_build" / "assignments",
            args.chapters or None,
            args.students_only,
            args.jobs,
        )
    except ValueError as error:
        parser.exit(2, f"cnnbook assign: {error}\n")
    return 0
