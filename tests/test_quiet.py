"""grader.quiet: stderr stays empty around student code, and file descriptors come back."""
import os
import sys

import pytest

from grader.quiet import quiet, redirect_fds, redirected_fds


def test_quiet_swallows_python_and_raw_writes_to_stderr(capfd):
    with quiet() as captured:
        print("from python", file=sys.stderr)
        os.write(2, b"from C\n")
    assert captured.getvalue() == "from python\n"
    assert capfd.readouterr().err == ""


def test_redirected_fds_restores_the_descriptors_after_an_error(tmp_path):
    target = os.open(tmp_path / "sink", os.O_WRONLY | os.O_CREAT)
    before = os.fstat(2)
    with pytest.raises(RuntimeError), redirected_fds([2], target):
        os.write(2, b"into the sink")
        raise RuntimeError("the block failed")
    os.close(target)
    assert (tmp_path / "sink").read_bytes() == b"into the sink"
    assert (os.fstat(2).st_ino, os.fstat(2).st_dev) == (before.st_ino, before.st_dev)


def test_redirect_fds_points_at_dev_null_by_default():
    saved = os.dup(2)
    try:
        redirect_fds([2])
        assert os.path.samestat(os.fstat(2), os.stat(os.devnull))
    finally:
        os.dup2(saved, 2)
        os.close(saved)
