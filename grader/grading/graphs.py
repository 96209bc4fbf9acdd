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
TileGrad Transpose TruncateDiv TruncateMod Unpack UnsortedSegmentSum Where Xdivy Xlog1py Xlogy ZerosLike
Zeta
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
VariableV2 ControlTrigger
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


class GraphMirror:
    """One side's view of a graph shared over the wire: what the other side already holds."""

    def __init__(self, graph):
        self.graph = graph
        self.known_nodes = set()
        self.variables = {}  # name -> Variable object, on this side
        self.known_items = {key: 0 for key in VARIABLE_COLLECTIONS + NODE_COLLECTIONS}

    # ------------------------------------------------------------------ by name
    def reference(self, value):
        """The by-name tag of a TensorFlow object of this graph (for grader.grading.wire.encode)."""
        from grader.tf1 import tf

        if isinstance(value, tf.Variable) and value.name in self.variables:
            return {"$": "variable", "name": value.name}
        if isinstance(value, tf.Tensor) and value.graph is self.graph:
            return {"$": "tensor", "name": value.name}
        if isinstance(value, tf.Operation) and value.graph is self.graph:
            return {"$": "op", "name": value.name}
        return None

    def resolve(self, tagged):
        kind, name = tagged.get("$"), str(tagged.get("name"))
        try:
            if kind == "variable":
                return self.variables[name]
            if kind == "tensor":
                return self.graph.get_tensor_by_name(name)
            if kind == "op":
                return self.graph.get_operation_by_name(name)
        except (KeyError, ValueError) as error:
            raise GraphRejected(f"the other side names a {kind} '{name}' that the graph does not hold") from error
        raise GraphRejected(f"unknown object kind {kind!r}")

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
            collections[key] = [self.reference(item) for item in items[self.known_items[key]:]]
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
            definition.ParseFromString(base64.b64decode(encoded))
            if check:
                self._check_variable(definition, delta)
            definitions.append(definition)
        self._import(delta)
        self.known_nodes.update(node.name for node in delta.node)
        new_variables = {definition.variable_name for definition in definitions}
        with self.graph.as_default():
            for definition in definitions:
                self.variables[definition.variable_name] = self._variable(definition)
        for key, items in message.get("collections", {}).items():
            if key not in self.known_items:
                continue
            for item in items:
                if check and key in VARIABLE_COLLECTIONS and item not in new_variables:
                    raise GraphRejected(f"the collection '{key}' names '{item}', which is not a variable your "
                                        "code created in this call")
                value = self.variables[item] if key in VARIABLE_COLLECTIONS else self.resolve(item)
                self.graph.add_to_collection(key, value)
            self.known_items[key] = len(self.graph.get_collection(key))

    def _check_variable(self, definition, delta):
        """A variable that comes back must be new and made of the delta's own nodes: a variable op,
        its initializer and its snapshot (not a name standing for a tensor the graph already held)."""
        nodes = {node.name: node for node in delta.node}
        name = definition.variable_name
        if name in self.variables:
            raise GraphRejected(f"a variable named '{name}' already exists in the grader's graph")
        for field in (definition.variable_name, definition.initializer_name, definition.snapshot_name):
            if field.split(":")[0] not in nodes:
                raise GraphRejected(f"the variable '{name}' is described by '{field}', which your code did not create")
        if nodes[name.split(":")[0]].op not in VARIABLE_OPS:
            raise GraphRejected(f"'{name}' is not a variable (its operation is {nodes[name.split(':')[0]].op})")

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
