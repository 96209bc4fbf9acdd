"""The trusted checker: runs a notebook's test cells in a process where no student code runs.

The test cells' names for the student's functions are bound to :class:`StudentFunction`
stand-ins. Calling one sends the call over the wire (grader.grading.wire) to the builder in the
student's sandbox (grader.grading.isolation.builder), with the nodes of the check's graph that
the builder has not seen; the nodes that the student's code added come back, are checked against
the operation allowlist and imported (grader.grading.graphs), and the check goes on as it does
in a notebook: it runs the graph with its own weights, compares with its own NumPy results and
writes the same message. The student's code can reach this process only through the values it
returns, which arrive as JSON and as allowlisted graph nodes.
"""
import builtins
import inspect
import itertools
import traceback

from grader.grading import wire
from grader.grading.graphs import GraphMirror, GraphRejected

CALL_TIMEOUT = 60
# What the student's code may use of an object that a check hands it (a session, a batch sampler, an
# operation's stand-in): calling it, running with it, entering it, and reading its name.
CALLBACK_METHODS = frozenset({"__call__", "__enter__", "__exit__", "__getattr__", "as_default", "run"})
CALLBACK_ATTRIBUTES = frozenset({"run", "as_default", "name", "type", "shape", "dtype"})
MODULE = "grader.grading.checker"


class SandboxProblem(BaseException):
    """The sandbox's side did not answer as the protocol says (it ended, timed out, or sent junk).

    A BaseException, so that a check's ``except Exception`` (which turns a student's error into a
    message) does not turn the grader's problem into the student's mistake."""


class CallTimedOut(SandboxProblem):
    pass


def _remote_error_class(name, bases):
    base = Exception
    for candidate in bases:
        found = getattr(builtins, candidate, None)
        if isinstance(found, type) and issubclass(found, Exception):  # never SystemExit and its kind
            base = found
            break
    try:
        return type(name, (base,), {"__module__": "student", "__str__": lambda self: self.message})
    except TypeError:  # a builtin that cannot be subclassed
        return type(name, (Exception,), {"__module__": "student", "__str__": lambda self: self.message})


def remote_error(info):
    """An exception like the one the student's code raised in the sandbox, carrying the student's line."""
    cls = _remote_error_class(str(info.get("type", "Exception"))[:100], [str(b) for b in info.get("bases", [])])
    message = str(info.get("message", ""))
    try:
        error = cls(message)
    except TypeError:
        error = _remote_error_class(cls.__name__, ["Exception"])(message)
    error.message = message
    frame = info.get("frame")
    if frame:
        filename, lineno, name, line = frame
        error.student_frame = traceback.FrameSummary(str(filename), int(lineno), str(name), line=str(line))
    return error


class SandboxClient:
    """The checker's end of one builder session."""

    def __init__(self, connection, timeout=CALL_TIMEOUT):
        self.connection = connection
        self.timeout = timeout
        self.graph_ids = itertools.count()
        self.mirrors = {}  # id(graph) -> (graph, graph id on the wire, GraphMirror)
        self.objects = []  # the check's objects handed to the student's code, by handle
        self.current = None

    def start(self, cells):
        """Send the cells; returns the builder's report: {"answers": [...], "names": {...}}."""
        wire.send(self.connection, {"cells": cells, "timeout": self.timeout})
        try:
            return wire.receive(self.connection, timeout=self.timeout * (len(cells) + 2))
        except (TimeoutError, wire.WireError, OSError) as error:
            raise SandboxProblem(f"the answer cells did not finish in the sandbox ({error})") from error

    def mirror(self, graph):
        entry = self.mirrors.get(id(graph))
        if entry is None or entry[0] is not graph:
            entry = (graph, next(self.graph_ids), GraphMirror(graph))
            self.mirrors = {id(graph): entry}  # one graph at a time, as the builder keeps it
        return entry[1], entry[2]

    # ------------------------------------------------------------------ objects that stay here
    def reference(self, value):
        """By name for graph objects; any other object that a check hands to the student's function
        (a session, a sampler) stays here and travels as a handle whose methods the sandbox calls back."""
        tagged = self.current.reference(value)
        if tagged is None and not isinstance(value, (str, bytes, int, float, bool, type(None))):
            tagged = self._handle(value)
        return tagged

    def _handle(self, value):
        known = next((index for index, held in enumerate(self.objects) if held is value), None)
        if known is None:
            self.objects.append(value)
            known = len(self.objects) - 1
        tagged = {"$": "callback", "id": known}
        if callable(getattr(value, "run", None)) and callable(getattr(value, "as_default", None)):
            tagged["session"] = True
        return tagged

    def result_reference(self, value):
        """What a callback may hand back besides plain values and graph objects: an object the
        check already handed out, a method of one, or a context manager (``session.as_default()``).
        Nothing else: a session's graph, say, would let the sandbox add unchecked nodes here."""
        tagged = self.current.reference(value)
        if tagged is not None:
            return tagged
        import contextlib

        owner = getattr(value, "__self__", None)
        # as_default()'s kind: a generator's context manager (a Graph or a Session is a context manager too)
        if any(held is value or held is owner for held in self.objects) or isinstance(
                value, contextlib._GeneratorContextManager):
            return self._handle(value)
        return None

    def resolve(self, tagged, use="run"):
        """The check's object or graph node that the sandbox names; ``use``: see GraphMirror.resolve."""
        if tagged.get("$") == "callback":
            try:
                return self.objects[int(tagged["id"])]
            except (IndexError, ValueError, TypeError) as error:
                raise wire.WireError("no such grader object") from error
        return self.current.resolve(tagged, use=use)

    def resolve_result(self, tagged):
        return self.resolve(tagged, use="result")

    def answer_callback(self, message):
        """Run a method of one of the check's objects for the student's code in the sandbox."""
        self.current.incoming(message.get("sync", {}), check=True)
        method = str(message.get("method"))
        if method not in CALLBACK_METHODS:
            return {"callback_error": f"AttributeError: the grader's object offers no method {method[:100]!r} "
                                      "to your code", "sync": self.current.outgoing()}
        try:
            target = self.resolve({"$": "callback", "id": message.get("id")})
            args = wire.decode(message.get("args"), self.resolve)
            kwargs = wire.decode(message.get("kwargs"), self.resolve)
            if method == "__getattr__":
                attribute = str(args[0])
                if attribute not in CALLBACK_ATTRIBUTES:
                    raise AttributeError(f"the grader's object offers no attribute {attribute[:100]!r} to your code")
                result = getattr(target, attribute)
            else:
                function = target if method == "__call__" else getattr(target, method)
                args, kwargs = self._guard_session_run(function, args, kwargs)
                result = function(*args, **kwargs)
            encoded = wire.encode(result, self.result_reference)
        except (wire.WireError, GraphRejected):
            raise
        except Exception as error:  # noqa: BLE001  (the student's code called it wrongly: tell it so)
            return {"callback_error": f"{type(error).__name__}: {error}"[:2000], "sync": self.current.outgoing()}
        return {"result": encoded, "sync": self.current.outgoing()}

    def _guard_session_run(self, function, args, kwargs):
        """A real session's run(fetches, feed_dict) for the sandbox: fetches named by a string are
        checked like tagged ones (a string would bypass them), feed keys must be feedable, and no
        options or run metadata. Other callables (a check's stand-in session, a sampler) are as they are."""
        from grader.tf1 import tf

        owner = getattr(function, "__self__", None)
        if not (isinstance(owner, tf.Session) and getattr(function, "__name__", "") == "run"):
            return args, kwargs
        names = ("fetches", "feed_dict", "options", "run_metadata")
        if len(args) > len(names) or set(kwargs) - set(names):
            raise GraphRejected("session.run takes fetches and feed_dict only")
        given = {**dict(zip(names[:len(args)], args, strict=True)), **kwargs}
        if given.get("options") is not None or given.get("run_metadata") is not None:
            raise GraphRejected("session.run's options and run_metadata are not available to your code")
        graph = owner.graph

        def element(value):
            if isinstance(value, bytes):
                value = value.decode(errors="replace")
            if isinstance(value, str):
                try:
                    found = graph.as_graph_element(value, allow_tensor=True, allow_operation=True)
                except (KeyError, ValueError, TypeError) as error:
                    raise GraphRejected(f"session.run: '{value[:100]}' names nothing in the graph") from error
                tagged = {"$": "tensor" if isinstance(found, tf.Tensor) else "op", "name": found.name}
                return self.current.resolve(tagged, use="run")
            return value

        def fetches(value):
            if isinstance(value, (list, tuple)):
                return type(value)(fetches(item) for item in value)
            if isinstance(value, dict):
                return {key: fetches(item) for key, item in value.items()}
            return element(value)

        feed = {}
        for key, value in (given.get("feed_dict") or {}).items():
            key = element(key)
            if not isinstance(key, tf.Tensor):
                raise GraphRejected(f"session.run can feed only tensors, not {type(key).__name__}")
            feed[self.current.check_feed(key)] = value
        return (fetches(given.get("fetches")),), {"feed_dict": feed or None}

    @staticmethod
    def write_back(args, kwargs, mutated):
        """Copy what the student's function wrote into its copies into the check's arrays, for the
        arrays that the check watches for changes (grader.checks._common.watching_changes) only."""
        import numpy as np

        from grader.checks._common import watched_arrays

        watched = watched_arrays()
        for kind, key, encoded in mutated:
            original = args[int(key)] if kind == "args" else kwargs.get(str(key))
            if not any(original is array for array in watched):
                continue
            value = wire.decode(encoded)
            if isinstance(original, np.ndarray) and isinstance(value, np.ndarray) and original.flags.writeable \
                    and original.shape == value.shape:
                np.copyto(original, value, casting="unsafe")

    def call(self, name, args, kwargs):
        from grader.checks._common import fail
        from grader.tf1 import tf

        graph = tf.get_default_graph()
        graph_id, mirror = self.mirror(graph)
        self.current = mirror
        try:
            encoded_args = wire.encode(tuple(args), self.reference)
            encoded_kwargs = wire.encode(dict(kwargs), self.reference)
        except TypeError as error:
            raise SandboxProblem(f"the grader cannot pass this argument to {name}(): {error}") from error
        message = {"kind": "call", "graph": graph_id, "seed": graph.seed, "sync": mirror.outgoing(),
                   "function": name, "args": encoded_args, "kwargs": encoded_kwargs, "timeout": self.timeout}
        try:
            wire.send(self.connection, message)
            reply = wire.receive(self.connection, timeout=self.timeout + 30)
            while reply.get("kind") == "callback":
                wire.send(self.connection, self.answer_callback(reply))
                reply = wire.receive(self.connection, timeout=self.timeout + 30)
        except GraphRejected as error:
            fail(f"{name}() built a graph that the grader will not run.", hint=str(error))
        except TimeoutError as error:
            raise CallTimedOut(f"{name}() did not return within {self.timeout} s") from error
        except (wire.WireError, OSError) as error:
            raise SandboxProblem(f"the sandbox stopped answering during {name}() ({error})") from error
        if reply.get("timeout"):
            raise CallTimedOut(f"{name}() did not return within {self.timeout} s (an endless loop?)")
        if "problem" in reply:
            raise SandboxProblem(f"the sandbox could not run {name}(): {reply['problem']}")
        if "error" in reply:
            raise remote_error(reply["error"])
        try:
            mirror.incoming(reply.get("sync", {}), check=True)
            self.write_back(args, kwargs, reply.get("mutated", []))
            result = reply.get("result")
            if isinstance(result, dict) and result.get("$") == "unrepresentable":
                fail(f"{name}() returned {result.get('type')}, which the grader cannot read back.",
                     expected="tensors, operations, variables, numbers, strings, NumPy arrays, or "
                              "lists/tuples/dicts of these", found=result.get("type"))
            return wire.decode(result, self.resolve_result)
        except GraphRejected as error:
            fail(f"{name}() built a graph that the grader will not run.", hint=str(error))
        except (wire.WireError, KeyError, IndexError, ValueError, TypeError, AttributeError) as error:
            raise SandboxProblem(f"the grader could not read back what {name}() built "
                                 f"({type(error).__name__}: {error})") from error


class StudentFunction:
    """Stands for a function that the student's answer cells defined; calling it calls it in the sandbox."""

    def __init__(self, client, name, signature):
        self._client = client
        self.__name__ = self.__qualname__ = name
        if signature is not None:
            self.__signature__ = _signature(signature)

    def __call__(self, *args, **kwargs):
        return self._client.call(self.__name__, args, kwargs)

    def __repr__(self):
        return f"<your function {self.__name__}>"


class _Unrepresentable:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _signature(parameters):
    built = []
    for entry in parameters:
        kind = getattr(inspect.Parameter, str(entry.get("kind")), inspect.Parameter.POSITIONAL_OR_KEYWORD)
        default = inspect.Parameter.empty
        if "default" in entry:
            raw = entry["default"]
            if isinstance(raw, dict) and raw.get("$") == "unrepresentable":
                default = _Unrepresentable(str(raw.get("repr")))
            else:
                default = wire.decode(raw)
        built.append(inspect.Parameter(str(entry["name"]), kind, default=default))
    try:
        return inspect.Signature(built)
    except ValueError:
        return None


def answer_names(client, names):
    """The test cells' bindings for what the answers defined."""
    bound = {}
    for name, entry in names.items():
        if entry.get("kind") == "function":
            bound[name] = StudentFunction(client, name, entry.get("signature"))
        elif entry.get("kind") == "value":
            try:
                bound[name] = wire.decode(entry["value"])
            except wire.WireError:
                continue
    return bound


# ---------------------------------------------------------------------- one notebook's tests
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


def exit_description(code):
    """How a process ended, in words."""
    import signal

    if code is None:
        return "no exit status"
    if code < 0:
        number = -code
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else number
        return f"killed by signal {name}"
    return f"exit status {code}"


def connect_builder(socket_path, workdir, timeout=CALL_TIMEOUT):
    """A connection to a new builder, forked by the student's zygote at ``socket_path``."""
    from grader.grading.isolation.zygote import request

    reply = request(socket_path, {"kind": "builder", "workdir": str(workdir), "timeout": timeout}, timeout=120)
    if reply is None:
        raise SandboxProblem("the student's sandbox is not running (its zygote cannot be reached)")
    return reply[0]


def describe_failure(error):
    if isinstance(error, AssertionError):
        return str(error) or "an assertion failed"
    return f"{type(error).__name__}: {error}"


def failed_in_hidden_part(error, cell):
    """Whether the test cell's statement that raised ``error`` is in its hidden part."""
    from grader.course import hidden_test_lines

    filename = f"<test {cell['grade_id']}>"
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == filename:
            return lineno in hidden_test_lines(cell["source"])
    return False


def run_tests(client, cells, emit):
    """Run ``cells`` (setup, answer and test cells, as :func:`request_cells` lists them): the setup
    and answer cells in the sandbox, the setup and test cells here. Emits one record per answer
    cell and one verdict per test: {"test", "passed", "error", "outcome"}."""
    from grader.grading.magics import python_source

    report = client.start([cell for cell in cells if cell["kind"] in ("setup", "answer")])
    for record in report.get("answers", []):
        emit({"answer": str(record.get("answer")), "error": record.get("error")})
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    for cell in cells:
        if cell["kind"] == "setup":
            exec(compile(python_source(cell["source"]), f"<setup {cell['grade_id']}>", "exec"), namespace)
    trusted = dict(namespace)
    bound = answer_names(client, report.get("names", {}))
    for cell in cells:
        if cell["kind"] != "test":
            continue
        scope = {**bound, **trusted}
        try:
            exec(compile(python_source(cell["source"]), f"<test {cell['grade_id']}>", "exec"), scope)
            verdict = {"passed": True, "error": None, "outcome": "passed"}
        except CallTimedOut as error:
            verdict = {"passed": False, "error": str(error), "outcome": "timeout"}
        except SandboxProblem as error:
            verdict = {"passed": False, "error": str(error), "outcome": "problem"}
        except Exception as error:  # noqa: BLE001  (a check's verdict, or the test's own error)
            from grader.checks._common import failing_check

            verdict = {"passed": False, "error": describe_failure(error), "outcome": "failed",
                       "check": failing_check(error.__traceback__), "mistake": getattr(error, "mistake", None),
                       "hidden": failed_in_hidden_part(error, cell)}
        emit({"test": cell["grade_id"], **verdict})


# ---------------------------------------------------------------------- its own process
CHECKER_UID_OFFSET = 2_000_000_000  # a checker runs as its student's uid plus this: no process of the student's


def checker_uid(student_uid):
    return None if student_uid is None else student_uid + CHECKER_UID_OFFSET


def main(argv):
    """``python -m grader.grading.checker FD TIMEOUT``: the cells as JSON on stdin, the builder's
    connection on FD; one JSON verdict per line on stdout, then ``{"done": true}``."""
    import json
    import os
    import socket
    import sys

    cells = json.loads(sys.stdin.read())
    verdicts = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the checks' libraries print goes to the log, never among the verdicts
    from grader.grading.isolation.preload import import_trusted_modules

    import_trusted_modules()
    client = SandboxClient(socket.socket(fileno=int(argv[0])), timeout=int(argv[1]))

    def emit(record):
        verdicts.write(json.dumps(record) + "\n")

    try:
        run_tests(client, cells, emit)
    except SandboxProblem as error:
        emit({"problem": str(error)})
    emit({"done": True})


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])


def recheck_here(cells, workdir, timeout=CALL_TIMEOUT):
    """The trusted re-check on this machine, for ``validate`` in a student's own environment: the
    answers in a fresh builder process, the tests in this one. Returns the records like grading's."""
    import socket
    import subprocess
    import sys

    ours, theirs = socket.socketpair()
    builder = subprocess.Popen([sys.executable, "-m", "grader.grading.isolation.builder", str(theirs.fileno()),
                                str(timeout)], cwd=str(workdir), pass_fds=[theirs.fileno()],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    records = []
    try:
        run_tests(SandboxClient(ours, timeout=timeout), cells, records.append)
    except SandboxProblem as error:
        records.append({"problem": str(error)})
    finally:
        ours.close()
        builder.kill()
        builder.wait()
    return records
