"""A student who gets only the assignment folder (nbgrader's exchange, JupyterHub) and the package installed
without -e, as the README says: the notebook's first cells run, MNIST included.

The student's environment is a fresh virtual environment outside the checkout, with the package installed into
it by pip (not editable). Its third-party packages (TensorFlow, ipykernel, ...) are this environment's, reached
through a plain path in a .pth file: that keeps the test offline and fast, and does not run this environment's
own .pth files, so the checkout's editable install stays out of sight.
"""
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from grader import course
from install_tools import CHECKOUT, package_source, pip_install

NOTEBOOK = CHECKOUT / course.RELEASE_FOLDER / course.ASSIGNMENT / "01_model_inputs.ipynb"
KERNEL = "student-venv"
PROBE = ("import json, grader, grader.data\n"
         "loads = grader.data.load_raw.cache_info().currsize  # MNIST splits the cells above loaded\n"
         "print(json.dumps({'package': grader.__file__, 'checkout': str(grader.course.find_course_root()),\n"
         "                  'mnist': str(grader.course.mnist_dir()), 'loads': loads,\n"
         "                  'train': list(grader.data.load_mnist('train')[0].shape)}))")


@pytest.fixture(scope="module")
def student_python(tmp_path_factory):
    """The python of a fresh virtual environment, outside the checkout, with the package pip-installed into it."""
    root = tmp_path_factory.mktemp("student-env")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "course-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip_install(package_source(root), python=python)
    return python


def first_cells(notebook):
    """The code cells above the first answer cell, which need nothing of the student's (the setup cell, the cell
    showing real digits), as a student runs them first."""
    cells = []
    for cell in filter(course.is_code, notebook.cells):
        if course.is_solution(cell):
            break
        cells.append(cell)
    assert any("load_mnist" in cell.source for cell in cells), (
        f"{NOTEBOOK.name} no longer loads MNIST above its first answer cell: the test needs a cell that does")
    return cells


def errors(cell):
    return [f"{output.ename}: {output.evalue}" for output in cell.get("outputs", []) if output.output_type == "error"]


@pytest.mark.slow
def test_a_copied_notebook_runs_its_first_cells_with_the_package_installed_without_e(student_python, tmp_path,
                                                                                     monkeypatch):
    for name in ("GAN_COURSE_ROOT", "GAN_COURSE_SOLUTIONS", "GAN_COURSE_MNIST", "GAN_COURSE_CACHE", "PYTHONPATH"):
        monkeypatch.delenv(name, raising=False)
    student = tmp_path / "student" / course.ASSIGNMENT  # what nbgrader fetch leaves: the notebook alone
    student.mkdir(parents=True)
    (student / NOTEBOOK.name).write_bytes(NOTEBOOK.read_bytes())
    mnist, cache = CHECKOUT / "data" / "mnist", tmp_path / "cache"
    # the kernel a JupyterHub image would offer: the environment's python, the data through the environment
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(student_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "student", "language": "python",
        "env": {"GAN_COURSE_MNIST": str(mnist), "GAN_COURSE_CACHE": str(cache)}}))

    notebook = nbformat.read(str(student / NOTEBOOK.name), as_version=4)
    run = nbformat.v4.new_notebook(cells=[*first_cells(notebook), nbformat.v4.new_code_cell(PROBE)])
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
    NotebookClient(run, km=manager, timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(student)}}).execute()

    failed = {cell.source.splitlines()[0]: errors(cell) for cell in run.cells if errors(cell)}
    assert not failed, failed
    probe = json.loads("".join(output.get("text", "") for output in run.cells[-1].outputs).strip().splitlines()[-1])
    venv = student_python.parent.parent
    assert probe["package"].startswith(f"{venv}/"), f"grader came from {probe['package']}, not the student's venv"
    assert probe["checkout"] == "None" and probe["mnist"] == str(mnist)
    assert probe["loads"] >= 1, "no cell loaded MNIST"
    assert probe["train"] == [60000, 784]
