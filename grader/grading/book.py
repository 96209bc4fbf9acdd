"""The self-study book: the reference notebooks with their outputs, as a static site (Sphinx + MyST-NB).

``python -m grader book`` (``make book``) builds it in two steps:

1. ``prepare`` writes ``book/_generated/`` (never committed): the walkthrough, one copy of each
   solution notebook with its hidden tests replaced by a one-line note and nbgrader's solution
   markers dropped, the figures those notebooks show, and the local MathJax. A file is rewritten
   only when its content changes, so Sphinx rebuilds nothing when nothing changed.
2. ``build`` runs Sphinx on ``book/`` (``book/conf.py``). MyST-NB executes each notebook in its own
   folder and keeps the results in a jupyter-cache (``.cache/book/``): a notebook whose code is
   unchanged is not run again.

The book shows real runs, so the build removes the variables that make the training notebook
switch to its tiny grading configuration (``CI``, ``NBGRADER_EXECUTION``), and asks for text
progress bars (``grader.progress``): a widget cannot show on a static page.
"""
import hashlib
import os
import re
import shutil
from pathlib import Path

import nbformat

from grader import course
from grader.exercises import EXERCISES, loads_exercises
from grader.grading.feedback import summarise_hidden_tests
from grader.grading.mathjax import OFFLINE_CONFIG_JS, mathjax_script
from grader.grading.nbgrader_bridge import IMAGE_LINK
from grader.grading.planted import fixed_version, has_planted_bugs
from grader.progress import PROGRESS_ENV

BOOK_FOLDER = "book"
GENERATED = "_generated"  # inside book/: the walkthrough and static files written by prepare()
BUILD = "_build"  # inside book/: Sphinx's output; the site is _build/html
WALKTHROUGH = "walkthrough"  # inside _generated/: the solution notebooks, as the book shows them
FIGURES = "figures"  # inside _generated/: the images those notebooks show
DOWNLOADS = "downloads"  # inside _generated/: the student notebooks, one by one and zipped
MATHJAX_CONFIG = "mathjax-offline.js"  # inside _generated/: inlined by Sphinx before MathJax loads
GRADING_VARIABLES = ("CI", "NBGRADER_EXECUTION")  # set, they make notebook 06 run its tiny preset
BOOK_HIDDEN_NOTE = "# (hidden tests: they run when a student's notebook is graded; the book leaves them out)"
KERNEL_TRANSPORT_NOTICE = "Kernel is running over TCP without encryption"  # ipykernel's, once per kernel
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


class BookBuildFailed(RuntimeError):
    """Sphinx, or a notebook it ran, failed; its own messages were shown."""


def book_dir() -> Path:
    return course.course_root() / BOOK_FOLDER


def generated_dir(book=None) -> Path:
    return Path(book or book_dir()) / GENERATED


def html_dir(book=None) -> Path:
    return Path(book or book_dir()) / BUILD / "html"


def code_fingerprint(package=None, requirements=None) -> str:
    """A hash of what the notebooks' outputs depend on besides their own code: the student-side
    ``grader`` package (not the engine, which notebooks never import) and the pinned requirements."""
    package = Path(package or course.PACKAGE_DIR)
    requirements = Path(requirements or course.course_root() / "requirements.txt")
    files = [path for path in sorted(package.rglob("*.py")) if "grading" not in path.relative_to(package).parts]
    digest = hashlib.sha256()
    for path in files + ([requirements] if requirements.is_file() else []):
        name = path.relative_to(package).as_posix() if path.is_relative_to(package) else path.name
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    return course.course_root() / ".cache" / "book"


def cache_path() -> Path:
    """Where MyST-NB keeps executed notebooks between builds (jupyter-cache). jupyter-cache knows a
    notebook by its code alone, so the folder is named after ``code_fingerprint()``: a change to the
    package the notebooks import runs them all again."""
    return cache_root() / code_fingerprint()


def write_if_changed(path, data: bytes):
    """Write ``data`` to ``path`` unless it already holds exactly that; True when written."""
    path = Path(path)
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def walkthrough_notebook(source_path, figure_links):
    """A solution notebook as the book shows it.

    Hidden tests become one line and solution markers go (a "find the bugs" cell shows its fixed code,
    each planted bug in a comment above its fix); nbgrader's cell metadata stays, as
    notebook 6 finds the exercise functions in the copies beside it by their grade ids. Each local
    image link becomes ``figure_links[path]``, a path relative to the copy (``figure_links``
    collects what to copy: {source path: link}).
    """
    source_path = Path(source_path)
    notebook = nbformat.read(source_path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            if has_planted_bugs(cell.source):
                cell.source = fixed_version(cell.source)
            cell.source = SOLUTION_MARKER.sub("", summarise_hidden_tests(cell.source, note=BOOK_HIDDEN_NOTE))
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":

            def relink(match):
                target = match.group(2)
                if "://" in target or target.startswith(("attachment:", "data:", "/")):
                    return match.group(0)
                image = (source_path.parent / target).resolve()
                if not image.is_file():
                    raise FileNotFoundError(f"{source_path.name} shows {target}, but {image} does not exist: "
                                            "draw the figures with `make figures`, or fix the link.")
                figure_links[image] = f"../{FIGURES}/{image.name}"
                return match.group(1) + figure_links[image]

            cell.source = IMAGE_LINK.sub(relink, cell.source)
    return notebook


def runs_the_exercises(notebook):
    """True for a chapter that loads the exercise functions of the notebooks beside it (06's training,
    07's 2-D lab): see grader.exercises.LOADERS."""
    return loads_exercises(notebook)


def answers_fingerprint(notebooks):
    """A hash of the answer cells of all ``notebooks`` (the exercise functions)."""
    digest = hashlib.sha256()
    for notebook in notebooks:
        for cell in notebook.cells:
            if course.is_solution(cell) and course.is_code(cell):
                digest.update(cell.source.encode() + b"\0")
    return digest.hexdigest()[:16]


def answers_cell(fingerprint):
    """A code cell the page does not show (MyST-NB's remove-cell tag), for a chapter that runs the
    exercise functions of the notebooks beside it: jupyter-cache knows a notebook only by its own
    code, so the hash of those answers becomes part of it."""
    cell = nbformat.v4.new_code_cell(f"# the exercise answers this chapter runs: {fingerprint}")
    cell.metadata["tags"] = ["remove-cell"]
    cell.id = "book-answers"
    return cell


def student_downloads(release=None):
    """{file name: bytes} of what students download: each student notebook, and a zip of the
    assignment folder (fixed timestamps, so the same notebooks give the same bytes)."""
    import io
    import zipfile

    release = Path(release or course.release_dir() / course.ASSIGNMENT)
    notebooks = sorted(release.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"No student notebooks in {release}: run `make generate`.")
    files = {path.name: path.read_bytes() for path in notebooks}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(zipfile.ZipInfo(f"{course.ASSIGNMENT}/{name}", date_time=(2020, 1, 1, 0, 0, 0)), data,
                            compress_type=zipfile.ZIP_DEFLATED)
    files[f"{course.ASSIGNMENT}-notebooks.zip"] = archive.getvalue()
    return files


def prepare(book=None, solutions=None):
    """Write book/_generated/: the walkthrough notebooks, their figures and MathJax; returns the files written."""
    book = Path(book or book_dir())
    solutions = Path(solutions or course.solutions_dir() / course.ASSIGNMENT)
    generated = generated_dir(book)
    figure_links = {}
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"No notebooks in {solutions}: the book is built from the solution notebooks.")
    written = []

    def put(target, data):
        if write_if_changed(target, data):
            written.append(target)

    notebooks = {source.name: walkthrough_notebook(source, figure_links) for source in sources}
    answers = answers_fingerprint(notebook for name, notebook in notebooks.items() if name in EXERCISES.values())
    for name, notebook in notebooks.items():
        if runs_the_exercises(notebook):
            notebook.cells.insert(0, answers_cell(answers))
        put(generated / WALKTHROUGH / name, (nbformat.writes(notebook) + "\n").encode())
    for image, link in figure_links.items():
        put(generated / FIGURES / Path(link).name, image.read_bytes())
    for name, data in student_downloads().items():
        put(generated / DOWNLOADS / name, data)
    put(generated / MATHJAX_CONFIG, OFFLINE_CONFIG_JS.encode())
    put(generated / "_static" / "mathjax" / "tex-svg.js", mathjax_script().read_bytes())
    for stale in (generated / WALKTHROUGH).glob("*.ipynb"):  # a notebook renamed or removed in solutions/
        if stale.name not in notebooks:
            stale.unlink()
    return written


def remove_old_caches():
    """Delete the execution caches of older package code (only the current one is ever read)."""
    if cache_root().is_dir():
        for folder in cache_root().iterdir():
            if folder.is_dir() and folder != cache_path():
                shutil.rmtree(folder, ignore_errors=True)


def build_environment(environ=None):
    """The environment the build and its kernels run in: real runs, text progress bars."""
    environment = dict(os.environ if environ is None else environ)
    for name in GRADING_VARIABLES:
        environment.pop(name, None)
    environment[PROGRESS_ENV] = "text"
    return environment


def build(book=None, fresh=False, quiet=True):
    """Prepare the sources and run Sphinx into book/_build/html; returns that folder.

    ``fresh`` rebuilds every page (Sphinx's -E); executed notebooks still come from the cache.
    Sphinx runs in a child process with ``build_environment()``, so this process's environment is
    left alone; any warning fails the build (-W), as does an error in any notebook.
    """
    import subprocess
    import sys

    book = Path(book or book_dir())
    prepare(book)
    remove_old_caches()
    output = html_dir(book)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-j", "1"]
    command += ["-E"] if fresh else []
    command += ["-q"] if quiet else []
    command += [str(book), str(output)]
    with subprocess.Popen(command, env=build_environment(), stderr=subprocess.PIPE, text=True) as sphinx:
        for line in sphinx.stderr:  # each notebook's kernel says this once; the rest is Sphinx's to show
            if KERNEL_TRANSPORT_NOTICE not in line:
                sys.stderr.write(line)
    if sphinx.returncode:
        raise BookBuildFailed(f"Sphinx stopped with exit status {sphinx.returncode}: see its messages above.")
    return output


def clean(book=None):
    """Remove the generated sources and the built site (the execution cache stays)."""
    book = Path(book or book_dir())
    for folder in (generated_dir(book), book / BUILD):
        shutil.rmtree(folder, ignore_errors=True)
