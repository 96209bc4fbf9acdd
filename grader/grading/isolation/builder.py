"""Inside the student's sandbox: run a notebook's answer cells, then call the student's functions
for the trusted checker (grader.grading.checker), one call per request, until it hangs up.

Nothing here decides anything. The answer cells run as the notebook ran them, magics included
(grader.grading.magics), with no filter: whatever they do stays in this process. The checker
sends each call's arguments (plain values, arrays, names of graph nodes) with the nodes of its
graph that this side has not seen; this side builds the student's part in its copy of that graph
and sends back what the call added (grader.grading.graphs), the return value by name, or the
error with the student's own line. Messages follow grader.grading.wire.
"""
import builtins
import inspect
import signal
import sys

from grader.grading import wire
from grader.grading.magics import ReplayShell, python_source


class CallTimeout(BaseException):
    """The student's function ran past the call's time limit (a BaseException: student code that
    catches Exception does not swallow it)."""


def _alarm(signum, frame):
    raise CallTimeout()


def describe_error(error):
    """The parts of an exception that the checker rebuilds its message from."""
    from grader.checks._common import student_frame

    bases = [cls.__name__ for cls in type(error).__mro__ if getattr(builtins, cls.__name__, None) is cls]
    frame = student_frame(error)
    return {"type": type(error).__name__, "bases": bases, "message": str(error)[:4000],
            "frame": None if frame is None else [frame.filename, frame.lineno, frame.name, (frame.line or "")[:300]]}


def describe_signature(function):
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    parameters = []
    for parameter in signature.parameters.values():
        entry = {"name": parameter.name, "kind": parameter.kind.name}
        if parameter.default is not inspect.Parameter.empty:
            try:
                entry["default"] = wire.encode(parameter.default)
            except TypeError:
                entry["default"] = {"$": "unrepresentable", "repr": repr(parameter.default)[:100]}
        parameters.append(entry)
    return parameters


def describe_names(namespace, before):
    """What the answer cells defined: functions by signature, other values when they can travel."""
    names = {}
    for name, value in namespace.items():
        if name.startswith("__") or before.get(name, before) is value:
            continue
        if callable(value):
            names[name] = {"kind": "function", "signature": describe_signature(value)}
            continue
        try:
            names[name] = {"kind": "value", "value": wire.encode(value)}
        except TypeError:
            names[name] = {"kind": "other", "type": type(value).__name__}
    return names


class Remote:
    """An object of the checker's that a check handed to the student's function (a session, a batch
    sampler...): every method call is a callback over the wire, answered by the checker."""

    def __init__(self, builder, remote_id):
        self._builder, self._id = builder, remote_id

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._builder.callback(self._id, "__getattr__", (name,), {})

    def __call__(self, *args, **kwargs):
        return self._builder.callback(self._id, "__call__", args, kwargs)

    def __enter__(self):
        return self._builder.callback(self._id, "__enter__", (), {})

    def __exit__(self, *exc_info):
        return self._builder.callback(self._id, "__exit__", (None, None, None), {})

    def __hash__(self):
        return hash(("remote", self._id))

    def __eq__(self, other):
        return isinstance(other, Remote) and other._id == self._id

    def __repr__(self):
        return f"<grader object {self._id}>"


class RemoteSession(Remote):
    """A session of the checker's: ``op.run()`` and ``tensor.eval()`` in the student's code find it
    as TensorFlow's default session, and its runs happen in the checker's graph."""

    @property
    def graph(self):
        return self._builder.current.graph

    def as_default(self):
        import contextlib

        from tensorflow.python.framework import stack

        @contextlib.contextmanager
        def both():
            with self._builder.callback(self._id, "as_default", (), {}), stack.default_session(self):
                yield self

        return both()


class CallbackFailed(Exception):
    """A callback raised in the checker; the student's code sees the checker's message."""


class Builder:
    """The answers' namespace and one graph per graph of the checker."""

    def __init__(self, cells, timeout, connection=None):
        self.connection = connection
        self.current = None  # the GraphMirror of the call in progress
        self.timeout = timeout
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        shell = ReplayShell(self.namespace)
        self.namespace["get_ipython"] = lambda: shell
        self.graphs = {}
        self.answers = []
        for cell in cells:
            if cell["kind"] == "setup":
                exec(compile(python_source(cell["source"]), f"<setup {cell['grade_id']}>", "exec"), self.namespace)
        self.before = dict(self.namespace)
        for cell in cells:
            if cell["kind"] == "answer":
                shell.filename = f"<answer {cell['grade_id']}>"
                self.answers.append({"answer": cell["grade_id"], "error": self.run_answer(cell)})

    def run_answer(self, cell):
        if cell.get("missing"):
            return cell["missing"]
        try:
            code = compile(python_source(cell["source"]), f"<answer {cell['grade_id']}>", "exec")
        except SyntaxError as error:
            return f"SyntaxError in your answer cell, line {error.lineno}: {error.msg}"
        signal.alarm(self.timeout)
        try:
            exec(code, self.namespace)
        except BaseException as error:  # noqa: BLE001  (student code may raise anything)
            return f"{type(error).__name__}: {error}"[:2000]
        finally:
            signal.alarm(0)
        return None

    def mirror(self, message):
        from grader.grading.graphs import GraphMirror
        from grader.tf1 import tf

        key = str(message["graph"])
        if key not in self.graphs:
            graph = tf.Graph()
            graph.seed = message.get("seed")
            self.graphs = {key: GraphMirror(graph)}  # the checker works in one graph at a time
        return self.graphs[key]

    def reference(self, value):
        if isinstance(value, Remote):
            return {"$": "callback", "id": value._id}
        return self.current.reference(value)

    def resolve(self, tagged):
        if tagged.get("$") == "callback":
            return (RemoteSession if tagged.get("session") else Remote)(self, int(tagged["id"]))
        return self.current.resolve(tagged)

    def callback(self, remote_id, method, args, kwargs):
        """Ask the checker to run ``method`` of its object ``remote_id``; its answer, or its error."""
        message = {"kind": "callback", "id": remote_id, "method": method,
                   "args": wire.encode(tuple(args), self.reference),
                   "kwargs": wire.encode(dict(kwargs), self.reference), "sync": self.current.outgoing()}
        wire.send(self.connection, message)
        reply = wire.receive(self.connection, timeout=24 * 3600)
        self.current.incoming(reply.get("sync", {}), check=False)
        if "callback_error" in reply:
            raise CallbackFailed(str(reply["callback_error"]))
        return wire.decode(reply.get("result"), self.resolve)

    def call(self, message):
        mirror = self.mirror(message)
        mirror.incoming(message["sync"], check=False)
        self.current = mirror
        function = self.namespace.get(message["function"])
        if not callable(function):
            return {"error": {"type": "NameError", "bases": ["NameError", "Exception", "BaseException"],
                              "message": f"name '{message['function']}' is not defined", "frame": None}}
        with mirror.graph.as_default():
            args = wire.decode(message["args"], self.resolve)
            kwargs = wire.decode(message["kwargs"], self.resolve)
            given = _arrays_given(args, kwargs)
            signal.alarm(max(1, int(message.get("timeout", self.timeout))))
            try:
                result = function(*args, **kwargs)
            except CallTimeout:
                return {"timeout": True}
            except BaseException as error:  # noqa: BLE001
                return {"error": describe_error(error)}
            finally:
                signal.alarm(0)
        sync = mirror.outgoing()  # first: variables made by the call travel by name only once known
        try:
            encoded = wire.encode(result, self.reference)
        except TypeError as error:
            encoded = {"$": "unrepresentable", "type": type(result).__name__, "why": str(error)}
        return {"result": encoded, "sync": sync, "mutated": _arrays_changed(given)}


def _arrays_given(args, kwargs):
    """[(where, the array, a copy)] of the NumPy arrays passed at the top level of a call."""
    import numpy as np

    given = [(["args", index], value) for index, value in enumerate(args)]
    given += [(["kwargs", key], value) for key, value in kwargs.items()]
    return [(where, value, value.copy()) for where, value in given if isinstance(value, np.ndarray)]


def _arrays_changed(given):
    """The arrays that the student's function wrote into, with their new contents (the checker
    writes them back, so a check can see that its inputs were changed, as in a notebook)."""
    import numpy as np

    def same(value, before):
        try:
            return np.array_equal(value, before, equal_nan=True)
        except TypeError:  # equal_nan needs a float dtype
            return np.array_equal(value, before)

    return [[*where, wire.encode(value)] for where, value, before in given if not same(value, before)]


def serve(connection, timeout):
    """The builder's side of a checker session: the request, the answers' report, then calls."""
    signal.signal(signal.SIGALRM, _alarm)
    request = wire.receive(connection, timeout=timeout)
    from grader.quiet import quiet

    with quiet():
        builder = Builder(request["cells"], int(request.get("timeout", timeout)), connection)
    wire.send(connection, {"answers": builder.answers, "names": describe_names(builder.namespace, builder.before)})
    while True:
        try:
            message = wire.receive(connection, timeout=24 * 3600)
        except (wire.WireError, TimeoutError, OSError):
            return
        if message.get("kind") != "call":
            return
        with quiet():
            try:
                reply = builder.call(message)
            except Exception as error:  # noqa: BLE001  (the checker sent something odd: say so, go on)
                reply = {"problem": f"{type(error).__name__}: {error}"[:2000]}
        wire.send(connection, reply)


def main(argv):
    """``python -m grader.grading.isolation.builder FD TIMEOUT``: serve the checker on socket FD."""
    import socket

    from grader.grading.isolation.preload import import_trusted_modules

    import_trusted_modules()
    connection = socket.socket(fileno=int(argv[0]))
    serve(connection, int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
