"""Keep stderr empty while library or student code runs.

nbgrader gives a test cell zero points when anything appears on its stderr stream, and
TensorFlow writes deprecation notices and C++ log lines there even for correct code. The
checks therefore run student code inside :func:`quiet`, which swallows Python warnings,
``logging`` records, ``sys.stderr`` writes and raw writes to file descriptor 2.
"""
import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings


@contextlib.contextmanager
def quiet():
    """Run the block with stderr silenced; yields a StringIO with what Python code wrote there."""
    captured = io.StringIO()
    previous_disable = logging.root.manager.disable
    with warnings.catch_warnings(), tempfile.TemporaryFile() as sink:
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        old_stderr = sys.stderr
        saved_fd = None
        try:
            with contextlib.suppress(Exception):
                old_stderr.flush()
            with contextlib.suppress(OSError):
                saved_fd = os.dup(2)
                os.dup2(sink.fileno(), 2)
            sys.stderr = captured
            yield captured
        finally:
            sys.stderr = old_stderr
            if saved_fd is not None:
                os.dup2(saved_fd, 2)
                os.close(saved_fd)
            logging.disable(previous_disable)
