"""Feedback pages built from a notebook full of injection attempts, opened in real Chromium
(tests/browser_tools.py): no handler a student wrote runs, and the figure and the math still render.

Each layer is tried alone too: the cleaned page without its Content-Security-Policy, and the page
plain nbconvert writes (nothing cleaned) under the policy the course's pages get.
"""
import re

import pytest
from test_feedback import HOSTILE_MARKDOWN, grader_page, hostile_notebook, unsanitised_page

from grader.grading.feedback import with_csp

pytestmark = pytest.mark.slow
POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n?')
TITLE = "hostile"  # the page's <title>, which vectors would change


@pytest.fixture(scope="module")
def browser():
    from browser_tools import chromium

    with chromium() as running:
        yield running


def open_page(browser, path):
    """Open ``path``, let every image load or fail and MathJax typeset; returns (page, watch, math counts)."""
    from browser_tools import images, wait_for_math, watched_page

    page, watch = watched_page(browser)
    page.goto(path.as_uri(), wait_until="load")
    images(page)
    math = wait_for_math(page)
    return page, watch, math


def what_ran(page):
    """The vectors whose script ran: recorded in window.__pwned, or set as the title."""
    ran = page.evaluate("() => window.__pwned || []")
    title = page.title()
    return ran + ([f"title={title}"] if title != TITLE else [])


def links(page):
    return page.eval_on_selector_all("a[href]", "all => all.map(a => a.getAttribute('href'))")


def test_no_student_handler_runs_on_the_feedback_page_and_the_figure_and_math_render(browser, tmp_path):
    path = tmp_path / "hostile.html"
    path.write_text(grader_page(hostile_notebook()), encoding="utf-8")
    page, watch, (_, typeset, errors) = open_page(browser, path)
    for anchor in page.query_selector_all("a[href]"):
        anchor.click(no_wait_after=True)  # a javascript: link that survived would run now
    assert what_ran(page) == [], f"expected no student script to run, these did: {what_ran(page)}"
    assert watch.problems() == {}, (
        f"expected a quiet page (a refused script or load means something got past the cleaning): {watch.problems()}")
    assert not [href for href in links(page) if not href.startswith(("#", "http:", "https:"))], links(page)
    figures = page.eval_on_selector_all(".output_png img", "all => all.map(i => i.naturalWidth)")
    assert figures and figures[-1] > 0, f"expected the figure (the last PNG) to decode, widths {figures}"
    assert typeset >= 4 and errors == 0, f"expected MathJax to typeset the math, {typeset} typeset, {errors} errors"
    shown = page.inner_text("body")
    assert "<script>" in shown, "the student's <script> should show as text for the instructor to see"


def test_the_cleaning_alone_stops_every_vector(browser, tmp_path):
    """The same page without its policy: nothing runs, so the cleaning does not lean on the policy."""
    path = tmp_path / "hostile-no-policy.html"
    html = grader_page(hostile_notebook())
    assert POLICY.search(html), "expected the page to carry its Content-Security-Policy"
    path.write_text(POLICY.sub("", html, count=1), encoding="utf-8")
    page, watch, _ = open_page(browser, path)
    for anchor in page.query_selector_all("a[href]"):
        anchor.click(no_wait_after=True)
    assert what_ran(page) == [], f"without the policy, expected no student script to run, these did: {what_ran(page)}"


def test_the_policy_alone_stops_every_vector_of_an_uncleaned_page(browser, tmp_path):
    """Plain nbconvert's page (nothing cleaned) first runs the vectors; under the policy none of them runs."""
    plain, guarded = tmp_path / "plain.html", tmp_path / "plain-with-policy.html"
    html = unsanitised_page(hostile_notebook())
    plain.write_text(html, encoding="utf-8")
    guarded.write_text(with_csp(html), encoding="utf-8")
    page, _, _ = open_page(browser, plain)
    ran_plain = what_ran(page)
    expected = {"md-script", "md-img-onerror", "md-svg-onload", "md-ontoggle", "out-html-script", "out-html-img",
                "out-javascript", "out-svg-onload", "out-markdown-img", "out-png-width"}
    assert expected <= set(ran_plain), (
        f"expected the uncleaned page to run at least {sorted(expected)} (else this test proves nothing), "
        f"it ran {ran_plain}")
    page, _, (_, typeset, errors) = open_page(browser, guarded)
    for anchor in page.query_selector_all("a[href]"):
        anchor.click(no_wait_after=True)
    assert what_ran(page) == [], f"under the policy, expected no student script to run, these did: {what_ran(page)}"
    assert typeset >= 4 and errors == 0, f"expected the page's own MathJax to run under the policy: {typeset}, {errors}"


def test_every_markdown_vector_is_in_the_hostile_notebook():
    assert len(HOSTILE_MARKDOWN) >= 15 and all(name.startswith("md-") for name in HOSTILE_MARKDOWN)
