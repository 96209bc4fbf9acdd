"""The package's shape: no import cycles, the notebooks' side apart from the engine, light
engine imports, no reach into another module's privates, and a package that works installed."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import grader
from install_tools import package_source, pip_install

PACKAGE = Path(grader.__file__).resolve().parent
ENGINE = "grader.grading"
ENTRY_POINT = "grader.__main__"  # `python -m grader` runs the engine's command line


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def imported_modules(name, tree):
    """[(imported grader module, alias or None, line)] for every import in the module, top-level or not."""
    found = []
    package = name if name in PACKAGES else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "grader":
                    found.append((alias.name, alias.asname, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            if base.split(".")[0] != "grader":
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in MODULES:  # `from grader.grading import batch`
                    found.append((submodule, alias.asname or alias.name, node.lineno))
                else:  # `from grader.course import COURSE_ID`
                    found.append((base, None, node.lineno))
    return found


def import_graph():
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = {target: line for target, _, line in imported_modules(name, tree) if target != name}
    return graph


def find_cycle(graph):
    """One import cycle as [a, b, ..., a], or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return trail[trail.index(target):] + [target]
            if target not in state:
                cycle = visit(target, trail + [target])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_the_import_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "grader.tf1" in graph["grader.exercises"], "exercises imports tf1 inside load_functions()"
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]


def test_no_import_cycles_counting_imports_inside_functions():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)) + f" -> {cycle[-1]}"


def test_what_notebooks_import_never_imports_the_engine():
    reach = [f"{name} imports {target} (line {line})"
             for name, targets in import_graph().items() if not name.startswith((ENGINE, ENTRY_POINT))
             for target, line in targets.items() if target.startswith(ENGINE)]
    assert not reach, "the student side must not depend on the instructor's engine:\n" + "\n".join(reach)


def private(attribute):
    return attribute.startswith("_") and not attribute.startswith("__")


def private_reach(name, tree):
    """Places where module ``name`` reads, imports or sets another grader module's private names."""
    aliases = {alias for target, alias, _ in imported_modules(name, tree) if target in MODULES and alias}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and private(node.attr)):
            found.append(f"{name} line {node.lineno}: {node.value.id}.{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr")
              and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in aliases):
            found.append(f"{name} line {node.lineno}: {node.func.id}({node.args[0].id}, ...)")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("grader"):
            found.extend(f"{name} line {node.lineno}: from {node.module} import {alias.name}"
                         for alias in node.names
                         if private(alias.name) and f"{node.module}.{alias.name}" not in MODULES)
    return found


def test_private_reach_is_detected():
    tree = ast.parse("from grader.grading import worker\nworker._GRADER.settings = {}\n"
                     "setattr(worker, 'x', 1)\nfrom grader.grading.worker import _GRADER\n")
    assert len(private_reach("grader.grading.batch", tree)) == 3


def test_no_module_touches_another_modules_private_names():
    found = [place for name, path in MODULES.items() for place in private_reach(name, ast.parse(path.read_text()))]
    assert not found, "reaching into another module's private state:\n" + "\n".join(found)


# every engine module (the command line, the batch, the sandbox...) and the light student-side ones
LIGHT_MODULES = ["grader", "grader.course", "grader.quiet",
                 *sorted(name for name in MODULES if name.startswith(ENGINE))]


def test_engine_modules_import_without_tensorflow():
    """One fresh interpreter imports the modules in turn: the first one after which TensorFlow
    is loaded is the one that imports it."""
    code = ("import importlib, json, sys\nloaded = {}\n"
            f"for name in {LIGHT_MODULES!r}:\n"
            "    importlib.import_module(name)\n"
            "    loaded[name] = [m for m in ('tensorflow', 'tf_keras', 'keras') if m in sys.modules]\n"
            "print(json.dumps(loaded))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    heavy = [f"importing {name} imports {modules}" for name, modules in loaded.items() if modules]
    assert list(loaded) == LIGHT_MODULES and not heavy, heavy[:1]


def test_a_grading_process_reads_notebooks_without_building_iri_parsers():
    """Every student's grading process imports nbformat; jsonschema's optional rfc3987_syntax
    would build its parsers there each time (grader/grading/__init__.py keeps it out)."""
    code = ("import sys\nimport grader.grading.worker\nimport nbformat\n"
            "nbformat.validate(nbformat.v4.new_notebook())\n"
            "print(sys.modules.get('rfc3987_syntax', 'absent'), 'lark' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["None", "False"], f"expected neither rfc3987_syntax nor lark: {result.stdout!r}"


# ------------------------------------------------------------------ installed without -e
@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package installed the way `pip install .` does, into a folder outside any checkout."""
    root = tmp_path_factory.mktemp("install")
    target = root / "site"
    pip_install(package_source(root), "--target", str(target))
    return target


def run_installed(installed, code, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GAN_COURSE_")}
    clean.update(PYTHONPATH=str(installed), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean, cwd=installed)


@pytest.mark.slow
def test_the_installed_package_holds_every_module(installed):
    present = {module_name(PACKAGE / path.relative_to(installed / "grader"))
               for path in (installed / "grader").rglob("*.py")}
    assert present == set(MODULES)


@pytest.mark.slow
def test_installed_without_a_checkout_the_missing_data_is_named(installed, tmp_path):
    code = ("from grader import course\nassert course.find_course_root() is None\n"
            "from grader.data import load_raw\nload_raw('test')\n")
    result = run_installed(installed, code, XDG_CACHE_HOME=str(tmp_path))
    assert result.returncode != 0
    assert "CourseFolderNotFound" in result.stderr and "GAN_COURSE_MNIST" in result.stderr, result.stderr[-2000:]


@pytest.mark.slow
def test_installed_without_a_checkout_data_and_cache_come_from_the_environment(installed, tmp_path):
    code = ("from grader import course\nfrom grader.data import load_raw\n"
            "images, labels = load_raw('test')\nprint(len(images), course.cache_dir())\n")
    result = run_installed(installed, code, GAN_COURSE_MNIST=str(PACKAGE.parent / "data" / "mnist"),
                           XDG_CACHE_HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["10000", str(tmp_path / "gan-course")]


@pytest.mark.slow
def test_installed_without_a_checkout_the_command_line_says_what_to_set(installed):
    result = run_installed(installed, "import sys\nfrom grader.grading.cli import main\nsys.exit(main(['generate']))")
    assert result.returncode == 2 and "GAN_COURSE_ROOT" in result.stdout and "Traceback" not in result.stderr, (
        result.stdout + result.stderr)


@pytest.mark.slow
def test_installed_with_gan_course_root_finds_the_course(installed):
    code = ("import grader\nfrom grader import course\nprint(grader.__file__)\nprint(course.solutions_dir())\n"
            "print(len(course.read_assignment()))")
    result = run_installed(installed, code, GAN_COURSE_ROOT=str(PACKAGE.parent))
    assert result.returncode == 0, result.stderr[-2000:]
    package_file, solutions, notebooks = result.stdout.split()
    assert package_file == str(installed / "grader" / "__init__.py"), "the checkout's package was imported instead"
    assert solutions == str(PACKAGE.parent / "solutions") and int(notebooks) >= 6
