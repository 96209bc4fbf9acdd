"""One TensorFlow graph held on both sides of the wire: the trusted checker's and the sandbox's.

A check builds its graph in the checker; the student's function adds to it in the sandbox.
Before each call the checker sends the nodes that the sandbox has not seen yet, and after it
the sandbox sends back the nodes, variables and collection entries that the call added
(:class:`GraphMirror`). Both graphs then hold the same nodes under the same names, so a tensor
travels as its name (grader.grading.wire).

A graph is a program, not data (TensorFlow's security policy says so), so what comes back from
the sandbox is checked before it is imported (:func:`validate`): every node, in the graph and in
its function library, must be an operation of :data:`ALLOWED_OPS`, which holds maths, layers,
gradients, variables and optimizers, and nothing that reads or writes files, runs Python, prints,
logs, or reaches the network. The serialised graph has a size cap. Device placements are cleared.

The checker's own state is out of the student's reach (:meth:`GraphMirror.incoming` with
``check=True``): a student's node may change a variable of the checker's only if that variable is
trainable (an optimizer's job), may not share a variable's resource by ``shared_name`` or
``container``, and may not depend on an operation of the checker's that changes state unless the
check handed it over (or put it in ``UPDATE_OPS``). What a call returns must be the student's own
nodes or what the call was given, never a tensor of the checker's that it was not given.
"""
import base64

MAX_GRAPH_BYTES = 16 * 2**20

_MATHS = """
Abs Acos Acosh Add AddN AddV2 All Any ApproximateEqual ArgMax ArgMin Asin Asinh Atan Atan2 Atanh
BatchMatMul BatchMatMulV2 BatchMatMulV3 BiasAdd BiasAddGrad BiasAddV1 BroadcastArgs BroadcastGradientArgs
BroadcastTo Cast Ceil CheckNumerics ClipByValue Complex ComplexAbs Concat ConcatOffset ConcatV2 Conj Const
Cos Cosh Cross Cumprod Cumsum Diag DiagPart Digamma Div DivNoNan Einsum Elu EluGrad Empty EnsureShape
Equal Erf Erfc Exp ExpandDims Expm1 Fill Floor FloorDiv FloorMod Gather GatherNd GatherV2 Greater
GreaterEqual Identity IdentityN Imag Inv InvGrad InvertPermutation IsFinite IsInf IsNan L2Loss LeakyRelu
LeakyReluGrad Less LessEqual Lgamma LinSpace Log Log1p LogSoftmax LogicalAnd LogicalNot LogicalOr
MatMul MatrixBandPart MatrixDiag MatrixDiagPart MatrixDiagV3 MatrixSetDiag Max Maximum Mean Min Minimum
MirrorPad MirrorPadGrad Mod Mul MulNoNan Neg NextAfter NoOp NotEqual OneHot OnesLike Pack Pad PadV2
Pow PreventGradient Prod Range Rank Real RealDiv Reciprocal ReciprocalGrad Relu Relu6 Relu6Grad ReluGrad
Reshape ReverseV2 Rint Round Rsqrt RsqrtGrad ScatterNd Select SelectV2 Selu SeluGrad Shape ShapeN Sigmoid
SigmoidGrad Sign Sin Sinh Size Slice Snapshot Softmax SoftmaxCrossEntropyWithLogits Softplus SoftplusGrad
Softsign SoftsignGrad SparseSoftmaxCrossEntropyWithLogits Split SplitV Sqrt SqrtGrad Square
SquaredDifference Squeeze StopGradient StridedSlice StridedSliceGrad Sub Sum Tan Tanh TanhGrad Tile
TileGrad Transpose TruncateDiv TruncateMod Unique Unpack UnsortedSegmentSum Where Xdivy Xlog1py Xlogy ZerosLike
Zeta DynamicStitch
"""
_LAYERS = """
AvgPool AvgPoolGrad Conv2D Conv2DBackpropFilter Conv2DBackpropInput DepthToSpace DepthwiseConv2dNative
DepthwiseConv2dNativeBackpropFilter DepthwiseConv2dNativeBackpropInput Dilation2D FusedBatchNorm
FusedBatchNormGrad FusedBatchNormGradV2 FusedBatchNormGradV3 FusedBatchNormV2 FusedBatchNormV3 LRN
MaxPool MaxPoolGrad MaxPoolGradGrad MaxPoolGradV2 MaxPoolV2 ResizeBilinear ResizeBilinearGrad
ResizeNearestNeighbor ResizeNearestNeighborGrad SpaceToDepth
"""
_RANDOM = """
Multinomial RandomGamma RandomShuffle RandomStandardNormal RandomUniform RandomUniformInt
StatelessRandomNormal StatelessRandomUniform StatelessTruncatedNormal TruncatedNormal
"""
_STATE_AND_CONTROL = """
ApplyAdadelta ApplyAdagrad ApplyAdam ApplyGradientDescent ApplyMomentum ApplyRMSProp Assign AssignAdd
AssignAddVariableOp AssignSub AssignSubVariableOp AssignVariableOp Enter Exit IsVariableInitialized
LoopCond Merge NextIteration Placeholder PlaceholderWithDefault ReadVariableOp RefEnter RefExit
RefIdentity RefMerge RefNextIteration RefSwitch ResourceApplyAdam ResourceApplyGradientDescent
ResourceApplyMomentum ResourceGather Switch VarHandleOp VarIsInitializedOp Variable VariableShape
VariableV2 ControlTrigger ScatterAdd ScatterSub ScatterUpdate ResourceScatterAdd ResourceScatterSub
ResourceScatterUpdate
"""
ALLOWED_OPS = frozenset(" ".join((_MATHS, _LAYERS, _RANDOM, _STATE_AND_CONTROL)).split())
# Named by the threat model; none is in ALLOWED_OPS, and a test keeps it that way.
FORBIDDEN_EXAMPLES = (
    "PyFunc", "PyFuncStateless", "EagerPyFunc", "ReadFile", "WriteFile", "MatchingFiles", "Save", "SaveV2",
    "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "TextLineReader", "TextLineReaderV2",
    "FixedLengthRecordReaderV2", "TFRecordReaderV2", "WholeFileReaderV2", "TFRecordDataset",
    "TextLineDataset", "FixedLengthRecordDataset", "ImmutableConst", "PrintV2", "Print",
    "SummaryWriter", "WriteScalarSummary", "CreateSummaryFileWriter", "ScalarSummary", "MergeSummary",
    "DebugIdentity", "DebugIdentityV2",
)
# tf.GraphKeys' values, spelled out: the engine imports this module without TensorFlow.
VARIABLE_COLLECTIONS = ("variables", "trainable_variables", "local_variables", "model_variables",
                        "moving_average_variables")
NODE_COLLECTIONS = ("update_ops", "losses", "regularization_losses")
VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
# The allowed operations that change a variable, and those that only pass a variable's reference or
# handle on (to a write or a read); a test keeps these in step with TensorFlow's op definitions.
WRITING_OPS = frozenset(op for op in ALLOWED_OPS if op.startswith(("Apply", "ResourceApply", "Assign"))) | {
    "ScatterAdd", "ScatterSub", "ScatterUpdate", "ResourceScatterAdd", "ResourceScatterSub", "ResourceScatterUpdate"}
FORWARDING_OPS = frozenset("""
Enter Exit Identity IdentityN Merge NextIteration RefEnter RefExit RefIdentity RefMerge RefNextIteration
RefSwitch Switch
""".split())
READING_OPS = frozenset("IsVariableInitialized ReadVariableOp ResourceGather VarIsInitializedOp VariableShape".split())
FEEDABLE_OPS = frozenset({"Placeholder", "PlaceholderWithDefault"})


class GraphRejected(Exception):
    """What came back from the sandbox is not a graph the checker will import or run."""


def _function_names(attr_value):
    if attr_value.HasField("func"):
        yield attr_value.func.name
    if attr_value.HasField("list"):
        yield from (function.name for function in attr_value.list.func)


def validate(graph_def, max_bytes=MAX_GRAPH_BYTES):
    """Raise GraphRejected unless every node (also inside the function library) is allowed."""
    size = graph_def.ByteSize()
    if size > max_bytes:
        raise GraphRejected(f"your graph is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB the "
                            "grader imports (a large constant, e.g. a NumPy array turned into a tensor?)")
    library = {function.signature.name: function for function in graph_def.library.function}

    def check(nodes, where):
        for node in nodes:
            if node.op not in ALLOWED_OPS:
                raise GraphRejected(
                    f"your graph uses the operation {node.op} (node '{node.name}'{where}), which the grader does "
                    "not run: build it from TensorFlow's maths and layer operations only (no tf.py_func, "
                    "file reading or writing, printing or summaries inside the graph)")
            for attr_value in node.attr.values():
                for name in _function_names(attr_value):
                    if name not in library:
                        raise GraphRejected(f"node '{node.name}' names a function '{name}' that the graph lacks")

    check(graph_def.node, "")
    for name, function in library.items():
        check(function.node_def, f" in function '{name}'")
    if graph_def.library.gradient:
        raise GraphRejected("your graph registers custom gradient functions, which the grader does not run")


def _operation_names(graph):
    return {operation.name for operation in graph.get_operations()}


def _operation_of(name):
    """The operation's name in a tensor's name ('dense/MatMul:0') or a control input ('^init')."""
    return str(name).lstrip("^").split(":")[0]


def _changes_state(operation):
    """Whether running ``operation`` (of any type) can change state: a write, or a stateful op."""
    if operation.type in WRITING_OPS:
        return True
    if operation.type in VARIABLE_OPS | READING_OPS | FORWARDING_OPS | FEEDABLE_OPS:
        return False
    from tensorflow.core.framework import types_pb2

    definition = operation.op_def
    return definition.is_stateful or any(argument.is_ref or argument.type == types_pb2.DT_RESOURCE
                                         for argument in definition.input_arg)


def _state_inputs(op_type):
    """The positions of a writing operation's inputs that are a variable's reference or handle."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.python.framework import op_def_registry

    definition = op_def_registry.get(op_type)
    return [index for index, argument in enumerate(definition.input_arg)
            if argument.is_ref or argument.type == types_pb2.DT_RESOURCE]


class GraphMirror:
    """One side's view of a graph shared over the wire: what the other side already holds."""

    def __init__(self, graph):
        self.graph = graph
        self.known_nodes = set()
        self.variables = {}  # name -> Variable object, on this side
        self.known_items = {key: 0 for key in VARIABLE_COLLECTIONS + NODE_COLLECTIONS}
        self.foreign = set()  # the names of the operations that came from the other side
        self.given = set()  # the names of this side's operations handed to the other side as values

    # ------------------------------------------------------------------ by name
    def reference(self, value):
        """The by-name tag of a TensorFlow object of this graph (for grader.grading.wire.encode); the
        object counts as handed to the other side from now on."""
        tagged = self._tag(value)
        if tagged is not None:
            self.given.add(_operation_of(tagged["name"]))
        return tagged

    def _tag(self, value):
        from grader.tf1 import tf

        if isinstance(value, tf.Variable) and value.name in self.variables:
            return {"$": "variable", "name": value.name}
        if isinstance(value, tf.Tensor) and value.graph is self.graph:
            return {"$": "tensor", "name": value.name}
        if isinstance(value, tf.Operation) and value.graph is self.graph:
            return {"$": "op", "name": value.name}
        return None

    def resolve(self, tagged, use=None):
        """The object that a tag names. ``use`` says what the other side wants it for, and limits what
        it may name: "result" (what a call returns: the other side's own nodes or what it was given)
        or "run" (what a callback fetches or feeds: also what :meth:`_check_readable` allows); None:
        anything (the sandbox's side)."""
        kind, name = tagged.get("$"), str(tagged.get("name"))
        try:
            if kind == "variable":
                found = self.variables[name]
            elif kind == "tensor":
                found = self.graph.get_tensor_by_name(name)
            elif kind == "op":
                found = self.graph.get_operation_by_name(name)
            else:
                raise GraphRejected(f"unknown object kind {kind!r}")
        except (KeyError, ValueError) as error:
            raise GraphRejected(f"the other side names a {kind} '{name}' that the graph does not hold") from error
        operation = _operation_of(name)
        if use is None or operation in self.foreign or operation in self.given:
            return found
        if use == "result":
            raise GraphRejected(f"it returned '{name}', which the grader's check built and did not give to your "
                                "function: return what your own code computes from its arguments")
        self._check_readable([(operation, f"the {kind} '{name}' that your code asked the grader to run")])
        return found

    # ------------------------------------------------------------------ what changed
    def outgoing(self):
        """The nodes, variables and collection entries the other side has not seen; marks them seen."""
        graph_def = self.graph.as_graph_def()
        delta = type(graph_def)()
        delta.versions.CopyFrom(graph_def.versions)
        delta.library.CopyFrom(graph_def.library)
        for node in graph_def.node:
            if node.name not in self.known_nodes:
                delta.node.add().CopyFrom(node)
        self.known_nodes.update(node.name for node in delta.node)
        variables, collections = [], {}
        for key in VARIABLE_COLLECTIONS:
            items = self.graph.get_collection(key)
            for variable in items:
                if variable.name not in self.variables:
                    self.variables[variable.name] = variable
                    variables.append(base64.b64encode(variable.to_proto().SerializeToString()).decode())
            collections[key] = [variable.name for variable in items[self.known_items[key]:]]
            self.known_items[key] = len(items)
        for key in NODE_COLLECTIONS:
            items = self.graph.get_collection(key)
            collections[key] = [self._tag(item) for item in items[self.known_items[key]:]]
            self.known_items[key] = len(items)
        return {"graph_def": base64.b64encode(delta.SerializeToString()).decode(),
                "variables": variables, "collections": collections}

    def incoming(self, message, check=True):
        """Add what the other side's :meth:`outgoing` sent; ``check``: validate it first (the checker)."""
        from tensorflow.core.framework import graph_pb2, variable_pb2

        raw = base64.b64decode(message.get("graph_def", ""))
        if len(raw) > MAX_GRAPH_BYTES:
            raise GraphRejected(f"your graph is over the {MAX_GRAPH_BYTES / 2**20:.0f} MiB the grader imports")
        delta = graph_pb2.GraphDef()
        try:
            delta.ParseFromString(raw)
        except Exception as error:
            raise GraphRejected(f"not a graph: {error}") from error
        if check:
            validate(delta)
        definitions = []
        for encoded in message.get("variables", []):
            definition = variable_pb2.VariableDef()
            try:
                definition.ParseFromString(base64.b64decode(encoded))
            except Exception as error:
                raise GraphRejected(f"not a variable: {error}") from error
            if check:
                self._check_variable(definition, delta)
            definitions.append(definition)
        new_variables = {definition.variable_name for definition in definitions}
        collections = self._collections(message.get("collections", {}), delta, new_variables, check)
        if check:
            self._check_state(delta)
        self._import(delta)
        self.known_nodes.update(node.name for node in delta.node)
        self.foreign.update(node.name for node in delta.node)
        with self.graph.as_default():
            for definition in definitions:
                self.variables[definition.variable_name] = self._variable(definition)
        for key, items in collections.items():
            for item in items:
                self.graph.add_to_collection(key, self.variables[item] if key in VARIABLE_COLLECTIONS
                                             else self.resolve(item))
            self.known_items[key] = len(self.graph.get_collection(key))

    def _collections(self, collections, delta, new_variables, check):
        """The collection entries of a message, checked (before anything is imported) when ``check``:
        a variable collection may name only this call's new variables, UPDATE_OPS and the losses only
        the other side's own nodes."""
        if not isinstance(collections, dict):
            raise GraphRejected("the collections must be a mapping")
        inside = {node.name for node in delta.node}
        kept = {}
        for key, items in collections.items():
            if key not in self.known_items:
                continue
            if not isinstance(items, list):
                raise GraphRejected(f"the collection '{key}' must be a list")
            for item in items:
                if key in VARIABLE_COLLECTIONS:
                    if not isinstance(item, str) or (check and item not in new_variables) \
                            or (not check and item not in new_variables and item not in self.variables):
                        raise GraphRejected(f"the collection '{key}' names '{str(item)[:100]}', which is not a "
                                            "variable your code created in this call")
                    continue
                if not isinstance(item, dict) or item.get("$") not in ("tensor", "op"):
                    raise GraphRejected(f"the collection '{key}' holds something that is not a tensor or operation")
                operation = _operation_of(str(item.get("name")))
                if check and operation not in inside and operation not in self.foreign:
                    raise GraphRejected(f"the collection '{key}' names '{str(item.get('name'))[:100]}', which the "
                                        "grader's check built: only your own operations can be added")
            kept[key] = items
        return kept

    def _check_variable(self, definition, delta):
        """A variable that comes back must be new and made of the delta's own nodes: its variable op
        ('v:0'), the op that initialises it, its snapshot and initial value; a resource variable
        exactly when its op is a VarHandleOp."""
        nodes = {node.name: node for node in delta.node}
        name = definition.variable_name
        if name in self.variables:
            raise GraphRejected(f"a variable named '{name}' already exists in the grader's graph")

        def own_tensor(field, what):
            operation, _, index = field.partition(":")
            if index != "0" or operation not in nodes:
                raise GraphRejected(f"the variable '{name}' names '{field}' as its {what}, which is not an output "
                                    "your code created")
            return nodes[operation]

        variable = own_tensor(name, "variable")
        if variable.op not in VARIABLE_OPS:
            raise GraphRejected(f"'{name}' is not a variable (its operation is {variable.op})")
        if definition.is_resource != (variable.op == "VarHandleOp"):
            raise GraphRejected(f"the variable '{name}' says it is {'' if definition.is_resource else 'not '}a "
                                f"resource variable, but its operation is {variable.op}")
        own_tensor(definition.snapshot_name, "snapshot")
        if definition.initial_value_name:
            own_tensor(definition.initial_value_name, "initial value")
        if definition.initializer_name not in nodes:
            raise GraphRejected(f"the variable '{name}' is initialised by '{definition.initializer_name}', which "
                                "your code did not create")

    # ------------------------------------------------------------------ the checker's state
    def _check_state(self, delta):
        """Refuse a delta that could change this side's state other than by training its trainable
        variables, or that reads what it was not handed (:meth:`_check_readable`)."""
        nodes = {node.name: node for node in delta.node}
        uses = []
        for node in delta.node:
            if node.op in VARIABLE_OPS:
                shared = node.attr["shared_name"].s.decode(errors="replace") if "shared_name" in node.attr else ""
                container = node.attr["container"].s.decode(errors="replace") if "container" in node.attr else ""
                if container or shared not in ("", node.name):
                    raise GraphRejected(f"the variable '{node.name}' shares the state of '{shared or container}' "
                                        "(shared_name or container set): create variables with tf.get_variable "
                                        "or tf.layers, without sharing by name")
            for source in node.input:
                operation = _operation_of(source)
                if operation not in nodes and operation not in self.foreign:
                    uses.append((operation, f"your operation '{node.name}'"))
            if node.op in WRITING_OPS:
                for index in _state_inputs(node.op):
                    if index >= len(node.input) or node.input[index].startswith("^"):
                        raise GraphRejected(f"your operation '{node.name}' ({node.op}) lacks its variable input")
                    for origin in self._origins(node.input[index], nodes):
                        if origin not in nodes and origin not in self.foreign \
                                and origin not in self._trainable_variable_ops():
                            raise GraphRejected(
                                f"your operation '{node.name}' ({node.op}) changes the grader's variable "
                                f"'{origin}', which is not a trainable variable: change only your own variables "
                                "and those an optimizer trains")
        self._check_readable(uses)

    def _trainable_variable_ops(self):
        return {variable.op.name for variable in self.graph.get_collection("trainable_variables")}

    def _origins(self, source, nodes):
        """The variable operations whose reference or handle ``source`` carries (through identities,
        switches and loop frames); GraphRejected when it comes from anything else."""
        origins, pending, seen = set(), [source], set()
        while pending:
            name = _operation_of(pending.pop())
            if name in seen:
                continue
            seen.add(name)
            if name in nodes:
                op_type, inputs = nodes[name].op, [item for item in nodes[name].input if not item.startswith("^")]
            else:
                try:
                    operation = self.graph.get_operation_by_name(name)
                except (KeyError, ValueError) as error:
                    raise GraphRejected(f"'{source}' names '{name}', which neither graph holds") from error
                op_type, inputs = operation.type, [tensor.name for tensor in operation.inputs]
            if op_type in VARIABLE_OPS:
                origins.add(name)
            elif op_type in ("Switch", "RefSwitch") or op_type in WRITING_OPS:
                pending.extend(inputs[:1])  # a Switch's data (not its predicate); a write's variable
            elif op_type in FORWARDING_OPS:
                pending.extend(inputs)
            else:
                raise GraphRejected(f"a write to '{source}' does not write a variable (it comes from '{name}', "
                                    f"a {op_type})")
        return origins

    def _check_readable(self, uses):
        """``uses``: [(this side's operation, who uses it)]. The other side may read or run only its own
        nodes, what it was handed and their inputs, UPDATE_OPS, and this side's variables (an
        optimizer finds them in the collections) with their plain reads. Nothing else: not the check's
        expected tensors, not its counters' updates, not a write hidden behind a control input."""
        pending = [(name, user) for name, user in uses if name not in self.foreign]
        if not pending:
            return
        readable = self._readable()
        for name, user in pending:
            if name in readable:
                continue
            try:
                operation = self.graph.get_operation_by_name(name)
            except (KeyError, ValueError) as error:
                raise GraphRejected(f"{user} reads '{name}', which neither graph holds") from error
            if not (operation.type in VARIABLE_OPS or self._plain_read(operation)):
                writes = " (it changes the check's own state)" if _changes_state(operation) else ""
                raise GraphRejected(f"{user} uses the grader's '{name}'{writes}, which the check built and did not "
                                    "give to your function: build from your function's arguments and your own "
                                    "variables")

    @staticmethod
    def _plain_read(operation):
        """An Identity or ReadVariableOp of a variable, with no control input (which could run a write)."""
        return (operation.type in ("Identity", "ReadVariableOp") and not operation.control_inputs
                and len(operation.inputs) == 1 and operation.inputs[0].op.type in VARIABLE_OPS)

    def _readable(self):
        """What was handed over and UPDATE_OPS, with everything they read or run."""
        roots = set(self.given)
        roots.update(_operation_of(getattr(item, "name", "")) for item in self.graph.get_collection("update_ops"))
        readable, pending = set(), [name for name in roots if name]
        while pending:
            name = pending.pop()
            if name in readable:
                continue
            readable.add(name)
            try:
                operation = self.graph.get_operation_by_name(name)
            except (KeyError, ValueError):
                continue
            pending.extend(tensor.op.name for tensor in operation.inputs)
            pending.extend(control.name for control in operation.control_inputs)
        return readable

    def check_feed(self, tensor):
        """A tensor that the other side feeds in a run: a placeholder, or its own, or one it was given
        (feeding one of the check's intermediate tensors would change what the check's ops compute)."""
        name = tensor.op.name
        if tensor.op.type in FEEDABLE_OPS or name in self.foreign or name in self.given:
            return tensor
        raise GraphRejected(f"your code feeds the grader's '{tensor.name}', which is not a placeholder: feed only "
                            "the placeholders you were given")

    def _variable(self, definition):
        from tensorflow.python.ops import resource_variable_ops

        if definition.is_resource:
            return resource_variable_ops.ResourceVariable(variable_def=definition)
        try:
            from tensorflow.python.ops.ref_variable import RefVariable
        except ImportError:  # older TensorFlow
            from tensorflow.python.ops.variables import RefVariable
        return RefVariable(variable_def=definition)

    def _import(self, delta):
        """Import ``delta`` under its own names, wired to the nodes this graph already holds."""
        inside = {node.name for node in delta.node}
        held = _operation_names(self.graph)
        clash = inside & held
        if clash:
            raise GraphRejected(f"the graph already holds nodes named {sorted(clash)[:3]}")
        input_map, controls = {}, []
        for node in delta.node:
            node.device = ""
            kept = []
            for source in node.input:
                operation = source.lstrip("^").split(":")[0]
                if operation in inside:
                    kept.append(source)
                    continue
                if operation not in held:
                    raise GraphRejected(f"node '{node.name}' reads '{source}', which neither graph holds")
                if source.startswith("^"):
                    controls.append((node.name, operation))  # import_graph_def cannot map these with name=""
                    continue
                kept.append(source)
                input_map[source] = self.graph.get_tensor_by_name(source if ":" in source else source + ":0")
            del node.input[:]
            node.input.extend(kept)
            if "_class" in node.attr:  # colocation with nodes outside the delta: irrelevant on one CPU
                local = [group for group in node.attr["_class"].list.s if group.decode()[len("loc:@"):] in inside]
                del node.attr["_class"].list.s[:]
                node.attr["_class"].list.s.extend(local)
                if not local:
                    del node.attr["_class"]
        if not delta.node:
            return
        from grader.tf1 import tf

        with self.graph.as_default():
            tf.import_graph_def(delta, input_map=input_map, name="")
        for name, control in controls:
            self.graph.get_operation_by_name(name)._add_control_input(self.graph.get_operation_by_name(control))
