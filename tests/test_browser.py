"""What learners see, in a real browser: the book, JupyterLab as `make lab` serves it, and a notebook
opened from the assignment folder alone (headless Chromium through Playwright; tests/browser_tools.py).

Every page must load without console errors and without asking the internet for anything; every
<img> must have decoded (naturalWidth > 0); where a page has math, MathJax must have typeset all of
it. The feedback pages are opened in tests/grading/test_batch.py, on the class graded there.
"""
import re
import shutil
import urllib.parse
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browser_tools import (
    broken_images,
    chromium,
    lab_server,
    make_lab_command,
    wait_for_markdown_images,
    wait_for_math,
    watched_page,
    with_option,
)
from grader import course

pytestmark = pytest.mark.slow
RELEASE = course.release_dir() / course.ASSIGNMENT
FIRST_NOTEBOOK = "01_model_inputs.ipynb"
# JupyterLab's markdown renderer sets an attachment's src to "attachment:NAME" for an instant before
# it puts the data in; Chromium logs that first, unfetchable URL as an error. The images are checked.
LAB_ATTACHMENT_NOISE = ("ERR_UNKNOWN_URL_SCHEME",)


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def attachment_count(path):
    notebook = nbformat.read(path, as_version=4)
    return sum(len(cell.get("attachments", {})) for cell in notebook.cells if cell.cell_type == "markdown")


def site_pages(site):
    return sorted(path for path in site.rglob("*.html") if not path.relative_to(site).parts[0].startswith("_")
                  or path.relative_to(site).parts[0] == "_generated")


def missing_link_targets(page, html_path, site):
    """Internal links of the page whose file, or #anchor in that file, does not exist."""
    missing = []
    for href in set(page.eval_on_selector_all("a[href]", "all => all.map(a => a.href)")):
        parts = urllib.parse.urlsplit(href)
        if parts.scheme != "file":
            continue
        target = Path(urllib.parse.unquote(parts.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            missing.append(href)
        elif parts.fragment and target.suffix == ".html":
            text = target.read_text(errors="replace")
            if f'id="{urllib.parse.unquote(parts.fragment)}"' not in text:
                missing.append(href)
    return missing


def test_every_page_of_the_book_loads_offline_with_its_images_math_and_links(built_book, browser):
    pages = site_pages(built_book)
    assert len(pages) >= 10, f"only {len(pages)} pages in the built book"
    checked_images, typeset = 0, 0
    failures = {}
    for html_path in pages:
        page, watch = watched_page(browser)
        page.goto(html_path.as_uri(), wait_until="load")
        problems = {}
        broken = broken_images(page)
        checked_images += page.locator("img").count()
        if broken:
            problems["broken images"] = broken
        if page.locator(".math").count():
            math, containers, errors = wait_for_math(page)
            typeset += containers
            if containers < math or errors:
                problems["math"] = f"{math} math elements, {containers} typeset, {errors} MathJax errors"
        missing = missing_link_targets(page, html_path, built_book)
        if missing:
            problems["links to nowhere"] = missing
        problems.update(watch.problems())
        if problems:
            failures[html_path.relative_to(built_book).as_posix()] = problems
        page.context.close()
    assert not failures, f"book pages with problems: {failures}"
    print(f"book: {len(pages)} pages, {checked_images} images and {typeset} formulas checked")
    assert typeset >= 10, f"only {typeset} formulas typeset in the whole book"


def test_each_chapter_page_shows_every_figure_of_its_notebook(built_book):
    from grader.grading import book

    walkthrough = built_book.parents[1] / book.GENERATED / book.WALKTHROUGH
    shown_anywhere = 0
    for notebook in sorted(walkthrough.glob("*.ipynb")):
        figures = set(re.findall(rf"\.\./{book.FIGURES}/([\w.-]+\.png)", notebook.read_text()))
        page = (built_book / book.GENERATED / book.WALKTHROUGH / f"{notebook.stem}.html").read_text()
        shown = set(re.findall(r'<img[^>]+src="\.\./\.\./_images/([\w.-]+\.png)"', page))
        assert figures <= shown, f"{notebook.stem}: figures {sorted(figures - shown)} are not on its page"
        shown_anywhere += len(figures)
    assert shown_anywhere >= 5, f"only {shown_anywhere} figures linked in the whole walkthrough"


def course_copy(repo, folder):
    """The course folder as `make lab` serves it (nbgrader's config and the student notebooks), copied:
    nbgrader's Validate saves the notebook first, and the test must not touch the repository's."""
    folder.mkdir(parents=True)
    shutil.copy2(repo / course.CONFIG_NAME, folder / course.CONFIG_NAME)
    shutil.copytree(repo / course.RELEASE_FOLDER, folder / course.RELEASE_FOLDER)
    return folder


def test_make_lab_opens_notebook_01_with_its_figures_and_a_working_validate_button(repo, browser, tmp_path):
    served = course_copy(repo, tmp_path / "course")
    command = with_option(make_lab_command(repo), "ServerApp.root_dir", served)
    assert f"--ServerApp.root_dir={repo}" in make_lab_command(repo), "make lab no longer serves the course folder"
    with lab_server(command, cwd=served, home=tmp_path / "home", log_path=tmp_path / "lab.log") as (url, token):
        page, watch = watched_page(browser, ignore_console=LAB_ATTACHMENT_NOISE)
        page.goto(f"{url}/?token={token}")
        expected = attachment_count(RELEASE / FIRST_NOTEBOOK)
        assert wait_for_markdown_images(page, expected) == expected > 0
        assert page.url.endswith(f"/lab/tree/{course.RELEASE_FOLDER}/{course.ASSIGNMENT}/{FIRST_NOTEBOOK}"), page.url
        assert not broken_images(page)

        validate = ".jp-NotebookPanel-toolbar .jp-ToolbarButton:has-text('Validate')"
        try:
            page.wait_for_selector(validate, timeout=30_000)
        except PlaywrightTimeout:
            pytest.fail("nbgrader's Validate button is not in the notebook's toolbar")
        page.locator(validate).click()
        page.wait_for_selector(".jp-Dialog", timeout=180_000)
        result = page.inner_text(".jp-Dialog")
        assert "Validation Results" in result and "CheckFailed: checks.model_inputs" in result, result[:2000]
        assert "Traceback" not in result and "grader/checks" not in result, result[:2000]
        assert not watch.problems(), watch.problems()
    log = (tmp_path / "lab.log").read_text()
    assert "not a subdirectory of the notebook server root" not in log, "nbgrader cannot find the course"


def test_a_notebook_opened_from_a_copy_of_the_assignment_folder_alone_shows_its_figures(repo, browser, tmp_path):
    """nbgrader's release and fetch hand a student the assignment folder and nothing else."""
    alone = tmp_path / "fetched" / course.ASSIGNMENT
    shutil.copytree(RELEASE, alone)
    notebook = "02_generator.ipynb"
    command = with_option(make_lab_command(repo), "ServerApp.root_dir", alone)
    command = with_option(command, "LabApp.default_url", f"/lab/tree/{notebook}")
    with lab_server(command, cwd=alone, home=tmp_path / "home", log_path=tmp_path / "lab.log") as (url, token):
        page, watch = watched_page(browser, ignore_console=LAB_ATTACHMENT_NOISE)
        page.goto(f"{url}/?token={token}")
        expected = attachment_count(alone / notebook)
        assert wait_for_markdown_images(page, expected) == expected > 0
        assert not broken_images(page)
        page.wait_for_selector(".jp-MarkdownCell mjx-container", timeout=30_000)  # JupyterLab's own MathJax
        assert page.locator(".jp-MarkdownCell mjx-merror").count() == 0
        assert not watch.problems(), watch.problems()
