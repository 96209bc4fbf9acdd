"""End-to-end tests of `python -m grader autograde` (grader.grading.batch) on an adversarial class.

One batch is graded once (a module fixture: the slow part) and every test asserts on it. Each
adversarial student hands in only the notebook(s) its attack needs (the others are "missing" and
score 0, which exercises that path too), so the batch stays small.
01_model_inputs is worth 3 points, 02_generator 6.
"""
import csv
import json
import os
import subprocess
import sys

import nbformat
import pytest

from grader import course
from grader.grading import demo
from grader.grading.batch import EXIT_PROBLEMS, autograde, exit_status, merge_shards, summary_text

pytestmark = pytest.mark.slow
REPO = course.course_root()
INPUTS, GENERATOR = "01_model_inputs", "02_generator"
WRONG_INPUTS = '''def model_inputs(real_dim, z_dim):
    return tf.placeholder(tf.float64, (None, real_dim)), tf.placeholder(tf.float64, (None, z_dim))
'''
PATCH_CHECKS_CELL = ("checks.model_inputs_types = lambda *a, **k: None\n"
                     "checks.model_inputs_dimensions = lambda *a, **k: None\n")
PATCH_AT_CALL_TIME = '''def model_inputs(real_dim, z_dim):
    import grader.checks.inputs as inputs
    inputs.check_tensor = lambda *args, **kwargs: None   # disarm the check while it runs
    return tf.placeholder(tf.float64, (None, real_dim)), tf.placeholder(tf.float64, (None, z_dim))
'''
EMPTY_TEST_CELLS = "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
SNOOP_CELL = f'''import os
print("SOLUTIONS:", os.path.exists({str(REPO / "solutions")!r}) and sorted(os.listdir({str(REPO / "solutions")!r})))
try:
    open({str(REPO / "grader" / "hacked.txt")!r}, "w").write("x")
    print("WROTE: yes")
except OSError as error:
    print("WROTE: no", type(error).__name__)
'''


def is_test_cell(cell):
    return (course.grade_id(cell) or "").startswith("test_")


def without_tests(notebook):
    notebook.cells = [c for c in notebook.cells if not is_test_cell(c)]
    return notebook


def edit_tests(notebook, source):
    for cell in filter(is_test_cell, notebook.cells):
        cell.source = source
    return notebook


def fake_outputs(notebook):
    for cell in filter(is_test_cell, notebook.cells):
        demo.fake_pass_output(notebook, course.grade_id(cell))
    return notebook


def corpus(answers):
    """{student_id: (write(folder), {notebook_id: expected score})}."""
    wrong = {**answers, INPUTS: {"model_inputs": WRONG_INPUTS}}
    ok, nb1, both = answers, [INPUTS], [INPUTS, GENERATOR]
    w = demo.write_submission
    return {
        "control": (lambda f: w(f, "control", ok, notebooks=both), {INPUTS: 3, GENERATOR: 7}),
        "edited_tests": (lambda f: w(f, "edited_tests", wrong, notebooks=nb1,
                                     edits={INPUTS: lambda nb: edit_tests(nb, "pass")}), {INPUTS: 0}),
        "deleted_tests": (lambda f: w(f, "deleted_tests", wrong, notebooks=nb1, edits={INPUTS: without_tests}),
                          {INPUTS: 0}),
        "fake_outputs": (lambda f: w(f, "fake_outputs", wrong, notebooks=nb1, edits={INPUTS: fake_outputs}),
                         {INPUTS: 0}),
        "patched_checks": (lambda f: w(f, "patched_checks", wrong, notebooks=nb1, edits={
            INPUTS: lambda nb: demo.add_cell(nb, PATCH_CHECKS_CELL, "model_inputs")}), {INPUTS: 0}),
        "patch_at_call": (lambda f: w(f, "patch_at_call", {INPUTS: {"model_inputs": PATCH_AT_CALL_TIME}},
                                      notebooks=nb1), {INPUTS: 0}),
        "empty_test_cells": (lambda f: w(f, "empty_test_cells", wrong, notebooks=nb1, edits={
            INPUTS: lambda nb: demo.add_cell(nb, EMPTY_TEST_CELLS, "model_inputs")}), {INPUTS: 0}),
        "infinite_loop": (lambda f: w(f, "infinite_loop", ok, notebooks=nb1, edits={
            INPUTS: lambda nb: demo.add_cell(nb, "while True:\n    pass\n", "model_inputs")}), {INPUTS: 3}),
        "sys_exit": (lambda f: w(f, "sys_exit", {INPUTS: {
            "model_inputs": answers[INPUTS]["model_inputs"] + "\nimport sys\nsys.exit(3)\n"}}, notebooks=nb1),
            {INPUTS: 3}),
        "os_exit": (lambda f: w(f, "os_exit", ok, notebooks=both, edits={
            INPUTS: lambda nb: demo.add_cell(nb, "import os\nos._exit(0)\n", "model_inputs")}),
            {INPUTS: 0, GENERATOR: 7}),
        "segfault": (lambda f: w(f, "segfault", ok, notebooks=both, edits={
            INPUTS: lambda nb: demo.add_cell(nb, "import ctypes\nctypes.string_at(0)\n", "model_inputs")}),
            {INPUTS: 0, GENERATOR: 7}),
        "memory_hog": (lambda f: w(f, "memory_hog", ok, notebooks=nb1, edits={
            INPUTS: lambda nb: demo.add_cell(nb, "hog = np.ones(600_000_000)\n", "model_inputs")}), {INPUTS: 0}),
        "huge_output": (lambda f: w(f, "huge_output", ok, notebooks=nb1, edits={
            INPUTS: lambda nb: demo.add_cell(nb, "for i in range(300_000):\n    print('x' * 100)\n", "model_inputs")}),
            {INPUTS: 3}),
        "corrupt_json": (lambda f: w(f, "corrupt_json", ok, notebooks=nb1, raw={INPUTS: b'{"cells": [{"cell_type": '}),
                         {INPUTS: 0}),
        "noisy_correct": (lambda f: w(f, "noisy_correct", {GENERATOR: {"generator": demo.NOISY_GENERATOR}},
                                      notebooks=[GENERATOR]), {GENERATOR: 7}),
        "alternative": (lambda f: w(f, "alternative", {GENERATOR: {"generator": demo.ALTERNATIVE_GENERATOR}},
                                    notebooks=[GENERATOR]), {GENERATOR: 7}),
        "snoop": (lambda f: w(f, "snoop", ok, notebooks=nb1, edits={
            INPUTS: lambda nb: demo.add_cell(nb, SNOOP_CELL, "model_inputs")}), {INPUTS: 3}),
        "unfinished": (lambda f: w(f, "unfinished", {}, notebooks=nb1), {INPUTS: 0}),
    }


TIMEOUT = 40


@pytest.fixture(scope="module")
def answers():
    return demo.reference_answers()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, answers):
    folder = tmp_path_factory.mktemp("class")
    submitted = folder / "submitted"
    students = corpus(answers)
    for write, _ in students.values():
        write(submitted)
    (submitted / "no_assignment_folder").mkdir()
    report = autograde(submitted, folder / "out", workers=2, timeout=TIMEOUT, notebook_limit=150, memory_mb=1500)
    return {"report": report, "out": folder / "out", "submitted": submitted, "students": students}


def scores(out):
    """{(student, notebook): score} from grades.csv."""
    totals = {}
    with open(out / "grades.csv") as handle:
        for row in csv.DictReader(handle):
            key = (row["student_id"], row["notebook_id"])
            totals[key] = totals.get(key, 0.0) + float(row["score"])
    return totals


def student(graded, student_id):
    return next(s for s in graded["report"]["students"] if s.student_id == student_id)


def test_every_student_gets_the_expected_scores(graded):
    totals = scores(graded["out"])
    notebooks = sorted({nb for _, nb in totals})
    wrong = []
    for student_id, (_, expected) in graded["students"].items():
        for notebook in notebooks:
            want = expected.get(notebook, 0)
            if totals.get((student_id, notebook)) != want:
                wrong.append(f"{student_id}/{notebook}: expected {want}, got {totals.get((student_id, notebook))}")
    assert not wrong, "\n".join(wrong)


def test_a_student_without_the_assignment_gets_zeros(graded):
    totals = scores(graded["out"])
    mine = [v for (sid, _), v in totals.items() if sid == "no_assignment_folder"]
    assert mine and not any(mine)


def test_grades_csv_has_exactly_the_columns_and_a_row_per_test(graded):
    with open(graded["out"] / "grades.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student_id", "assignment_id", "notebook_id", "grade_id", "score", "max_score"]
    tests_per_student = sum(len(notebook.tests) for notebook in course.read_assignment().values())
    assert len(rows) - 1 == tests_per_student * (len(graded["students"]) + 1)


def test_outputs_exist_for_every_notebook(graded):
    out = graded["out"]
    assert (out / "gradebook.db").exists()
    for student_id in graded["students"]:
        for notebook in course.read_assignment():
            assert (out / "autograded" / student_id / "gan" / f"{notebook}.ipynb").exists(), (student_id, notebook)
            assert (out / "feedback" / student_id / "gan" / f"{notebook}.html").exists(), (student_id, notebook)


def problems_of(graded, student_id, notebook):
    return " ".join(student(graded, student_id).notebooks[notebook].problems)


@pytest.mark.parametrize("student_id, notebook, words", [
    ("edited_tests", INPUTS, "edited"),
    ("deleted_tests", INPUTS, "deleted"),
    ("os_exit", INPUTS, "kernel died"),
    ("segfault", INPUTS, "kernel died"),
    ("memory_hog", INPUTS, "memory"),
    ("corrupt_json", INPUTS, "could not be read"),
    ("corrupt_json", GENERATOR, "not submitted"),
    ("patched_checks", INPUTS, "clean re-check"),
    ("empty_test_cells", INPUTS, "clean re-check"),
])
def test_the_report_says_why(graded, student_id, notebook, words):
    assert words in problems_of(graded, student_id, notebook)


def test_a_check_disarmed_at_call_time_is_disarmed_only_in_the_sandbox(graded):
    """The patch runs where the student's code runs, in the builder; the trusted checker's checks
    are its own, so the verdict names the real mistake (float64 placeholders)."""
    reasons = [t.reason or "" for t in student(graded, "patch_at_call").notebooks[INPUTS].tests.values()]
    assert reasons and all("passed in the notebook but failed" in r and "dtype" in r for r in reasons), reasons


def test_lowered_scores_are_explained_in_the_feedback(graded):
    html = (graded["out"] / "feedback" / "patched_checks" / "gan" / f"{INPUTS}.html").read_text()
    assert "failed the clean re-check" in html


def test_feedback_pages_show_the_figures_embedded(graded):
    html = (graded["out"] / "feedback" / "control" / "gan" / f"{GENERATOR}.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 and "../../assets" not in html


def test_feedback_shows_the_failed_check_as_a_message_not_a_traceback(graded):
    html = (graded["out"] / "feedback" / "edited_tests" / "gan" / f"{INPUTS}.html").read_text()
    assert "CheckFailed: checks.model_inputs" in html and "likely cause" in html
    assert "grader/checks/" not in html and "_common.py" not in html
    assert "BEGIN HIDDEN TESTS" not in html and '<span class="n">model_inputs_dimensions</span>' not in html, (
        "a hidden check's source shows on the feedback page")
    assert "hidden tests: the grader runs them outside this notebook" in html


def test_feedback_pages_in_a_browser_show_figures_math_and_messages_offline(graded):
    """Opened in real Chromium (tests/browser_tools.py): a correct 02 shows its figures and typeset
    math; a failed 01 shows the check's message and nothing of the grader's source. Offline."""
    from browser_tools import broken_images, chromium, wait_for_math, watched_page

    feedback = graded["out"] / "feedback"
    with chromium() as browser:
        page, watch = watched_page(browser)
        page.goto((feedback / "control" / "gan" / f"{GENERATOR}.html").as_uri(), wait_until="load")
        assert page.locator("img").count() >= 2 and not broken_images(page)
        math, typeset, errors = wait_for_math(page)
        assert typeset >= 1 and not errors, (math, typeset, errors)
        assert "$$" not in page.inner_text("body"), "raw TeX shows on the feedback page"
        assert not watch.problems(), watch.problems()

        page, watch = watched_page(browser)
        page.goto((feedback / "edited_tests" / "gan" / f"{INPUTS}.html").as_uri(), wait_until="load")
        text = page.inner_text("body")
        assert "CheckFailed: checks.model_inputs" in text and "likely cause" in text
        assert "Traceback" not in text and "grader/checks" not in text and "_common.py" not in text
        assert not watch.problems(), watch.problems()


def test_huge_output_is_truncated_in_the_executed_notebook(graded):
    path = graded["out"] / "autograded" / "huge_output" / "gan" / f"{INPUTS}.ipynb"
    assert path.stat().st_size < 2_000_000


def test_flags_point_at_suspicious_code(graded):
    flags = " ".join(graded["report"]["flags"])
    assert "patched_checks" in flags and "empty_test_cells" in flags


def test_student_code_cannot_see_solutions_or_write_to_the_repository(graded):
    if os.geteuid() != 0:
        pytest.skip("the sandbox's own uid and hidden paths need root")
    notebook = nbformat.read(str(graded["out"] / "autograded" / "snoop" / "gan" / f"{INPUTS}.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "WROTE: no" in text
    assert not (REPO / "grader" / "hacked.txt").exists()
    if graded["report"].get("isolation_notes"):
        pytest.skip("no private mount namespace here: " + graded["report"]["isolation_notes"][0])
    assert "SOLUTIONS: False" in text


def test_exit_status_and_summary_name_the_problems(graded):
    assert exit_status(graded["report"]) == EXIT_PROBLEMS
    text = summary_text(graded["report"])
    assert f"Graded {len(graded['students']) + 1} student(s)" in text
    assert "segfault/01_model_inputs" in text


def test_grading_again_gives_the_same_scores(graded, tmp_path):
    """Determinism: regrade a few students (a normal, a tampering and a crashing one), this
    time with cold kernels, which also shows that warm (forked) kernels grade the same."""
    again = tmp_path / "submitted"
    for student_id in ("control", "patched_checks", "segfault"):
        graded["students"][student_id][0](again)
    autograde(again, tmp_path / "out", workers=2, timeout=TIMEOUT, notebook_limit=150, memory_mb=1500,
              warm_kernels=False)
    first, second = scores(graded["out"]), scores(tmp_path / "out")
    assert {k: v for k, v in first.items() if k[0] in ("control", "patched_checks", "segfault")} == second


def test_export_writes_per_notebook_totals(graded):
    result = subprocess.run([sys.executable, "-m", "grader", "export", "--out", str(graded["out"]), "--csv", "-"],
                            capture_output=True, text=True, check=True)
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0][:2] == ["student_id", "assignment_id"] and rows[0][-2:] == ["total", "max_total"]
    control = next(r for r in rows if r[0] == "control")
    assert control[rows[0].index(INPUTS)] == "3" and control[rows[0].index("total")] == "10"


def test_merge_combines_shards_and_refuses_duplicates(graded, tmp_path):
    merged = tmp_path / "merged"
    assert merge_shards([graded["out"]], merged) == len(graded["students"]) + 1
    assert scores(merged) == scores(graded["out"])
    with pytest.raises(ValueError, match="two shards"):
        merge_shards([graded["out"], graded["out"]], tmp_path / "twice")


def test_report_json_is_written_with_the_same_keys_for_every_student(graded):
    report = json.loads((graded["out"] / "report.json").read_text())
    assert report["graded"] == len(graded["students"]) + 1
    student_keys = {"student_id", "assignment_id", "timestamp", "notebooks", "flags", "isolation_note", "seconds",
                    "internal_error"}
    notebook_keys = {"status", "problems", "tests", "comments", "autograded", "feedback"}
    test_keys = {"score", "max_score", "reason", "nbgrader", "recheck", "check", "mistake"}
    for student in report["students"]:
        assert set(student) == student_keys, student["student_id"]
        for notebook in student["notebooks"].values():
            assert set(notebook) == notebook_keys, student["student_id"]
            assert all(set(test) == test_keys for test in notebook["tests"].values()), student["student_id"]
    control = next(s for s in report["students"] if s["student_id"] == "control")
    assert control["internal_error"] is None and control["seconds"] > 0
