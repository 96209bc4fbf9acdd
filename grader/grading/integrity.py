"""Flag submitted code that looks like an attempt to fool the grader, for a human to read.

Nothing here changes a score: the trusted checker (grader.grading.checker) decides scores. These
flags point an instructor at code worth reading, e.g. code that patches library modules, walks
the interpreter's frames, or hooks IPython so that test cells do not run in the notebook.
"""
import ast

from grader.grading.magics import PYTHON_CELL_MAGICS, cell_magic, python_source

GUARDED_NAMES = {"np", "numpy", "tf", "tensorflow", "checks", "grader", "builtins", "sys", "os"}
SUSPICIOUS_ATTRIBUTES = {
    "settrace": "installs a trace function",
    "setprofile": "installs a profile function",
    "_getframe": "inspects the interpreter's frames",
    "currentframe": "inspects the interpreter's frames",
    "f_back": "inspects the interpreter's frames",
    "f_locals": "inspects the interpreter's frames",
    "f_globals": "inspects the interpreter's frames",
    "get_objects": "searches all live objects",
    "get_referrers": "searches all live objects",
    "__code__": "rewrites a function's code",
    "input_transformers_cleanup": "rewrites cells before IPython runs them",
    "input_transformers_post": "rewrites cells before IPython runs them",
    "register_magic_function": "defines IPython magics",
    "_exit": "ends the process abruptly",
    "modules": "touches sys.modules",
}
SUSPICIOUS_MODULES = {"ctypes", "gc", "inspect", "threading", "signal", "subprocess", "socket", "builtins"}


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_source(source):
    """Reasons this cell's code deserves a human look (empty if none)."""
    magic = cell_magic(source)
    if magic and magic[0] not in PYTHON_CELL_MAGICS:  # %%script python, %%writefile x.py...: read it anyway
        source = magic[1]
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    reasons = set()
    guarded = GUARDED_NAMES | {(alias.asname or alias.name).split(".")[0]
                               for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                               for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in guarded:
                    reasons.add(f"assigns to {ast.unparse(target)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            if node.args and _root_name(node.args[0]) in guarded:
                reasons.add(f"calls {node.func.id} on {ast.unparse(node.args[0])}")
        elif isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_ATTRIBUTES:
            reasons.add(f"{SUSPICIOUS_ATTRIBUTES[node.attr]} ({ast.unparse(node)})")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in SUSPICIOUS_MODULES:
                    reasons.add(f"imports {name}")
    return sorted(reasons)


def scan_notebook(notebook):
    """[(cell index, reason)] for every code cell of a notebook (an nbformat node)."""
    flags = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            flags.extend((index, reason) for reason in scan_source(cell.source))
    return flags
