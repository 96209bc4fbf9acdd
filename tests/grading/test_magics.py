"""A cell's IPython syntax read as IPython reads it (grader.grading.magics), and an answer cell with
magics run by the trusted checker's builder (grader.grading.isolation.builder)."""
import pytest

from grader.grading.isolation.builder import Builder
from grader.grading.magics import python_source


def test_line_magics_and_shell_escapes_become_get_ipython_calls_on_their_own_lines():
    lines = python_source("%matplotlib inline\nfiles = !ls\ndef f():\n    return 1\n").split("\n")
    assert lines[0] == "get_ipython().run_line_magic('matplotlib', 'inline')"
    assert lines[1] == "files = get_ipython().getoutput('ls')" and lines[2] == "def f():"


@pytest.mark.parametrize("magic", ["%%capture", "%%time", "%%timeit", "%%capture out\n%%time"])
def test_a_python_cell_magic_is_read_as_its_body_with_the_cells_line_numbers(magic):
    source = python_source(f"{magic}\ndef f(x):\n    return 2 * x\n")
    assert source.split("\n").index("def f(x):") == magic.count("\n") + 1


def test_another_languages_cell_magic_runs_no_python():
    assert python_source("%%bash\necho hi\n") == ""


@pytest.mark.parametrize("source", [
    'msg = ("%d items"\n       % 3)\n',  # a continuation line that begins with %
    "ok = (1\n      != 2)\n",  # PEP 8's line break before a binary operator
    "def f(x):\n    return x %2\n",
])
def test_python_that_looks_like_a_magic_stays_python(source):
    assert python_source(source).strip() == source.strip()


def test_answers_with_magics_and_shell_escapes_run_as_in_the_notebook():
    cells = [{"kind": "answer", "grade_id": "a1", "source": "%%capture\ndef double(x):\n    return 2 * x\n"},
             {"kind": "answer", "grade_id": "a2",
              "source": "files = !echo one; echo two\n%timeit double(3)\nt = %time double(4)\n"
                        "answer = (double(2)\n          != 5)\n!true\n"}]
    builder = Builder(cells, timeout=10)
    assert [record["error"] for record in builder.answers] == [None, None]
    namespace = builder.namespace
    assert namespace["double"](3) == 6 and namespace["files"] == ["one", "two"] and namespace["t"] == 8
    assert namespace["answer"] is True


def test_an_answer_cell_that_fails_says_where():
    builder = Builder([{"kind": "answer", "grade_id": "a1", "source": "x = 1 / 0\n"},
                       {"kind": "answer", "grade_id": "a2", "source": "def f(:\n"},
                       {"kind": "answer", "grade_id": "a3", "source": "", "missing": "the cell is missing"}],
                      timeout=10)
    errors = [record["error"] for record in builder.answers]
    assert errors[0].startswith("ZeroDivisionError") and "SyntaxError" in errors[1]
    assert errors[2] == "the cell is missing"
