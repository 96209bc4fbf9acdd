"""The bridge to nbgrader: the course's config, course directories, converters, the student version.

Everything nbgrader-specific that the engine needs goes through here: loading
``nbgrader_config.py``, pointing a ``CourseDirectory`` at a private folder, running a
converter (generate_assignment, autograde, generate_feedback) in this process with its
errors collected, and regenerating the committed student notebooks.
"""
import base64
import contextlib
import functools
import logging
import mimetypes
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from grader import course


def load_config(**overrides):
    """The course's nbgrader_config.py as a traitlets Config, plus ``{"Section.trait": value}``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config_file = course.config_file()
    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    extra = Config()
    for dotted, value in overrides.items():
        section, trait = dotted.split(".", 1)
        extra[section][trait] = value
    config.merge(extra)
    return config


def course_directory(root, config, **traits):
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    coursedir.root = str(root)
    for name, value in traits.items():
        setattr(coursedir, name, value)
    return coursedir


def stamp_new_gradebooks_in_process():
    """nbgrader stamps every new gradebook with the newest revision of its database schema, which
    it learns by running the ``alembic heads`` command: a fresh Python that imports nbgrader, for
    seconds, per gradebook. Read the same revision here instead, from nbgrader's own migration
    scripts; tests/grading/test_nbgrader_bridge.py checks that both answers agree."""
    import nbgrader.api

    nbgrader.api.get_alembic_version = newest_gradebook_revision


@functools.cache
def newest_gradebook_revision():
    """The head of nbgrader's alembic migrations (the revision a new gradebook is stamped with)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"nbgrader's migrations have {len(heads)} heads ({heads}); expected one")
    return heads[0]


class LogCapture(logging.Handler):
    """Collect nbgrader's warnings and errors (it logs through the "traitlets" logger)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        try:
            self.records.append((record.levelno, record.getMessage()))
        except Exception:
            pass

    def __enter__(self):
        self.logger = logging.getLogger("traitlets")
        self.saved = (self.logger.level, self.logger.propagate)
        self.logger.addHandler(self)
        self.logger.setLevel(logging.WARNING)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]

    def errors(self):
        return "\n".join(message for level, message in self.records if level >= logging.ERROR)


class NbgraderFailed(RuntimeError):
    pass


def run_converter(converter_class, coursedir, config, log=None, **traits):
    """Run an nbgrader converter (Autograde, GenerateAssignment, ...) in this process.

    Raises NbgraderFailed carrying nbgrader's own error log when it fails.
    """
    stamp_new_gradebooks_in_process()
    converter = converter_class(coursedir=coursedir, config=config)
    for name, value in traits.items():
        setattr(converter, name, value)
    capture = log or LogCapture()
    with capture if log is None else contextlib.nullcontext():
        try:
            converter.start()
        except Exception as error:
            raise NbgraderFailed(
                f"nbgrader {converter_class.__name__} failed: {error}\n{capture.errors()}") from error


def generate_release(release_dir, db_path, assignment=course.ASSIGNMENT, solutions=None):
    """nbgrader generate_assignment: ``solutions/<a>`` -> ``release_dir/<a>``, gradebook at db_path."""
    from nbgrader.converters import GenerateAssignment

    root = Path(release_dir).parent
    config = load_config()
    coursedir = course_directory(
        root, config,
        source_directory=str(Path(solutions or course.solutions_dir()).resolve()),
        release_directory=str(Path(release_dir).resolve()),
        db_url=f"sqlite:///{Path(db_path).resolve()}",
        assignment_id=assignment,
    )
    run_converter(GenerateAssignment, coursedir, config, force=True)


def generate_student_version(assignment=course.ASSIGNMENT, release_root=None):
    """`python -m grader generate`: regenerate notebooks/<assignment>/ from solutions/<assignment>/.

    nbgrader writes into a scratch folder first, so a failure leaves the committed student
    notebooks alone. Each figure a notebook shows is embedded in it (:func:`embed_figures`).
    The output is deterministic: notebooks are rewritten the way nbformat writes them (sorted
    keys), permissions are fixed, and nbgrader's gradebook stays in the scratch folder, so the
    repository gains no gradebook.db.
    """
    target = Path(release_root or course.release_dir()) / assignment
    source_folder = course.solutions_dir() / assignment
    with tempfile.TemporaryDirectory(prefix="gan-generate-") as scratch:
        release = Path(scratch) / "release"
        generate_release(release, Path(scratch) / "gradebook.db", assignment)
        for path in sorted((release / assignment).glob("*.ipynb")):
            finish_student_notebook(path, source_folder)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(release / assignment, target)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return sorted(target.glob("*.ipynb"))


IMAGE_LINK = re.compile(r"(!\[(?:[^\[\]]|\[[^\[\]]*\])*\]\()([^)\s]+)")  # ![alt, maybe [with] brackets](target


def embed_figures(notebook, source_folder, name="notebook"):
    """Make each local image that a markdown cell shows an attachment of that cell.

    A student notebook then shows its figures wherever it is opened: from the assignment
    folder alone (nbgrader's release and fetch), as one downloaded file, in JupyterLab served
    from anywhere, and in the feedback page. The image files (``assets/``, drawn by
    ``assets/make_figures.py``) stay the one source; links are resolved from ``source_folder``.
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue

        def attach(match, cell=cell):
            target = match.group(2)
            if "://" in target or target.startswith(("attachment:", "data:")):
                return match.group(0)
            path = (Path(source_folder) / target).resolve()
            if not path.is_file():
                raise FileNotFoundError(f"{name} shows {target}, but {path} does not exist: "
                                        "draw the figures with `make figures`, or fix the link.")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            cell.setdefault("attachments", {})[path.name] = {mime: base64.b64encode(path.read_bytes()).decode("ascii")}
            return f"{match.group(1)}attachment:{path.name}"

        cell.source = IMAGE_LINK.sub(attach, cell.source)
    return notebook


def finish_student_notebook(path, source_folder):
    """Embed the figures of a freshly generated student notebook and rewrite it the way
    nbformat writes it, so regenerating gives identical bytes."""
    notebook = embed_figures(nbformat.read(str(path), as_version=4), source_folder, Path(path).name)
    text = nbformat.writes(notebook)
    Path(path).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
