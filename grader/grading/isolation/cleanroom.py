"""The authoritative re-check: each notebook's tests, run against only the student's answers.

nbgrader runs the whole submitted notebook, so anything a student put in any cell (a fake
``checks`` class, a patched ``numpy.allclose``, an IPython input transformer that empties
the test cells...) runs before the tests. The clean room does not trust any of that:

1. The student's zygote (grader.grading.isolation.zygote) imports NumPy, TensorFlow and
   ``grader.checks`` *before* any student code exists, and fingerprints every function and
   class of those modules (and of the standard modules the checks lean on): identity,
   ``__code__``, defaults, class dicts.
2. Per notebook it forks a child (cheap: TensorFlow is already imported) inside the student's
   sandbox, which runs the notebook's locked setup cells from ``solutions/`` (sent by the
   grading process: the sandbox has no ``solutions/``), then *only* the student's answer
   cells, filtered by :func:`filter_answer` to imports, definitions and simple assignments,
   then each graded test cell's source from ``solutions/`` (hidden tests included), with the
   setup cells' names (``checks``, ``tf``, ``np``...) re-bound to the pristine objects first.
3. A test passes only if it raised nothing *and* the fingerprint is unchanged afterwards (no
   patched function, no trace hook, no thread left behind). The child reports each verdict
   on its request's connection, prefixed by a per-run random nonce that the grading process
   sent with the request; anything else is ignored, and a test with no verdict failed.

Limits (also in docs/instructors.md): student code shares the child's address space, so a
determined attacker who introspects the grader's own frames could find the nonce or undo a
patch before the test ends. :mod:`grader.grading.integrity` flags such code for a human to read.
"""
import ast
import builtins
import itertools
import json
import operator
import os
import select
import signal
import sys
import threading
import time
import traceback
import types

from grader.grading.magics import ReplayShell, python_source
from grader.quiet import redirect_fds

TRUSTED_ROOTS = (
    "numpy", "tensorflow", "tf_keras", "keras", "grader", "builtins", "math", "operator",
    "functools", "random", "unittest", "warnings", "contextlib", "inspect", "types", "abc",
    "re", "io", "logging", "itertools", "collections", "copy", "traceback",
)
SAFE_BUILTIN_CALLS = {
    "int", "float", "str", "bool", "tuple", "list", "dict", "set", "frozenset", "range",
    "len", "min", "max", "abs", "round", "sum", "zip", "enumerate", "sorted", "reversed",
}
MAX_PIPE_BYTES = 2 * 2**20
MODULE = "grader.grading.isolation.cleanroom"


# ------------------------------------------------------------------ fingerprints
# What a guarded function must keep: these attributes can be reassigned in place.
FUNCTION_PARTS = ("__code__", "__defaults__", "__kwdefaults__")
_MISSING = object()


def is_guarded(value):
    """Functions, classes and other callables are guarded; data (counters, caches...) legitimately
    changes and is not."""
    return isinstance(value, (types.ModuleType, staticmethod, classmethod, property)) or callable(value)


def functions_inside(value):
    """The plain functions whose code a guarded value runs (a property's getter and setter too)."""
    if isinstance(value, types.FunctionType):
        return [value]
    if isinstance(value, (staticmethod, classmethod)) and isinstance(value.__func__, types.FunctionType):
        return [value.__func__]
    if isinstance(value, property):
        return [part for part in (value.fget, value.fset, value.fdel) if isinstance(part, types.FunctionType)]
    return []


def same_module(before, after):
    """A module attribute may be rebound to the module of the same name that ``sys.modules`` holds
    (a lazy loader replacing itself with the real module on first use)."""
    return (isinstance(before, types.ModuleType) and isinstance(after, types.ModuleType)
            and getattr(after, "__name__", None) == getattr(before, "__name__", None)
            and sys.modules.get(after.__name__) is after)


class Snapshot:
    """Every guarded function, class and class member of the trusted modules, held as it was.

    :meth:`changes` runs after every test, and before each test that follows an answer cell,
    over tens of thousands of names, so it compares by identity in C loops
    (``map(operator.is_not, ...)``, never ``==``, which a planted object could answer with True)
    and only walks the names one by one, to say what changed, when something did. The modules
    themselves are checked against ``sys.modules``.
    """

    def __init__(self, roots=TRUSTED_ROOTS):
        self.owners, self.getters, self.keys, self.values = [], [], [], []
        self.functions, self._function_ids = [], set()
        self.modules = {}
        seen_classes = set()
        for name, module in sorted(sys.modules.items()):
            if module is None or name.split(".")[0] not in roots or name.startswith(MODULE):
                continue
            self.modules[name] = module
            namespace = vars(module)
            for key, value in list(namespace.items()):
                self._add(name, namespace, key, value)
                if isinstance(value, type) and id(value) not in seen_classes:
                    seen_classes.add(id(value))
                    self._add_class(value)
        self.parts = [list(self._parts_now(part)) for part in FUNCTION_PARTS]
        self.module_names = list(self.modules)
        self.module_values = list(self.modules.values())
        self.threads = threading.active_count()

    def _add(self, owner, namespace, key, value):
        if not is_guarded(value):
            return
        self.owners.append(owner)
        self.getters.append(namespace.get)  # a module's dict or a class's mappingproxy
        self.keys.append(key)
        self.values.append(value)
        for function in functions_inside(value):
            if id(function) not in self._function_ids:  # held, so its id stays its own
                self._function_ids.add(id(function))
                self.functions.append(function)

    def _add_class(self, cls):
        try:
            namespace = cls.__dict__
        except Exception:
            return
        owner = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"
        for key, value in list(namespace.items()):
            if isinstance(value, (types.FunctionType, staticmethod, classmethod, property)):
                self._add(owner, namespace, key, value)

    def _values_now(self):
        return map(operator.call, self.getters, self.keys, itertools.repeat(_MISSING))

    def _parts_now(self, part):
        return map(operator.attrgetter(part), self.functions)

    def changes(self, limit=5):
        """Human-readable list of what student code tampered with (empty if nothing)."""
        found = []
        if any(map(operator.is_not, self._values_now(), self.values)):
            for owner, key, before, after in zip(self.owners, self.keys, self.values, self._values_now(), strict=True):
                if after is _MISSING:
                    found.append(f"{owner}.{key} was deleted")
                elif after is not before and not same_module(before, after):
                    found.append(f"{owner}.{key} was replaced")
        for part, before in zip(FUNCTION_PARTS, self.parts, strict=True):
            if any(map(operator.is_not, self._parts_now(part), before)):
                found.extend(f"{function.__module__}.{function.__qualname__}.{part} was modified"
                             for function, old, new in zip(self.functions, before, self._parts_now(part), strict=True)
                             if old is not new)
        modules_now = list(map(sys.modules.get, self.module_names))
        if any(map(operator.is_not, modules_now, self.module_values)):
            found.extend(f"sys.modules['{name}'] was replaced" for name, old, new
                         in zip(self.module_names, self.module_values, modules_now, strict=True) if old is not new)
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append("a trace or profile hook (sys.settrace/sys.setprofile) was installed")
        if threading.active_count() > self.threads:
            found.append("student code left a background thread running")
        return found[:limit]


# ------------------------------------------------------------------ answer filtering
def _is_library_expression(node, library_names):
    """True if evaluating ``node`` calls nothing but library functions and safe builtins."""
    for inner in ast.walk(node):
        if isinstance(inner, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        if isinstance(inner, ast.Lambda):
            continue
        if isinstance(inner, ast.Call):
            root = inner.func
            while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):  # a.b().c[0].d()
                root = root.func if isinstance(root, ast.Call) else root.value
            if not isinstance(root, ast.Name):
                return False
            if root.id not in library_names and not (
                root is inner.func and root.id in SAFE_BUILTIN_CALLS
            ):
                return False
    return True


def _assigns_plain_names(targets):
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
                return False
    return True


def filter_answer(source, known_names):
    """Keep the top-level statements of an answer cell that only *define* things.

    The cell is first turned into the Python that IPython runs (grader.grading.magics), so
    ``%%capture``, ``%time`` and ``x = !ls`` are read as the notebook read them. Kept: imports,
    function and class definitions, ``pass``, docstrings, and assignments to plain names (or
    expression statements) whose calls start from a library or from a name that the answers
    themselves defined (``init = tf.random_normal_initializer(stddev=0.02)``,
    ``answer = js_divergence(p, q) < 0.1``). Dropped: loops, ``if``, ``with``, ``try``, calls
    of anything else and assignments to attributes or items (``np.tanh = ...``). Returns
    (source with dropped lines blanked, [(line, text)]).
    """
    source = python_source(source)
    tree = ast.parse(source)
    known = set(known_names) | {"get_ipython"}
    lines = source.split("\n")
    dropped = []
    for node in tree.body:
        if _keep_statement(node, known):
            known.update(_bound_names(node))
            continue
        first, last = node.lineno, getattr(node, "end_lineno", node.lineno)
        dropped.append((first, lines[first - 1].strip()[:80]))
        for number in range(first - 1, last):
            lines[number] = ""
    return "\n".join(lines), dropped


def _bound_names(node):
    """The names a kept top-level statement binds."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {inner.id for target in targets if target is not None
            for inner in ast.walk(target) if isinstance(inner, ast.Name)}


def _keep_statement(node, library_names):
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass)):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Expr):
        if isinstance(node.value, ast.Constant):
            return True
        return isinstance(node.value, ast.Call) and _is_library_expression(node.value, library_names)
    if isinstance(node, ast.Assign):
        return _assigns_plain_names(node.targets) and _is_library_expression(node.value, library_names)
    if isinstance(node, ast.AnnAssign):
        return (node.value is not None and _assigns_plain_names([node.target])
                and _is_library_expression(node.value, library_names))
    return False


# ------------------------------------------------------------------ the child
class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout()


def describe_error(error, grade_id):
    if isinstance(error, TestTimeout):
        return "the test did not finish in time (an endless loop, or very slow code?)"
    if isinstance(error, AssertionError):
        return str(error) or "an assertion failed"
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    for frame in reversed(frames):
        if frame.filename.startswith("<answer"):
            where = f" (in your answer cell '{frame.filename[8:-1]}', line {frame.lineno})"
            break
    return f"{type(error).__name__}: {error}{where}"


def run_cells(request, snapshot, emit):
    """Run setup, answer and test cells as described in the module docstring."""
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    shell = ReplayShell(namespace)
    trusted = {"get_ipython": lambda: shell}
    namespace.update(trusted)
    timeout = int(request["timeout"])
    signal.signal(signal.SIGALRM, _alarm)
    clean = False  # the last check found nothing, and no student code has run since
    for cell in request["cells"]:
        kind, grade_id = cell["kind"], cell["grade_id"]
        if kind == "setup":
            before = dict(namespace)
            exec(compile(python_source(cell["source"]), f"<setup {grade_id}>", "exec"), namespace)
            trusted.update({k: v for k, v in namespace.items() if before.get(k, trusted) is not v})
        elif kind == "answer":
            clean = False
            shell.filename = f"<answer {grade_id}>"
            emit({"answer": grade_id, **run_answer(cell, namespace, timeout)})
        elif kind == "test":
            namespace.update(trusted)
            verdict = run_test(cell, namespace, snapshot, timeout, checked_before=clean)
            clean = not verdict["tampered"]
            emit({"test": grade_id, **verdict})


def run_answer(cell, namespace, timeout):
    if cell.get("missing"):
        return {"error": cell["missing"]}
    try:
        source, dropped = filter_answer(cell["source"], namespace)
    except SyntaxError as error:
        return {"error": f"SyntaxError in your answer cell, line {error.lineno}: {error.msg}"}
    signal.alarm(timeout)
    try:
        exec(compile(source, f"<answer {cell['grade_id']}>", "exec"), namespace)
        error = None
    except BaseException as caught:  # noqa: BLE001  (student code may raise anything)
        error = describe_error(caught, cell["grade_id"])
    finally:
        signal.alarm(0)
    return {"error": error, "dropped": dropped}


def run_test(cell, namespace, snapshot, timeout, checked_before=False):
    """One test's verdict. The snapshot is checked before the test (unless ``checked_before``: the
    previous test's check found it intact and no student code has run since) and after it."""
    tampered = [] if checked_before else snapshot.changes()
    if tampered:
        return {"passed": False, "tampered": tampered}
    signal.alarm(timeout)
    try:
        exec(compile(python_source(cell["source"]), f"<test {cell['grade_id']}>", "exec"), namespace)
        error = None
    except BaseException as caught:  # noqa: BLE001
        error = describe_error(caught, cell["grade_id"])
    finally:
        signal.alarm(0)
    tampered = snapshot.changes()
    return {"passed": error is None and not tampered, "error": error, "tampered": tampered}


def child_main(request, snapshot, result_fd):
    redirect_fds([0, 1, 2])
    os.closerange(3, result_fd)
    os.closerange(result_fd + 1, 4096)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    nonce = request["nonce"]

    def emit(record):
        os.write(result_fd, (nonce + " " + json.dumps(record) + "\n").encode())

    os.chdir(request["workdir"])
    try:
        run_cells(request, snapshot, emit)
        emit({"done": True})
    except BaseException as error:  # noqa: BLE001  (a failing setup cell: the grader's problem)
        emit({"setup_error": f"{type(error).__name__}: {error}"})


# ------------------------------------------------------------------ the client
def request_cells(source_notebook, notebook):
    """The cells of a re-check: ``source_notebook``'s setup and test cells (a SourceNotebook from
    grader.course) around the answer cells of ``notebook`` (an nbformat node), by grade id."""
    from grader import course

    code_cells = course.cells_by_grade_id(notebook.cells, where=course.is_code)
    answers = {grade_id: cell.source for grade_id, cell in code_cells.items()}
    cells = []
    for cell in source_notebook.cells:
        item = {"kind": cell.kind, "grade_id": cell.grade_id, "source": cell.source}
        if cell.kind == "answer":
            item["source"] = answers.get(cell.grade_id, "")
            if cell.grade_id not in answers:
                item["missing"] = (f"the answer cell '{cell.grade_id}' is missing from the notebook "
                                   "(deleted, or its metadata changed); copy it back from a fresh notebook")
        cells.append(item)
    return cells


def recheck_here(cells, workdir, timeout):
    """The re-check on this machine, in a fresh Python process that imports the trusted modules
    before any student code (for ``validate`` in a student's own environment: no sandbox).
    Returns the same {"records", "timed_out", "exit"} as grader.grading.isolation.zygote.recheck."""
    import socket
    import subprocess

    nonce = os.urandom(16).hex()
    ours, theirs = socket.socketpair()
    request = {"nonce": nonce, "cells": cells, "workdir": str(workdir), "timeout": timeout}
    process = subprocess.Popen([sys.executable, "-m", MODULE, str(theirs.fileno())], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=[theirs.fileno()])
    theirs.close()
    try:
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
        tests = sum(cell["kind"] == "test" for cell in cells)
        records, _, timed_out = read_verdicts(ours, nonce, time.monotonic() + timeout * (tests + 2) + 60)
    finally:
        ours.close()
        process.kill()
        code = process.wait()
    return {"records": records, "timed_out": timed_out, "exit": exit_description(code)}


def exit_description(code):
    if code is None:
        return "no exit status"
    if code < 0:
        number = -code
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else number
        return f"killed by signal {name}"
    return f"exit status {code}"


def read_verdicts(connection, nonce, deadline):
    """(records, exit code or None, timed out): the lines that carry the nonce, and the zygote's
    exit line, until the connection closes or the deadline passes."""
    buffer, total, records, code, timed_out = b"", 0, [], None, False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([connection], [], [], min(remaining, 1.0))
        if not ready:
            continue
        chunk = connection.recv(65536)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_PIPE_BYTES:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            prefix, _, payload = line.decode("utf-8", "replace").partition(" ")
            try:
                if prefix == nonce:
                    records.append(json.loads(payload))
                elif isinstance(exit_line := json.loads(line), dict) and "exit" in exit_line:
                    code = int(exit_line["exit"])
            except (ValueError, TypeError):
                pass
    return records, code, timed_out


def main(argv):
    """``python -m grader.grading.isolation.cleanroom RESULT_FD``: one re-check, its request on stdin."""
    request = json.loads(sys.stdin.read())
    from grader.grading.isolation.preload import import_trusted_modules

    import_trusted_modules()
    child_main(request, Snapshot(), int(argv[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
