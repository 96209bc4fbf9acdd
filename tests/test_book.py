"""The self-study book (`make book`, grader.grading.book): what goes into it and what the built pages show.

The walkthrough's preparation is tested on the source notebooks (fast); the built site is tested
once it is built (slow: the first build runs every notebook, the training notebook with its default
preset). tests/test_browser.py opens the same site in a real browser.
"""
import copy
import re
from pathlib import Path

import nbformat
import pytest

from grader import course
from grader.exercises import EXERCISES
from grader.grading import book
from grader.grading.feedback import HIDDEN_BEGIN
from grader.train import PRESETS

MNIST_TRAINING_IMAGES = 60_000
SOLUTIONS = course.solutions_dir() / course.ASSIGNMENT
CHAPTERS = sorted(path.stem for path in SOLUTIONS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def walkthrough():
    links = {}
    return {path.stem: book.walkthrough_notebook(path, links) for path in sorted(SOLUTIONS.glob("*.ipynb"))}, links


def test_every_solution_notebook_is_a_chapter():
    index = (book.book_dir() / "index.md").read_text()
    for chapter in CHAPTERS:
        assert f"{book.GENERATED}/{book.WALKTHROUGH}/{chapter}" in index, f"{chapter} is not in the book's toctree"


def test_hidden_tests_and_solution_markers_are_left_out(walkthrough):
    notebooks, _ = walkthrough
    sources = {name: "\n".join(cell.source for cell in nb.cells) for name, nb in notebooks.items()}
    originals = {path.stem: path.read_text() for path in SOLUTIONS.glob("*.ipynb")}
    assert any(HIDDEN_BEGIN in text for text in originals.values()), "the solutions have no hidden tests to strip"
    for name, text in sources.items():
        assert HIDDEN_BEGIN not in text and "END HIDDEN TESTS" not in text, name
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text, name
        if HIDDEN_BEGIN in originals[name]:
            assert book.BOOK_HIDDEN_NOTE in text, f"{name}: no note where its hidden tests were"


def test_solutions_stay_in_the_book(walkthrough):
    """The walkthrough shows the reference answers (it is the solutions' book), outputs cleared."""
    notebooks, _ = walkthrough
    for name, notebook in notebooks.items():
        answers = [cell for cell in notebook.cells if course.is_solution(cell) and course.is_code(cell)]
        if name != "06_train_gan":
            assert answers and all("NotImplementedError" not in cell.source for cell in answers), name
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), name


def test_figures_are_relinked_beside_the_walkthrough(walkthrough):
    notebooks, links = walkthrough
    assert links, "no figure found in the solution notebooks"
    shown = "\n".join(cell.source for nb in notebooks.values() for cell in nb.cells if cell.cell_type == "markdown")
    assert "../../assets/" not in shown
    for image, link in links.items():
        assert image.is_file() and link == f"../{book.FIGURES}/{image.name}" and link in shown


def test_prepare_writes_only_what_changed(tmp_path):
    (tmp_path / "index.md").write_text("# test\n")
    first = book.prepare(tmp_path)
    assert {path.name for path in first} >= {f"{name}.ipynb" for name in CHAPTERS} | {"tex-svg.js"}
    assert book.prepare(tmp_path) == [], "a second prepare with nothing changed rewrote files"
    downloads = tmp_path / book.GENERATED / book.DOWNLOADS
    assert sorted(path.name for path in downloads.glob("*.ipynb")) == [f"{name}.ipynb" for name in CHAPTERS]
    for path in downloads.glob("*.ipynb"):
        assert path.read_bytes() == (course.release_dir() / course.ASSIGNMENT / path.name).read_bytes()


def test_the_build_runs_real_training_even_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    environment = book.build_environment()
    assert "CI" not in environment and "NBGRADER_EXECUTION" not in environment
    assert environment["GAN_COURSE_PROGRESS"] == "text"


def test_the_cache_follows_the_student_side_package_only(tmp_path):
    package = tmp_path / "grader"
    (package / "grading").mkdir(parents=True)
    (package / "train.py").write_text("x = 1\n")
    (package / "grading" / "batch.py").write_text("y = 1\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==1\n")
    first = book.code_fingerprint(package, requirements)
    (package / "grading" / "batch.py").write_text("y = 2\n")
    assert book.code_fingerprint(package, requirements) == first, "an engine change should not re-run the book"
    (package / "train.py").write_text("x = 2\n")
    second = book.code_fingerprint(package, requirements)
    assert second != first, "a change to the package the notebooks import must re-run them"
    requirements.write_text("numpy==2\n")
    assert book.code_fingerprint(package, requirements) != second


def test_the_training_chapter_carries_the_answers_it_runs(walkthrough, tmp_path):
    """06 trains the functions of 01-05 and 07's lab runs them; jupyter-cache knows a notebook by its own
    code, so their hash is part of those two."""
    notebooks, _ = walkthrough
    fingerprint = book.answers_fingerprint(notebooks[Path(name).stem] for name in EXERCISES.values())
    (tmp_path / "index.md").write_text("# test\n")
    book.prepare(tmp_path)
    for name in CHAPTERS:
        first = nbformat.read(tmp_path / book.GENERATED / book.WALKTHROUGH / f"{name}.ipynb", as_version=4).cells[0]
        carries = first.cell_type == "code" and fingerprint in first.source and "remove-cell" in first.metadata.tags
        assert carries == (name in ("06_train_gan", "07_theory_and_failure_modes")), name
    notebooks = copy.deepcopy(notebooks)  # the module's fixture stays as read
    generator = next(cell for cell in notebooks["02_generator"].cells if course.is_solution(cell))
    generator.source += "\n# changed"
    assert book.answers_fingerprint(notebooks.values()) != fingerprint


@pytest.mark.slow
def test_the_training_chapter_shows_a_default_preset_run(built_book):
    page = (built_book / book.GENERATED / book.WALKTHROUGH / "06_train_gan.html").read_text()
    assert "'preset': 'default'}" in page, "the training chapter does not show the default preset's settings"
    assert "'preset': 'tiny'" not in page, "the book ran the tiny grading preset (CI leaked into the build?)"
    default = PRESETS["default"]
    steps = MNIST_TRAINING_IMAGES // default["batch_size"] * default["epochs"]
    assert re.search(rf"training: 100%\|[^<]*{steps}/{steps}", page), f"no finished progress bar of {steps} steps"
    assert "Frechet distance" in page and "real MNIST" in page, "the evaluator's report is missing"
    drawn = re.findall(r'<img[^>]+src="\.\./\.\./_images/[0-9a-f]{16,}', page)  # MyST-NB names outputs by hash
    assert len(drawn) >= 4, "the per-epoch grids, loss curves, interpolation and digit shares should show"
    assert "widget-view" not in page and "cdn." not in page


@pytest.mark.slow
def test_every_chapter_page_has_its_outputs(built_book):
    pages = {chapter: (built_book / book.GENERATED / book.WALKTHROUGH / f"{chapter}.html").read_text()
             for chapter in CHAPTERS}
    for chapter, page in pages.items():
        assert "BEGIN HIDDEN TESTS" not in page and "Traceback" not in page, chapter
    for chapter in ("01_model_inputs", "06_train_gan"):  # both draw digits: real ones, generated ones
        assert re.search(r'<img[^>]+src="\.\./\.\./_images/', pages[chapter]), f"{chapter}: no drawn output"
    theory = pages["07_theory_and_failure_modes"]  # the 2-D lab: every scenario's figure, and its numbers
    assert len(re.findall(r'<img[^>]+src="\.\./\.\./_images/[0-9a-f]{16,}', theory)) >= 7, "07: the lab's figures"
    for scenario in ("plain", "collapse", "saturating", "weak_discriminator", "oscillation", "healthy"):
        assert re.search(rf"{scenario} \(seed 0\): \d/8 modes", theory), f"07: no {scenario} run"
    index = (built_book / "index.html").read_text()
    assert 'class="cell_output' in index and re.search(r'<img[^>]+src="_images/', index), (
        "the landing page does not show its grid of real MNIST digits")
    downloads = (built_book / "downloads.html").read_text()
    for name in CHAPTERS + ["gan-notebooks"]:
        found = list((built_book / "_downloads").glob(f"*/{name}.*"))
        assert len(found) == 1 and found[0].relative_to(built_book).as_posix() in downloads, name
