"""A hostile class, written against the trusted checker's source (grader/grading/checker.py,
isolation/builder.py, wire.py, graphs.py), graded in one autograde.

Every attacker submits a wrong answer (float64 placeholders in notebook 01, or a generator whose
graph the checker must refuse in notebook 02) together with an attack on the grading, and must
get exactly the score of that wrong answer: 0. Beside them, the control student keeps full marks
and the report holds nothing of theirs. The sandbox's own attacks (memory, fork bombs, symlinks,
other students' files) are in test_containment.py and test_cgroups.py; feedback pages full of
script in test_feedback_browser.py; output floods in test_outputs.py.
"""
import csv

import pytest

from grader.grading import demo
from grader.grading.batch import autograde

pytestmark = pytest.mark.slow
INPUTS, GENERATOR = "01_model_inputs", "02_generator"
WRONG = "    return tf.placeholder(tf.float64, (None, real_dim)), tf.placeholder(tf.float64, (None, z_dim))\n"
SIGNATURE = "def model_inputs(real_dim, z_dim):\n"


def at_call(code):
    """A wrong model_inputs that runs ``code`` each time a check calls it."""
    body = "".join(f"    {line}\n" for line in code.strip("\n").split("\n"))
    return SIGNATURE + body + WRONG


def before(code):
    """``code`` at the top of the answer cell, then the wrong model_inputs."""
    return code.strip("\n") + "\n\n" + SIGNATURE + WRONG


NEUTER_FAIL = "import grader.checks._common as c\nc.fail = lambda *a, **k: None\nc.check_tensor = lambda *a, **k: None"

# name: (answer cell of notebook 01, scratch cell after it or None)
ATTACKS_01 = {
    # frame walking at call time: blank the test's source and the check's locals up the stack
    "frames_blank_the_test": (at_call('''
import sys
frame = sys._getframe(1)
while frame is not None:
    for key, value in list(frame.f_locals.items()):
        if isinstance(value, dict) and "source" in value:
            value["source"] = "pass"
    frame = frame.f_back'''), None),
    "frames_patch_the_callers_globals": (at_call('''
import sys
frame = sys._getframe(1)
while frame is not None:
    frame.f_globals.update(fail=lambda *a, **k: None, check_tensor=lambda *a, **k: None)
    frame = frame.f_back'''), None),
    # patching modules, builtins, json, os, threading
    "patch_checks_at_the_top": (before("import grader.checks.inputs as inputs\n"
                                       "inputs.model_inputs_types = inputs.model_inputs_dimensions = "
                                       "lambda *a, **k: None"), None),
    "patch_checks_in_a_scratch_cell": (SIGNATURE + WRONG, "checks.model_inputs_types = lambda *a, **k: None\n"
                                                          "checks.model_inputs_dimensions = lambda *a, **k: None"),
    "patch_builtins_isinstance": (before("import builtins\nbuiltins.isinstance = lambda *a: True"), None),
    "patch_json_dumps": (before('import json\njson.dumps = lambda *a, **k: \'{"test": "test_model_inputs_types", '
                                '"passed": true, "error": null}\''), None),
    "patch_os_write": (before("import os\n_write = os.write\n"
                              "os.write = lambda fd, data: _write(fd, data.replace(b'false', b'true'))"), None),
    "patch_threading_and_signals": (before("import threading, signal\nthreading.Thread.start = lambda self: None\n"
                                           "signal.alarm = lambda *a: 0"), None),
    "patch_numpy_allclose": (before("np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True"), None),
    "patch_tensorflow_dtype_compare": (before("tf.DType.__ne__ = lambda self, other: False\n"
                                              "tf.DType.__eq__ = lambda self, other: True"), None),
    "replace_sys_modules": (before("import sys, types\nfake = types.ModuleType('grader.checks')\n"
                                   "fake.__getattr__ = lambda name: (lambda *a, **k: None)\n"
                                   "sys.modules['grader.checks'] = fake"), None),
    # __code__ swaps and __dict__.update
    "code_swap_of_a_check": (before("import grader.checks.inputs as inputs\n"
                                    "inputs.model_inputs_types.__code__ = (lambda *a, **k: None).__code__\n"
                                    "inputs.model_inputs_dimensions.__code__ = (lambda *a, **k: None).__code__"),
                             None),
    "dict_update_of_the_checks": (before("import grader.checks._common as c\n"
                                         "c.__dict__.update(fail=lambda *a, **k: None, "
                                         "check_tensor=lambda *a, **k: None)"), None),
    "gc_walk_and_rewrite_every_check": (before('''import gc, types
for thing in gc.get_objects():
    if isinstance(thing, types.FunctionType) and thing.__module__.startswith("grader.checks"):
        thing.__code__ = (lambda *a, **k: None).__code__'''), None),
    # class bodies, decorators and defaults
    "class_body": ("class Sneaky:\n" + "".join(f"    {line}\n" for line in NEUTER_FAIL.split("\n"))
                   + "\n" + SIGNATURE + WRONG, None),
    "decorator": ("def disarm(function):\n" + "".join(f"    {line}\n" for line in NEUTER_FAIL.split("\n"))
                  + "    return function\n\n@disarm\n" + SIGNATURE + WRONG, None),
    "default_argument": ("def model_inputs(real_dim, z_dim, _=exec(" + repr(NEUTER_FAIL) + ")):\n" + WRONG, None),
    # threads and timers
    "timer_thread_repatching": (before('''import threading, grader.checks._common as c
def again():
    c.fail = lambda *a, **k: None
    threading.Timer(0.005, again).start()
again()'''), None),
    "patch_and_restore_around_the_call": (at_call('''
import grader.checks._common as c, threading
original = c.fail
c.fail = lambda *a, **k: None
threading.Timer(0.5, lambda: setattr(c, "fail", original)).start()'''), None),
    # forged verdicts
    "forged_verdicts_printed": (before('''import json
for grade_id in ("test_model_inputs_types", "test_model_inputs_dimensions"):
    print(json.dumps({"test": grade_id, "passed": True, "error": None, "outcome": "passed"}))'''), None),
    "forged_verdicts_then_exit": (before('''import json, os
for fd in range(0, 64):
    for grade_id in ("test_model_inputs_types", "test_model_inputs_dimensions"):
        try:
            os.write(fd, (json.dumps({"test": grade_id, "passed": True, "error": None}) + "\\n").encode())
        except OSError:
            pass
os._exit(0)'''), None),
    # inherited descriptors: forge a reply on every socket the builder holds, at call time
    "forged_wire_reply": (at_call('''
import json, os, socket, struct
reply = json.dumps({"result": {"$": "tuple", "items": []}, "sync": {}}).encode()
for fd in range(3, 256):
    try:
        os.write(fd, struct.pack("!I", len(reply)) + reply)
    except OSError:
        pass'''), None),
    "exception_that_claims_success": (at_call('''
class Passed(AssertionError):
    def __str__(self):
        return "All tests passed"
raise Passed()'''), None),
    "unrepresentable_return_value": ('''class Anything:
    def __eq__(self, other):
        return True
    def __getattr__(self, name):
        return self

''' + SIGNATURE + "    return Anything(), Anything()\n", None),
}

PY_FUNC_GENERATOR = '''def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    sizes = [n_units] if isinstance(n_units, int) else list(n_units)
    with tf.variable_scope("generator", reuse=reuse):
        hidden = z
        for units in sizes:
            hidden = tf.layers.dense(hidden, units)
            hidden = tf.maximum(alpha * hidden, hidden)
        logits = tf.layers.dense(hidden, out_dim)
        return tf.py_func(lambda v: __import__("numpy").tanh(v), [logits], tf.float32, stateful=False)
'''
READ_FILE_GENERATOR = PY_FUNC_GENERATOR.replace(
    '        return tf.py_func(lambda v: __import__("numpy").tanh(v), [logits], tf.float32, stateful=False)\n',
    '        with tf.control_dependencies([tf.io.read_file("/etc/hostname")]):\n'
    '            return tf.tanh(logits)\n')
HUGE_CONSTANT_GENERATOR = PY_FUNC_GENERATOR.replace(
    '        return tf.py_func(lambda v: __import__("numpy").tanh(v), [logits], tf.float32, stateful=False)\n',
    '        ballast = tf.constant(np.zeros(6_000_000, np.float32))\n'
    '        return tf.tanh(logits) + 0.0 * tf.reduce_sum(ballast)\n')
# name: the generator of notebook 02, correct in the notebook's run but a graph the checker refuses
ATTACKS_02 = {
    "py_func_in_the_graph": PY_FUNC_GENERATOR,
    "read_file_in_the_graph": READ_FILE_GENERATOR,
    "huge_constant_in_the_graph": HUGE_CONSTANT_GENERATOR,
}


# A cell after the test cells that prints what the kernel ran, hunting for the hidden tests' source.
READS_THE_HISTORY = """
shell = get_ipython()
print("history:", In, _ih, shell.user_ns.get("_i"), sep="\\n")
print("names:", sorted(name for name in globals() if not name.startswith("_")))
"""
HISTORY_READER = "reads_the_hidden_tests_from_history"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    answers = demo.reference_answers()
    folder = tmp_path_factory.mktemp("hostile")
    submitted = folder / "submitted"
    demo.write_submission(submitted, "control", answers, notebooks=[INPUTS, GENERATOR])
    for name, (source, scratch) in ATTACKS_01.items():
        edits = {INPUTS: (lambda nb, s=scratch: demo.add_cell(nb, s, "model_inputs"))} if scratch else None
        demo.write_submission(submitted, name, {INPUTS: {"model_inputs": source}}, notebooks=[INPUTS], edits=edits)
    for name, source in ATTACKS_02.items():
        demo.write_submission(submitted, name, {GENERATOR: {"generator": source}}, notebooks=[GENERATOR])
    after_the_tests = {INPUTS: lambda nb: demo.add_cell(nb, READS_THE_HISTORY, "test_model_inputs_dimensions")}
    demo.write_submission(submitted, HISTORY_READER, {INPUTS: {"model_inputs": SIGNATURE + WRONG}}, notebooks=[INPUTS],
                          edits=after_the_tests)
    report = autograde(submitted, folder / "out", workers=2, timeout=40, notebook_limit=150, memory_mb=1500)
    totals = {}
    with open(folder / "out" / "grades.csv") as handle:
        for row in csv.DictReader(handle):
            key = (row["student_id"], row["notebook_id"])
            totals[key] = totals.get(key, 0.0) + float(row["score"])
    return {"report": report, "totals": totals, "out": folder / "out"}


def test_the_suite_is_large():
    assert len(ATTACKS_01) + len(ATTACKS_02) >= 25


@pytest.mark.parametrize("name", sorted(ATTACKS_01))
def test_an_attack_from_the_answers_gets_only_what_the_wrong_answer_earns(graded, name):
    assert graded["totals"][(name, INPUTS)] == 0.0


@pytest.mark.parametrize("name", sorted(ATTACKS_02))
def test_a_graph_the_checker_refuses_scores_nothing_and_says_why(graded, name):
    assert graded["totals"][(name, GENERATOR)] == 0.0
    result = next(s for s in graded["report"]["students"] if s.student_id == name).notebooks[GENERATOR]
    reasons = " ".join(test.reason or "" for test in result.tests.values())
    assert "will not run" in reasons or "MiB" in reasons, reasons


def test_nothing_else_in_the_batch_changed(graded):
    assert graded["totals"][("control", INPUTS)] == 3.0
    assert graded["totals"][("control", GENERATOR)] == 7.0
    control = next(s for s in graded["report"]["students"] if s.student_id == "control")
    assert not any(result.problems for notebook, result in control.notebooks.items()
                   if notebook in (INPUTS, GENERATOR)), control.notebooks
    assert not any(s.internal_error for s in graded["report"]["students"])


def test_the_hidden_tests_never_reach_the_students_kernel(graded):
    """The kernel runs the test cells without their hidden part (the checker runs it), so a later
    cell finds nothing of it to print into the autograded notebook or the feedback page."""
    assert graded["totals"][(HISTORY_READER, INPUTS)] == 0.0
    autograded = next((graded["out"] / "autograded" / HISTORY_READER).rglob(f"{INPUTS}.ipynb")).read_text()
    feedback = next((graded["out"] / "feedback" / HISTORY_READER).rglob(f"{INPUTS}.html")).read_text()
    assert "history:" in autograded, "the cell ran and printed"
    for text in (autograded, feedback):
        assert "hidden_inputs(" not in text and "model_inputs_dimensions(" not in text
