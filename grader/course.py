"""The course's constants and how to read its notebooks: one home for both.

What the notebooks, the training code and the instructor's engine agree on lives here:
the nbgrader course and assignment ids, where the course's folders are, and how a
notebook cell says what it is (nbgrader's cell metadata). It is student-side and
import-light (no TensorFlow, no nbgrader), so everything in ``grader`` may use it.

Where things are
----------------
The course folder is the checkout that holds ``nbgrader_config.py``, ``solutions/``,
``notebooks/`` and ``data/mnist/``. It is found, in this order, from:

1. ``$GAN_COURSE_ROOT``;
2. the folder above this package, when the package is used from a checkout (``pip install -e``
   or ``PYTHONPATH``).

A package installed without ``-e`` has no checkout around it: set ``GAN_COURSE_ROOT``, or
point ``GAN_COURSE_MNIST`` at the data and ``GAN_COURSE_CACHE`` at a cache folder. What cannot
be found raises :class:`CourseFolderNotFound`, naming the variable to set.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

COURSE_ID = "gan-course"  # nbgrader's course id (nbgrader_config.py reads it from here)
ASSIGNMENT = "gan"  # the one assignment: solutions/gan/ -> notebooks/gan/
SOURCE_FOLDER = "solutions"  # nbgrader's source folder: reference solutions and hidden tests
RELEASE_FOLDER = "notebooks"  # nbgrader's release folder: the generated student versions
CONFIG_NAME = "nbgrader_config.py"
PACKAGE_DIR = Path(__file__).resolve().parent


HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's delimiters


def hidden_test_lines(source):
    """The 1-based numbers of the lines of ``source`` inside its hidden-test regions (delimiters too)."""
    lines, hidden = set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if HIDDEN_BEGIN in line:
            hidden = True
        if hidden:
            lines.add(number)
        if HIDDEN_END in line:
            hidden = False
    return lines


class CourseFolderNotFound(FileNotFoundError):
    """The course's checkout (or the one folder asked for) could not be found."""


# ----------------------------------------------------------------------------- folders
def find_course_root() -> Path | None:
    """The course checkout: ``$GAN_COURSE_ROOT``, else the folder above the package; None when
    the package is not in a checkout. A ``$GAN_COURSE_ROOT`` that is no checkout is an error."""
    configured = os.environ.get("GAN_COURSE_ROOT")
    if configured:
        root = Path(configured).resolve()
        if not (root / CONFIG_NAME).is_file():
            raise CourseFolderNotFound(
                f"$GAN_COURSE_ROOT is {root}, which is not the course folder: it has no {CONFIG_NAME}. "
                f"Point it at the checkout holding {CONFIG_NAME}, {SOURCE_FOLDER}/, {RELEASE_FOLDER}/ and data/mnist/."
            )
        return root
    around_package = PACKAGE_DIR.parent
    return around_package if (around_package / CONFIG_NAME).is_file() else None


def course_root() -> Path:
    """The course checkout, or CourseFolderNotFound saying how to point at one."""
    root = find_course_root()
    if root is None:
        raise CourseFolderNotFound(
            f"The course folder (the checkout holding {CONFIG_NAME}, {SOURCE_FOLDER}/, {RELEASE_FOLDER}/ and "
            f"data/mnist/) was not found: the grader package is installed at {PACKAGE_DIR}, which is not inside "
            "one. Set GAN_COURSE_ROOT to the checkout, or install the package from it with `pip install -e .`."
        )
    return root


def solutions_dir() -> Path:
    """nbgrader's source folder: ``$GAN_COURSE_SOLUTIONS`` (another copy of the reference solutions),
    else ``<course>/solutions``. The grader and the reference-solution switch of the training both read it."""
    configured = os.environ.get("GAN_COURSE_SOLUTIONS")
    return Path(configured) if configured else course_root() / SOURCE_FOLDER


def release_dir() -> Path:
    """nbgrader's release folder, ``<course>/notebooks``: the committed student versions."""
    return course_root() / RELEASE_FOLDER


def config_file() -> Path:
    """The course's ``nbgrader_config.py``."""
    return course_root() / CONFIG_NAME


def mnist_dir() -> Path:
    """Where the MNIST idx files are: ``$GAN_COURSE_MNIST``, else ``<course>/data/mnist``."""
    configured = os.environ.get("GAN_COURSE_MNIST")
    if configured:
        return Path(configured)
    root = find_course_root()
    if root is None:
        raise CourseFolderNotFound(
            "MNIST was not found: the grader package is not inside the course checkout, whose data/mnist/ "
            "holds the data. Set GAN_COURSE_MNIST to a folder with the four idx .gz files and their "
            "SHA256SUMS, or GAN_COURSE_ROOT to the checkout."
        )
    return root / "data" / "mnist"


def cache_dir() -> Path:
    """Where computed files are kept: ``$GAN_COURSE_CACHE``, else ``<course>/.cache``, else
    ``$XDG_CACHE_HOME/gan-course`` (``~/.cache/gan-course``) for a package outside a checkout."""
    configured = os.environ.get("GAN_COURSE_CACHE")
    if configured:
        return Path(configured)
    root = find_course_root()
    if root is not None:
        return root / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gan-course"


# ----------------------------------------------------------------------------- cells
def nbgrader_metadata(cell) -> dict:
    """The cell's nbgrader metadata (empty for a cell nbgrader does not manage)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    """The cell's nbgrader grade_id, or None."""
    return nbgrader_metadata(cell).get("grade_id")


def is_code(cell) -> bool:
    return cell.get("cell_type") == "code"


def is_solution(cell) -> bool:
    return bool(nbgrader_metadata(cell).get("solution"))


def is_locked(cell) -> bool:
    return bool(nbgrader_metadata(cell).get("locked"))


def cells_by_grade_id(cells: Iterable, where: Callable[[dict], bool] | None = None) -> dict:
    """{grade_id: cell} for the cells that have a grade_id (and satisfy ``where``); the first
    cell wins when a (tampered) notebook repeats an id."""
    found = {}
    for cell in cells:
        key = grade_id(cell)
        if key and key not in found and (where is None or where(cell)):
            found[key] = cell
    return found


# ----------------------------------------------------------------------------- source notebooks
@dataclass
class SourceCell:
    """One nbgrader cell of a source notebook, as the grader needs it."""

    kind: str  # "setup" (locked, not graded), "answer" (solution cell) or "test" (graded)
    grade_id: str
    source: str
    points: float = 0.0


@dataclass
class SourceNotebook:
    """A notebook of ``solutions/``: its nbgrader cells in order, hidden tests included."""

    notebook_id: str
    cells: list[SourceCell] = field(default_factory=list)

    @property
    def tests(self) -> list[SourceCell]:
        return [cell for cell in self.cells if cell.kind == "test"]

    @property
    def answers(self) -> list[SourceCell]:
        return [cell for cell in self.cells if cell.kind == "answer"]

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.tests)


def cell_kind(cell) -> str | None:
    """'test', 'answer', 'setup' or None for a cell of a source notebook."""
    meta = nbgrader_metadata(cell)
    if cell.cell_type != "code" or not meta:
        return None
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    if meta.get("solution"):
        return "answer"
    if meta.get("locked"):
        return "setup"
    return None


def read_source_notebook(path) -> SourceNotebook:
    """The nbgrader cells of the notebook at ``path``."""
    import nbformat

    notebook = nbformat.read(str(path), as_version=4)
    layout = SourceNotebook(Path(path).stem)
    for index, cell in enumerate(notebook.cells):
        kind = cell_kind(cell)
        if kind is None:
            continue
        meta = nbgrader_metadata(cell)
        points = float(meta.get("points", 0) or 0) if kind == "test" else 0.0
        layout.cells.append(SourceCell(kind, meta.get("grade_id") or f"cell-{index}", cell.source, points))
    return layout


def read_assignment(solutions=None, assignment=ASSIGNMENT) -> dict[str, SourceNotebook]:
    """{notebook_id: SourceNotebook} for every notebook of the assignment, sorted by name."""
    folder = Path(solutions or solutions_dir()) / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(
            f"No notebooks in {folder}: expected the reference solutions of assignment "
            f"'{assignment}' there (nbgrader's source folder)."
        )
    return {path.stem: read_source_notebook(path) for path in notebooks}
