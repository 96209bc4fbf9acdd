"""Unit tests of the clean room (grader.grading.isolation.cleanroom): its answer filter and its tamper snapshot."""
import sys
import textwrap
import threading
import types

import pytest

from grader.grading.isolation.cleanroom import Snapshot, filter_answer, run_cells


def test_filter_answer_keeps_definitions_and_library_calls():
    source = (
        "import numpy as np\n"
        "init = tf.random_normal_initializer(stddev=0.02)\n"
        "ALPHA = 0.2\n"
        "def generator(z):\n    return z\n"
        "generator(1)\n"
        "np.tanh = lambda x: x\n"
        "for i in range(3):\n    print(i)\n"
    )
    kept, dropped = filter_answer(source, {"tf", "checks"})
    assert "def generator" in kept and "init = tf.random" in kept and "ALPHA" in kept
    assert "generator(1)" in kept, "a call of the answer's own function is a definition's use, not tampering"
    assert [line for line, _ in dropped] == [7, 8]
    assert "np.tanh" not in kept and "print" not in kept


def test_a_short_answer_may_use_the_students_own_functions_from_an_earlier_cell():
    kept, dropped = filter_answer("gap = js_divergence(p, q) - 0.1\nanswer_q3 = gap.round(2) < 0\n",
                                  {"np", "js_divergence", "p", "q"})
    assert not dropped and "answer_q3" in kept


def test_filter_answer_reads_magics_as_ipython_does_and_keeps_line_numbers():
    kept, dropped = filter_answer("%matplotlib inline\nfiles = !ls\ndef f():\n    return 1\n", set())
    lines = kept.split("\n")
    assert lines[0] == "get_ipython().run_line_magic('matplotlib', 'inline')"
    assert lines[1] == "files = get_ipython().getoutput('ls')" and lines[2] == "def f():" and not dropped


@pytest.mark.parametrize("magic", ["%%capture", "%%time", "%%timeit", "%%capture out\n%%time"])
def test_a_python_cell_magic_is_graded_as_its_body(magic):
    body = "def f(x):\n    return 2 * x\n"
    kept, dropped = filter_answer(f"{magic}\n{body}", set())
    assert not dropped
    assert kept.split("\n").index("def f(x):") == magic.count("\n") + 1, "line numbers must match the cell"


@pytest.mark.parametrize("source", [
    'msg = ("%d items"\n       % 3)\n',  # a continuation line that begins with %
    "ok = (1\n      != 2)\n",  # PEP 8's line break before a binary operator
    "def f(x):\n    return x %2\n",
])
def test_python_that_looks_like_a_magic_stays_python(source):
    kept, dropped = filter_answer(source, set())
    assert kept.strip() == source.strip() and not dropped


def test_a_cell_magic_cell_is_not_python_and_runs_nothing():
    kept, dropped = filter_answer("%%bash\necho hi\n", set())
    assert kept == "" and not dropped


# ------------------------------------------------------------------ the tamper snapshot
@pytest.fixture
def guarded(monkeypatch):
    """A small trusted package, ``guardedlib``, and a Snapshot of it."""
    package = types.ModuleType("guardedlib")
    inner = types.ModuleType("guardedlib.inner")
    exec(textwrap.dedent("""
        TOLERANCE = 1e-6
        def allclose(a, b, rtol=1e-5, *, atol=1e-8):
            return abs(a - b) <= atol + rtol * abs(b)
        class Checker:
            def check(self):
                return True
            @staticmethod
            def helper(x=1):
                return x
            @property
            def ready(self):
                return True
    """), vars(package))
    package.inner = inner
    for module in (package, inner):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return package, Snapshot(roots=("guardedlib",))


class Liar:
    """Equal to everything: an identity check must not be fooled by it."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__

    def __call__(self, *args, **kwargs):
        return True


def test_an_untouched_snapshot_reports_nothing_and_data_may_change(guarded):
    package, snapshot = guarded
    package.TOLERANCE = 0.5  # data is not guarded
    package.new_name = lambda: None  # a new name is not a change to a guarded one
    assert snapshot.changes() == []


@pytest.mark.parametrize("tamper, expected", [
    (lambda p: setattr(p, "allclose", Liar()), "guardedlib.allclose was replaced"),
    (lambda p: delattr(p, "allclose"), "guardedlib.allclose was deleted"),
    (lambda p: setattr(p.allclose, "__code__", (lambda a, b, rtol=0, *, atol=0: True).__code__),
     "guardedlib.allclose.__code__ was modified"),
    (lambda p: setattr(p.allclose, "__defaults__", (Liar(),)), "guardedlib.allclose.__defaults__ was modified"),
    (lambda p: setattr(p.allclose, "__kwdefaults__", {"atol": 1.0}), "guardedlib.allclose.__kwdefaults__ was modified"),
    (lambda p: setattr(p.Checker, "check", lambda self: True), "guardedlib.Checker.check was replaced"),
    (lambda p: setattr(p.Checker.__dict__["helper"].__func__, "__defaults__", (2,)),
     "guardedlib.Checker.helper.__defaults__ was modified"),
    (lambda p: setattr(p.Checker.__dict__["ready"].fget, "__code__", (lambda self: False).__code__),
     "guardedlib.Checker.ready.__code__ was modified"),
    (lambda p: sys.modules.__setitem__("guardedlib.inner", types.ModuleType("guardedlib.inner")),
     "sys.modules['guardedlib.inner'] was replaced"),
    (lambda p: setattr(p, "inner", types.ModuleType("guardedlib.inner")), "guardedlib.inner was replaced"),
])
def test_each_kind_of_tampering_is_named(guarded, tamper, expected):
    package, snapshot = guarded
    tamper(package)
    assert expected in snapshot.changes(), f"expected {expected!r} among {snapshot.changes()}"


def test_a_module_may_be_rebound_to_the_module_that_sys_modules_holds(guarded, monkeypatch):
    """A lazy loader replacing itself with the real module on first use is not tampering."""
    package, snapshot = guarded
    real = types.ModuleType("guardedlib.inner")
    monkeypatch.setitem(sys.modules, "guardedlib.inner", real)
    package.inner = real
    assert snapshot.changes() == ["sys.modules['guardedlib.inner'] was replaced"]


def test_hooks_and_threads_left_behind_are_named(guarded):
    _, snapshot = guarded
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert "student code left a background thread running" in snapshot.changes()
    finally:
        stop.set()
        thread.join()
    sys.setprofile(lambda *args: None)
    try:
        found = snapshot.changes()
    finally:
        sys.setprofile(None)
    assert any("profile hook" in line for line in found)


def test_answers_with_magics_and_shell_escapes_pass_as_in_the_notebook(guarded):
    _, snapshot = guarded
    cells = [{"kind": "answer", "grade_id": "a1", "source": "%%capture\ndef double(x):\n    return 2 * x\n"},
             {"kind": "answer", "grade_id": "a2",
              "source": "files = !echo one; echo two\n%timeit double(3)\nt = %time double(4)\n"
                        "answer = (double(2)\n          != 5)\n!true\n"},
             {"kind": "test", "grade_id": "t1",
              "source": "assert double(3) == 6 and files == ['one', 'two'] and t == 8 and answer"}]
    records = []
    run_cells({"cells": cells, "timeout": 10}, snapshot, records.append)
    answers = [r for r in records if "answer" in r]
    assert all(not r["error"] and not r["dropped"] for r in answers), answers
    assert [r["passed"] for r in records if "test" in r] == [True], records


def test_tests_after_a_clean_check_skip_the_check_before_them(guarded, monkeypatch):
    """Checks run after every test, and before a test only where an answer cell ran since the last one."""
    _, snapshot = guarded
    calls = []
    monkeypatch.setattr(snapshot, "changes", lambda: calls.append(1) or [])
    cells = [{"kind": "answer", "grade_id": "a1", "source": "x = 1"},
             {"kind": "test", "grade_id": "t1", "source": "assert x == 1"},
             {"kind": "test", "grade_id": "t2", "source": "assert x == 1"},
             {"kind": "answer", "grade_id": "a2", "source": "y = 2"},
             {"kind": "test", "grade_id": "t3", "source": "assert y == 2"}]
    records = []
    run_cells({"cells": cells, "timeout": 10}, snapshot, records.append)
    assert [r.get("passed") for r in records if "test" in r] == [True, True, True]
    assert len(calls) == 5, f"expected 5 checks (before+after t1, after t2, before+after t3), found {len(calls)}"
