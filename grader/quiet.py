"""Keep stderr empty while library or student code runs.

nbgrader gives a test cell zero points when anything appears on its stderr stream, and
TensorFlow writes deprecation notices and C++ log lines there even for correct code. The
checks therefore run student code inside :func:`quiet`, which swallows Python warnings,
``logging`` records, ``sys.stderr`` writes and raw writes to file descriptor 2.

:func:`redirect_fds` and :func:`redirected_fds` are the one way the course points file
descriptors elsewhere (``quiet`` here; the grader's kernels and builders, which silence
their standard streams).
"""
import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings


def redirect_fds(fds, target=None):
    """Point each file descriptor in ``fds`` at ``target`` (an open descriptor; default
    /dev/null, opened for reading and writing), without restoring them."""
    opened = os.open(os.devnull, os.O_RDWR) if target is None else None
    for fd in fds:
        os.dup2(target if opened is None else opened, fd)
    if opened is not None:
        os.close(opened)


@contextlib.contextmanager
def redirected_fds(fds, target=None):
    """:func:`redirect_fds` for the block only: the descriptors are restored afterwards."""
    saved = {fd: os.dup(fd) for fd in fds}
    try:
        redirect_fds(fds, target)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


@contextlib.contextmanager
def quiet():
    """Run the block with stderr silenced; yields a StringIO with what Python code wrote there."""
    captured = io.StringIO()
    previous_disable = logging.root.manager.disable
    with warnings.catch_warnings(), tempfile.TemporaryFile() as sink:
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        old_stderr = sys.stderr
        with contextlib.ExitStack() as restore:
            try:
                with contextlib.suppress(Exception):
                    old_stderr.flush()
                with contextlib.suppress(OSError):  # no descriptor 2 (a pythonw-like process): nothing to hide
                    restore.enter_context(redirected_fds([2], sink.fileno()))
                sys.stderr = captured
                yield captured
            finally:
                sys.stderr = old_stderr
                logging.disable(previous_disable)
