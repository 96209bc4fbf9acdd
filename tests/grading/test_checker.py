"""The trusted checker's path: the wire (grader.grading.wire), the graph allowlist and mirror
(grader.grading.graphs), the builder in the sandbox (grader.grading.isolation.builder) and the
checker (grader.grading.checker). The catalogues of mistakes and correct alternatives must give
the same verdicts through it as in a notebook."""
import socket

import numpy as np
import pytest

from grader.grading import graphs, wire
from grader.grading.isolation import sandbox
from grader.tf1 import tf
from mistakes import MISTAKES
from notebook_tools import answer_notebooks, failed_tests, reference_source, trusted_failed_tests
from test_mistakes import apply_edits


# ------------------------------------------------------------------ the wire
@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "text", [1, "a"], (1, (2, 3)), {"k": [1.5]}, {3: "int key", (1, 2): "tuple key"},
    np.arange(6, dtype=np.int32).reshape(2, 3), np.float32(1.25), np.array([np.nan, np.inf]), np.bool_(True),
])
def test_values_travel_unchanged(value):
    back = wire.decode(wire.encode(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value, equal_nan=True)
    else:
        assert back == value


def test_objects_that_cannot_travel_are_refused():
    with pytest.raises(TypeError, match="cannot travel"):
        wire.encode(object())
    with pytest.raises(TypeError, match="dtype"):
        wire.encode(np.array([object()]))


@pytest.mark.parametrize("data", [
    {"$": "array", "dtype": "object", "shape": [1], "data": ""},
    {"$": "array", "dtype": "float32", "shape": [4], "data": "AAAA"},  # 3 bytes for 16
    {"$": "pickle", "data": "gASV"},
    [1, 2],
])
def test_malformed_values_are_refused(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_messages_have_a_size_cap_and_a_deadline():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(wire.HEADER.pack(wire.MAX_MESSAGE_BYTES + 1))
        with pytest.raises(wire.WireError, match="limit"):
            wire.receive(ours, timeout=5)
        with pytest.raises(TimeoutError):
            wire.receive(ours, timeout=0.2)
        wire.send(theirs, {"a": [1, 2]})
        assert wire.receive(ours, timeout=5) == {"a": [1, 2]}


# ------------------------------------------------------------------ the allowlist
def graph_def_with(op, library_op=None, function_attr=None):
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    node = graph_def.node.add(name="node", op=op)
    if function_attr:
        node.attr["f"].func.name = function_attr
    if library_op:
        function = graph_def.library.function.add()
        function.signature.name = "inner"
        function.node_def.add(name="inside", op=library_op)
    return graph_def


@pytest.mark.parametrize("op", graphs.FORBIDDEN_EXAMPLES)
def test_forbidden_operations_are_rejected_in_the_graph_and_in_its_function_library(op):
    assert op not in graphs.ALLOWED_OPS
    with pytest.raises(graphs.GraphRejected, match=op):
        graphs.validate(graph_def_with(op))
    with pytest.raises(graphs.GraphRejected, match=f"{op}.*function 'inner'"):
        graphs.validate(graph_def_with("Identity", library_op=op))


def test_a_node_may_name_only_a_function_of_the_graphs_own_library():
    graphs.validate(graph_def_with("Identity", library_op="Tanh"))
    with pytest.raises(graphs.GraphRejected, match="names a function"):
        graphs.validate(graph_def_with("Identity", function_attr="PyFunc"))


def test_a_huge_graph_is_rejected_before_it_is_imported():
    graph_def = graph_def_with("Const")
    graph_def.node[0].attr["value"].tensor.tensor_content = b"\0" * 2048
    with pytest.raises(graphs.GraphRejected, match="MiB"):
        graphs.validate(graph_def, max_bytes=1024)


def test_a_mirror_carries_a_students_layers_variables_and_reuse_across():
    checker_graph, builder_graph = tf.Graph(), tf.Graph()
    checker, builder = graphs.GraphMirror(checker_graph), graphs.GraphMirror(builder_graph)
    with checker_graph.as_default():
        z = tf.placeholder(tf.float32, [None, 3], name="z")
    checker.reference(z)  # handed to the student's function, as a call's argument is

    def student(reuse):
        with builder_graph.as_default(), tf.variable_scope("generator", reuse=reuse):
            hidden = tf.layers.dense(builder_graph.get_tensor_by_name("z:0"), 4)
            with tf.control_dependencies([builder_graph.get_operation_by_name("z")]):
                return tf.tanh(hidden)

    for reuse in (False, True):
        builder.incoming(checker.outgoing(), check=False)
        out = student(reuse)
        checker.incoming(builder.outgoing(), check=True)
    found = checker_graph.get_tensor_by_name(out.name)
    with checker_graph.as_default():
        assert [v.name for v in tf.trainable_variables()] == ["generator/dense/kernel:0", "generator/dense/bias:0"]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(found, {z: np.zeros((2, 3))}).shape == (2, 4)
    assert [op.name for op in found.op.control_inputs] == ["z"]


# ------------------------------------------------------------------ through a builder in a zygote
@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    """An uncontained zygote (the path is the same as in the sandbox; the boundary is tested elsewhere)."""
    box = sandbox.StudentSandbox(str(tmp_path_factory.mktemp("trusted") / "sandbox"), None, contained=False)
    box.start()
    yield box
    box.close()


def trusted(zygote, function, source):
    return trusted_failed_tests(function, source, zygote.socket_path, zygote.workdir)


PY_FUNC_GENERATOR = '''
def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    with tf.variable_scope("generator", reuse=reuse):
        logits = tf.layers.dense(tf.layers.dense(z, n_units), out_dim)
        return tf.py_func(lambda v: __import__("numpy").tanh(v), [logits], tf.float32, stateful=False)
'''
STUB = "def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):\n    raise NotImplementedError()\n"


def test_the_reference_passes_and_a_mistake_gets_the_notebooks_message(zygote):
    assert trusted(zygote, "generator", reference_source("generator")) == {}
    (_, function, edits, words), = [m for m in MISTAKES if m[0] == "generator without tanh"]
    source = apply_edits(reference_source(function), edits)
    assert trusted(zygote, function, source) == failed_tests(function, source)


def test_a_graph_with_a_python_function_in_it_is_never_run(zygote):
    failures = trusted(zygote, "generator", PY_FUNC_GENERATOR)
    assert len(failures) == 6, "every test of notebook 02 fails"
    rejected = [grade_id for grade_id, message in failures.items() if "PyFunc" in message and "will not run" in message]
    assert len(rejected) == 5, failures  # the sixth passes a list n_units, which this generator cannot take


def test_a_stub_is_a_stub_however_the_student_reads_the_grader(zygote):
    failures = trusted(zygote, "generator", STUB)
    assert failures and all("not implemented yet" in message for message in failures.values())


# ------------------------------------------------------------------ the catalogues, through the trusted path
def catalogue():
    from alternatives import ALTERNATIVES

    cases = [pytest.param(function, reference_source(function), None, id=f"reference {function}")
             for function in answer_notebooks()]
    cases += [pytest.param(function, source, None, id=f"alternative: {name}")
              for name, (function, source) in ALTERNATIVES.items()]
    cases += [pytest.param(function, apply_edits(reference_source(function), edits), words, id=name)
              for name, function, edits, words in MISTAKES]
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("function, source, words", catalogue())
def test_the_catalogues_hold_through_the_trusted_path(zygote, function, source, words):
    """A reference or a correct alternative passes every test; a mistake fails one that names it."""
    failures = trusted(zygote, function, source)
    if words is None:
        assert failures == {}
    else:
        assert any(words.lower() in message.lower() for message in failures.values()), failures


def test_the_collections_kept_in_step_are_tensorflows_own():
    keys = tf.GraphKeys
    assert graphs.VARIABLE_COLLECTIONS == (keys.GLOBAL_VARIABLES, keys.TRAINABLE_VARIABLES, keys.LOCAL_VARIABLES,
                                           keys.MODEL_VARIABLES, keys.MOVING_AVERAGE_VARIABLES)
    assert graphs.NODE_COLLECTIONS == (keys.UPDATE_OPS, keys.LOSSES, keys.REGULARIZATION_LOSSES)


GRAPH_THROUGH_THE_SESSION = '''
def training_step(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
    graph = session.graph  # the checker's graph: adding to it would skip the allowlist
    graph.create_op("ReadFile", [tf.constant("/etc/hostname")], [tf.string])
'''


def test_the_checks_objects_hand_back_no_way_into_the_checker(zygote):
    """A session's ``graph`` in the sandbox is the sandbox's own copy, so what is added there comes
    back through the allowlist like everything else."""
    failures = trusted(zygote, "training_step", GRAPH_THROUGH_THE_SESSION)
    assert sorted(failures) == ["test_training_step_feeds", "test_training_step_in_tensorflow",
                                "test_training_step_order"]
    assert all("ReadFile" in message and "will not run" in message for message in failures.values()), failures


def test_a_callback_hands_back_only_values_and_the_checks_own_objects():
    """Asked for anything else (here the session's real graph), the checker refuses."""
    from grader.grading import checker

    client = checker.SandboxClient(connection=None)
    graph = tf.Graph()
    client.current = graphs.GraphMirror(graph)
    with graph.as_default():
        session = tf.Session(graph=graph)
    try:
        handle = client.reference(session)
        assert handle["session"] and client.result_reference(session.run) is not None
        assert client.result_reference(session.as_default()) is not None
        answer = client.answer_callback({"id": handle["id"], "method": "__getattr__",
                                         "args": wire.encode(("graph",)), "kwargs": wire.encode({})})
        assert "offers no attribute 'graph'" in answer["callback_error"], answer
        for method in ("__class__", "close", "make_callable", "partial_run_setup"):
            answer = client.answer_callback({"id": handle["id"], "method": method, "args": wire.encode(()),
                                             "kwargs": wire.encode({})})
            assert "offers no method" in answer["callback_error"], method
        assert client.result_reference(session.graph) is None, "and never the session's graph"
    finally:
        session.close()


def test_every_verdict_names_its_check(zygote):
    from grader import course
    from grader.checks._common import CheckFailed, fail
    from grader.grading import checker
    from notebook_tools import notebook_of

    (_, function, edits, _), = [m for m in MISTAKES if m[0] == "generator without tanh"]
    source = apply_edits(reference_source(function), edits)
    cells = [{"kind": cell.kind, "grade_id": cell.grade_id,
              "source": source if cell.grade_id == function else cell.source}
             for cell in course.read_source_notebook(notebook_of(function)).cells]
    records = []
    connection = checker.connect_builder(zygote.socket_path, zygote.workdir)
    try:
        checker.run_tests(checker.SandboxClient(connection), cells, records.append)
    finally:
        connection.close()
    verdicts = {record["test"]: record for record in records if "test" in record}
    assert verdicts["test_generator_range"]["check"] == "generator_output_range"
    assert verdicts["test_generator_output"]["passed"] and "check" not in verdicts["test_generator_output"]
    with pytest.raises(CheckFailed) as caught:
        fail("Something is off.", mistake="no-tanh-output")
    assert caught.value.mistake == "no-tanh-output"


def test_a_variable_that_comes_back_must_be_new_and_made_of_its_own_nodes():
    """A VariableDef naming the checker's own variable, or a tensor that is no variable, is refused."""
    import base64

    checker_graph, builder_graph = tf.Graph(), tf.Graph()
    checker, builder = graphs.GraphMirror(checker_graph), graphs.GraphMirror(builder_graph)
    with checker_graph.as_default():
        tf.Variable([1.0, 1.0], name="W")
    builder.incoming(checker.outgoing(), check=False)
    checker.outgoing()  # the checker's W is known on both sides
    with builder_graph.as_default():
        fake = tf.constant([7.0, 7.0], name="fake")
    message = builder.outgoing()
    definition = checker.variables["W:0"].to_proto()
    message["variables"] = [base64.b64encode(definition.SerializeToString()).decode()]
    with pytest.raises(graphs.GraphRejected, match="already exists"):
        checker.incoming(message, check=True)
    definition.variable_name = definition.snapshot_name = fake.name
    message["variables"] = [base64.b64encode(definition.SerializeToString()).decode()]
    with pytest.raises(graphs.GraphRejected, match="did not create|not a variable"):
        checker.incoming(message, check=True)
    assert "fake" not in [op.name for op in checker_graph.get_operations()], "nothing of a refused reply is imported"


def test_an_error_from_the_sandbox_is_never_one_that_ends_the_checker():
    from grader.grading.checker import remote_error

    error = remote_error({"type": "SystemExit", "bases": ["SystemExit", "BaseException"], "message": "3"})
    assert isinstance(error, Exception) and str(error) == "3"


# ------------------------------------------------------------------ the checker's own state
def mirrored(build_checker):
    """A checker's graph built by ``build_checker`` (returns what it hands over), copied to a builder's."""
    checker_graph, builder_graph = tf.Graph(), tf.Graph()
    checker, builder = graphs.GraphMirror(checker_graph), graphs.GraphMirror(builder_graph)
    with checker_graph.as_default():
        handed = build_checker()
    for value in handed:
        checker.reference(value)
    builder.incoming(checker.outgoing(), check=False)
    return checker, builder


def counter_and_weight():
    counter = tf.Variable(0.0, name="counter", trainable=False)
    tf.Variable(1.0, name="weight")
    tf.assign_add(counter, 1.0, name="count")
    return []


@pytest.mark.parametrize("write", [
    lambda g: tf.assign(g.get_tensor_by_name("counter:0"), 5.0),
    lambda g: tf.assign_add(g.get_tensor_by_name("counter:0"), 5.0),
    lambda g: tf.raw_ops.Assign(ref=tf.raw_ops.RefIdentity(input=g.get_tensor_by_name("counter:0")), value=5.0),
    lambda g: tf.group(g.get_operation_by_name("count")),
    lambda g: tf.identity(5.0, name="innocent").op._add_control_input(g.get_operation_by_name("count")),
], ids=["assign", "assign_add", "through an identity", "group", "control input"])
def test_no_student_op_changes_the_checkers_own_state(write):
    """The check's counter is out of reach: not written, not run through its own write."""
    checker, builder = mirrored(counter_and_weight)
    with builder.graph.as_default():
        try:
            write(builder.graph)
        except (ValueError, TypeError, AttributeError):
            pytest.skip("TensorFlow refuses this write already")
    with pytest.raises(graphs.GraphRejected, match="grader's (variable|operation)|does not write a variable|uses the "
                                                   "grader's 'count' \\(it changes the check's own state\\)"):
        checker.incoming(builder.outgoing(), check=True)


def test_an_optimizer_may_train_the_checkers_trainable_variables():
    checker, builder = mirrored(counter_and_weight)
    with builder.graph.as_default():
        weight = [v for v in tf.trainable_variables() if v.name == "weight:0"]
        loss = tf.square(builder.graph.get_tensor_by_name("weight:0") - 3.0)
        step = tf.train.AdamOptimizer(0.1).minimize(loss, var_list=weight)
    checker.incoming(builder.outgoing(), check=True)
    with checker.graph.as_default(), tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(checker.graph.get_operation_by_name(step.name))
        assert sess.run(checker.variables["weight:0"]) == pytest.approx(1.1)


def test_a_variable_may_not_share_the_checkers_by_name():
    def resource_counter():
        tf.get_variable("secret", [], initializer=tf.zeros_initializer(), trainable=False, use_resource=True)
        return []

    checker, builder = mirrored(resource_counter)
    with builder.graph.as_default():
        handle = tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="secret", name="mine")
        tf.raw_ops.AssignVariableOp(resource=handle, value=tf.constant(5.0))
    with pytest.raises(graphs.GraphRejected, match="shares the state"):
        checker.incoming(builder.outgoing(), check=True)


def test_a_write_that_was_handed_over_or_is_an_update_op_may_run():
    def handed_counter():
        counter = tf.Variable(0.0, name="counter", trainable=False)
        tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, tf.assign_add(counter, 1.0, name="update"))
        return [tf.assign_add(counter, 2.0, name="given").op]

    checker, builder = mirrored(handed_counter)
    with builder.graph.as_default():
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            step = tf.group(builder.graph.get_operation_by_name("given"), name="step")
    checker.incoming(builder.outgoing(), check=True)
    assert checker.graph.get_operation_by_name(step.name)


def test_a_call_returns_its_own_nodes_or_what_it_was_given_never_the_checks_answer():
    def expected_and_input():
        x = tf.placeholder(tf.float32, [None], name="x")
        tf.tanh(x, name="expected")
        return [x]

    checker, builder = mirrored(expected_and_input)
    with builder.graph.as_default():
        own = tf.identity(builder.graph.get_tensor_by_name("x:0"), name="own")
    checker.incoming(builder.outgoing(), check=True)
    assert checker.resolve(builder.reference(own), use="result").name == "own:0"
    assert checker.resolve({"$": "tensor", "name": "x:0"}, use="result").name == "x:0"
    with pytest.raises(graphs.GraphRejected, match="did not give"):
        checker.resolve({"$": "tensor", "name": "expected:0"}, use="result")
    with pytest.raises(graphs.GraphRejected, match="did not give"):
        checker.resolve({"$": "tensor", "name": "expected:0"}, use="run")  # not run for the student either
    with builder.graph.as_default():
        tf.identity(builder.graph.get_tensor_by_name("expected:0"), name="wrapped")
    with pytest.raises(graphs.GraphRejected, match="uses the grader's 'expected'"):
        checker.incoming(builder.outgoing(), check=True)


def test_a_callback_may_not_run_the_checks_own_write_and_collections_hold_only_the_students_nodes():
    checker, builder = mirrored(counter_and_weight)
    with pytest.raises(graphs.GraphRejected, match="changes the check's own state"):
        checker.resolve({"$": "op", "name": "count"}, use="run")
    assert checker.resolve({"$": "variable", "name": "counter:0"}, use="run"), "reading a variable is no harm"
    with builder.graph.as_default():
        tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, builder.graph.get_operation_by_name("count"))
    with pytest.raises(graphs.GraphRejected, match="only your own operations"):
        checker.incoming(builder.outgoing(), check=True)


COUNTER_WRITER = '''
def training_step(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
    graph = tf.get_default_graph()
    if "d_updates" not in [op.name for op in graph.get_operations()]:  # a recording session: play along
        for _ in range(k):
            session.run(d_train_op, feed_dict={input_real: real_batch(), input_z: z_batch()})
        session.run(g_train_op, feed_dict={input_z: z_batch()})
        return
    counted, seen = graph.get_tensor_by_name("d_updates:0"), graph.get_tensor_by_name("d_updates_seen_by_g:0")
    session.run([tf.assign(counted, float(k)), tf.assign(seen, float(k))])  # the grader's counters, by name
'''


def test_a_training_step_that_writes_the_checks_counters_fails(zygote):
    failures = trusted(zygote, "training_step", COUNTER_WRITER)
    assert sorted(failures) == ["test_training_step_in_tensorflow"], failures
    assert "changes the grader's variable" in failures["test_training_step_in_tensorflow"]


def test_every_allowed_operation_that_takes_a_variable_is_known_as_a_write_a_read_or_a_pass_on():
    from tensorflow.core.framework import types_pb2
    from tensorflow.python.framework import op_def_registry

    known = graphs.WRITING_OPS | graphs.READING_OPS | graphs.FORWARDING_OPS
    for op in sorted(graphs.ALLOWED_OPS):
        definition = op_def_registry.get(op)
        takes_state = [a for a in definition.input_arg if a.is_ref or a.type == types_pb2.DT_RESOURCE]
        if takes_state:
            assert op in known, f"{op} takes a variable: is it a write, a read, or does it pass it on?"
    for op in graphs.WRITING_OPS:
        assert graphs._state_inputs(op), f"{op} writes no variable input?"


def test_only_the_arrays_a_check_watches_for_changes_are_written_back():
    from grader.checks._common import watching_changes
    from grader.grading.checker import SandboxClient

    watched, unwatched = np.zeros(3), np.zeros(3)
    changed = [["args", 0, wire.encode(np.ones(3))], ["args", 1, wire.encode(np.ones(3))]]
    with watching_changes([watched]):
        SandboxClient.write_back((watched, unwatched), {}, changed)
    assert watched.tolist() == [1, 1, 1] and unwatched.tolist() == [0, 0, 0]
    SandboxClient.write_back((watched * 0, unwatched), {}, changed)
    assert unwatched.tolist() == [0, 0, 0]


def test_a_write_inside_a_cond_on_the_checks_placeholder_is_the_students_own():
    """Batch norm over dense features updates its averages in a tf.cond on ``training``: the write's
    variable comes through a Switch whose second input is the predicate, not a variable."""
    def inputs():
        return [tf.placeholder(tf.float32, [None, 4], name="h"),
                tf.placeholder_with_default(False, [], name="training")]

    checker, builder = mirrored(inputs)
    with builder.graph.as_default():
        tf.layers.batch_normalization(builder.graph.get_tensor_by_name("h:0"), fused=False,
                                      training=builder.graph.get_tensor_by_name("training:0"))
    checker.incoming(builder.outgoing(), check=True)
    assert checker.graph.get_collection(tf.GraphKeys.UPDATE_OPS)


# ------------------------------------------------------------------ found by a white-box review of the rules above
def session_client(build):
    """A checker's client holding a real session on a graph that ``build`` makes; its handle."""
    from grader.grading import checker

    client, graph = checker.SandboxClient(connection=None), tf.Graph()
    client.current = graphs.GraphMirror(graph)
    with graph.as_default():
        handed = build()
        session = tf.Session(graph=graph)
        session.run(tf.global_variables_initializer())
    for value in handed:
        client.current.reference(value)
    handle = client.reference(session)
    client.current.outgoing()
    return client, session, handle


def run_callback(client, handle, args, kwargs=None):
    return client.answer_callback({"id": handle["id"], "method": "run", "args": wire.encode(args),
                                   "kwargs": wire.encode(kwargs or {})})


def test_a_fetch_or_feed_by_name_is_checked_like_any_other():
    """Session.run looks a string up itself: a string fetch of the check's counter update, or its
    initializer fed by name, would run a write that was never handed over."""
    def counters():
        counter = tf.Variable(0.0, name="counter", trainable=False)
        tf.assign_add(counter, 1.0, name="count")
        return [tf.placeholder(tf.float32, [], name="given")]

    client, session, handle = session_client(counters)
    try:
        for fetch in ("count", ["count:0"], {"x": "count"}):
            with pytest.raises(graphs.GraphRejected, match="'count'"):
                run_callback(client, handle, (fetch,))
        with pytest.raises(graphs.GraphRejected):
            run_callback(client, handle, ("counter/Assign",), {"feed_dict": {"counter/initial_value:0": 42.0}})
        assert session.run("counter:0") == 0.0
        answer = run_callback(client, handle, ("counter:0",), {"feed_dict": {"given:0": 1.0}})
        assert wire.decode(answer["result"]) == 0.0, "reading a variable, feeding a placeholder given: fine"
    finally:
        session.close()


def test_only_placeholders_or_what_was_given_can_be_fed():
    """Feeding the check's own intermediate tensor would make a handed-over write store any value."""
    def counted():
        counter = tf.Variable(0.0, name="counter", trainable=False)
        real = tf.placeholder(tf.float32, [None], name="real")
        step = tf.add(1.0, 0.0 * tf.reduce_sum(real), name="step")
        return [tf.assign_add(counter, step, name="count").op, real]

    client, session, handle = session_client(counted)
    try:
        with pytest.raises(graphs.GraphRejected, match="feeds the grader's 'step:0'"):
            run_callback(client, handle, ("count",), {"feed_dict": {"step:0": 1000.0}})
        run_callback(client, handle, ("count",), {"feed_dict": {"real:0": np.zeros(2, np.float32)}})
        assert session.run("counter:0") == 1.0
    finally:
        session.close()


def test_a_write_of_any_kind_behind_a_control_input_is_refused():
    """Writes are the check's ops that change state, whatever their type (a scatter, count_up_to)."""
    def unlisted():
        counter = tf.Variable([0.0], name="counter", trainable=False)
        tf.scatter_add(counter, [0], [1.0], name="bump")
        return []

    checker, builder = mirrored(unlisted)
    with builder.graph.as_default():
        tf.identity(1.0, name="innocent").op._add_control_input(builder.graph.get_operation_by_name("bump"))
    with pytest.raises(graphs.GraphRejected, match="uses the grader's 'bump' \\(it changes the check's own state\\)"):
        checker.incoming(builder.outgoing(), check=True)


def test_a_refused_message_leaves_nothing_behind():
    checker, builder = mirrored(counter_and_weight)
    with builder.graph.as_default():
        tf.identity(1.0, name="left_behind")
    message = builder.outgoing()
    message["collections"]["update_ops"] = [{"$": "op", "name": "count"}]
    with pytest.raises(graphs.GraphRejected, match="only your own operations"):
        checker.incoming(message, check=True)
    message["collections"] = {"trainable_variables": ["counter:0"]}
    with pytest.raises(graphs.GraphRejected, match="not a variable your code created"):
        checker.incoming(message, check=True)
    assert "left_behind" not in [op.name for op in checker.graph.get_operations()]
    assert [v.name for v in checker.graph.get_collection("trainable_variables")] == ["weight:0"]


def test_a_variable_definition_must_describe_the_students_own_variable_exactly():
    import base64

    checker, builder = mirrored(lambda: [tf.tanh(tf.placeholder(tf.float32, [], name="x"), name="expected")])
    with builder.graph.as_default():
        mine = tf.Variable(1.0, name="mine")
    message = builder.outgoing()
    original = mine.to_proto()
    for change, words in ((dict(variable_name="mine"), "as its variable"),
                          (dict(initial_value_name="expected:0"), "as its initial value"),
                          (dict(snapshot_name="expected:0"), "as its snapshot"),
                          (dict(is_resource=True), "resource variable"),
                          (dict(initializer_name="expected"), "initialised by")):
        definition = type(original)()
        definition.CopyFrom(original)
        for field, value in change.items():
            setattr(definition, field, value)
        message["variables"] = [base64.b64encode(definition.SerializeToString()).decode()]
        with pytest.raises(graphs.GraphRejected, match=words):
            checker.incoming(message, check=True)
    assert "mine" not in [op.name for op in checker.graph.get_operations()]


@pytest.mark.parametrize("build", [
    lambda h: tf.train.AdamOptimizer(0.1).minimize(tf.reduce_mean(tf.layers.dense(h, 3), axis=1)[0]),
    lambda h: tf.assign(tf.assign_add(tf.Variable(0.0), 1.0), 5.0),
    lambda h: tf.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(
        tf.nn.embedding_lookup(tf.get_variable("table", [10, 3]), tf.constant([1, 2])))),
], ids=["a mean over an axis, minimized", "a write of a write of its own variable", "an embedding, trained"])
def test_ordinary_student_code_passes_the_rules(build):
    checker, builder = mirrored(lambda: [tf.placeholder(tf.float32, [None, 5], name="h")])
    with builder.graph.as_default():
        build(builder.graph.get_tensor_by_name("h:0"))
    checker.incoming(builder.outgoing(), check=True)


def test_a_failure_is_placed_in_the_visible_or_the_hidden_part_of_its_cell():
    from grader.grading.checker import failed_in_hidden_part

    source = ('"""a test"""\nvisible()\n### BEGIN HIDDEN TESTS\ndef reference():\n    raise ValueError("x")\n\n'
              'reference()\n### END HIDDEN TESTS\n')
    cell = {"grade_id": "test_x", "source": source}
    for broken, hidden in (("visible", False), ("reference", True)):
        def visible():
            raise AssertionError("visible part")

        namespace = {"visible": visible if broken == "visible" else (lambda: None)}
        with pytest.raises(Exception) as caught:
            exec(compile(source, "<test test_x>", "exec"), namespace)
        assert failed_in_hidden_part(caught.value, cell) is hidden
