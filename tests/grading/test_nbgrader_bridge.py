"""The bridge to nbgrader (grader.grading.nbgrader_bridge): how new gradebooks get their schema revision."""
import os
import sqlite3
import subprocess
import sys

from grader.grading import gradebook, nbgrader_bridge


def test_the_revision_read_in_process_is_the_one_nbgrader_gets_from_alembic():
    """nbgrader's own way: a fresh interpreter, unpatched, running the `alembic heads` command."""
    scripts = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=scripts + os.pathsep + os.environ.get("PATH", ""))
    nbgraders = subprocess.run([sys.executable, "-c", "import nbgrader.api; print(nbgrader.api.get_alembic_version())"],
                               capture_output=True, text=True, env=env, check=True).stdout.strip()
    ours = nbgrader_bridge.newest_gradebook_revision()
    assert ours == nbgraders, f"expected nbgrader's revision {nbgraders!r}, found {ours!r}"


def test_a_new_gradebook_is_stamped_without_the_alembic_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))  # `alembic` cannot be found
    path = tmp_path / "gradebook.db"
    with gradebook.open_gradebook(path) as book:
        book.update_or_create_student("ada")
    with sqlite3.connect(path) as db:
        stamped = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert stamped == [(nbgrader_bridge.newest_gradebook_revision(),)], f"found {stamped}"
