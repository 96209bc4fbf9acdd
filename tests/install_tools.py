"""Installing the course's package the way `pip install .` does (not editable), from a copy of the checkout.

The build runs in the copy, so it leaves no ``build/`` or ``*.egg-info`` in the checkout; ``--no-deps`` and
``--no-build-isolation`` keep it offline (the package declares no dependencies; setuptools, its build backend,
is pinned in requirements.txt).
"""
import shutil
import subprocess
import sys
from pathlib import Path

import grader

PACKAGE = Path(grader.__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def package_source(folder):
    """What `pip install <checkout>` builds from (pyproject.toml, README.md, grader/), copied into ``folder/source``."""
    source = Path(folder) / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(CHECKOUT / name, source / name)
    shutil.copytree(PACKAGE, source / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    return source


def pip_install(source, *options, python=None):
    """`pip install [options] source`, non-editable, by this environment's pip; ``python`` installs into
    that interpreter's environment instead (pip's ``--python``), which needs no pip of its own."""
    command = [sys.executable, "-m", "pip", *(["--python", str(python)] if python else []), "install", "--quiet",
               "--no-deps", "--no-build-isolation", *options, str(source)]
    subprocess.run(command, check=True, capture_output=True, text=True)
