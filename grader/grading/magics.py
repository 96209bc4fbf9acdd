"""A cell's IPython syntax (magics, shell escapes) as the Python that IPython itself would run.

IPython's own input transformer (``TransformerManager``) turns ``%%capture``, ``%time``,
``files = !ls`` and the rest into ``get_ipython()`` calls, and leaves Python alone, including
continuation lines that begin with ``%`` or ``!=``. A cell magic whose body is Python
(``%%capture``, ``%%time``...) becomes its body here, so that the re-check runs and reads the
same answer as the notebook did; a cell magic of another language (``%%bash``, ``%%html``)
runs no Python. :class:`ReplayShell` is the ``get_ipython()`` that the re-check gives the
cells for what remains (line magics, ``!cmd``).
"""
import ast
import subprocess

# Cell magics that run their body as Python in the user's namespace.
PYTHON_CELL_MAGICS = {"capture", "time", "timeit", "prun"}
# Line magics that run the rest of their line as Python (once: the timing is not the point).
PYTHON_LINE_MAGICS = {"time", "timeit", "prun"}


def _transform(source):
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # leave it to the compiler to name the syntax error
        return source


def _cell_magic_call(tree):
    """(magic, body) if the cell is one ``get_ipython().run_cell_magic(name, line, body)`` call."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_cell_magic" and len(call.args) == 3):
        return None
    if not all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in call.args):
        return None
    return call.args[0].value, call.args[2].value


def cell_magic(source):
    """(name, body) when the cell is one cell magic (``%%name ...``), else None."""
    try:
        return _cell_magic_call(ast.parse(_transform(source)))
    except SyntaxError:
        return None


def python_source(source):
    """The Python that a cell runs, its line numbers kept: a body of a Python cell magic keeps
    its own lines (after the magic's line), and another language's cell becomes empty."""
    transformed = _transform(source)
    try:
        tree = ast.parse(transformed)
    except SyntaxError:
        return transformed
    magic = _cell_magic_call(tree)
    if magic is None:
        return transformed
    name, body = magic
    if name in PYTHON_CELL_MAGICS:
        return "\n" + python_source(body)
    return ""


class ReplayShell:
    """The ``get_ipython()`` of a re-check: line magics that run Python run it, shell escapes run
    in the (sandboxed) shell, and everything else that only shapes a notebook's display does nothing."""

    def __init__(self, namespace, filename="<answer>"):
        self.user_ns = namespace
        self.filename = filename

    def _run(self, source):
        code = python_source(source).strip()
        if not code:
            return None
        try:
            expression = compile(code, self.filename, "eval")
        except SyntaxError:
            exec(compile(code, self.filename, "exec"), self.user_ns)
            return None
        return eval(expression, self.user_ns)

    def run_line_magic(self, magic_name, line, _stack_depth=1):
        if magic_name in PYTHON_LINE_MAGICS:
            return self._run(line)
        return None

    def run_cell_magic(self, magic_name, line, cell):
        if magic_name in PYTHON_CELL_MAGICS:
            exec(compile(python_source(cell), self.filename, "exec"), self.user_ns)
        return None

    def system(self, command):
        subprocess.run(command, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)

    def getoutput(self, command, split=True, depth=0):
        from IPython.utils.text import SList

        completed = subprocess.run(command, shell=True, stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, errors="replace", check=False)
        output = completed.stdout + completed.stderr
        return SList(output.splitlines()) if split else output
