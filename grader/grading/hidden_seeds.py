"""The course secret and the per-student seeds of the hidden checks' inputs.

The secret is 32 random bytes in a root-only file outside the checkout (``--secret-file``,
default :data:`DEFAULT_SECRET_FILE`), made on first use. Only the instructor's batch process
reads it: for each student it derives one seed per graded test, HMAC-SHA256(secret, student id,
grade id), and the job carries those seeds alone (StudentJob.hidden_seeds). The student's
grading process hands them to the kernel and the trusted checker through the environment variable
``GAN_COURSE_HIDDEN_SEEDS``, and the hidden test cells draw their inputs from them
(grader.checks.drawn). So the secret is never in nbgrader_config.py, never in an environment
variable, never in a job file and never in a sandbox; a regrade of the same student draws the
same inputs, and another student's seeds say nothing about this one's.
"""
import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

SEEDS_ENV = "GAN_COURSE_HIDDEN_SEEDS"  # grader.checks.drawn.SEEDS_ENV (importing grader.checks would import TensorFlow)
DEFAULT_SECRET_FILE = "/var/lib/gan-course/hidden-inputs.key"
SECRET_BYTES = 32


class SecretFileError(RuntimeError):
    """The secret file exists but is not safe to use (or cannot be made)."""


def default_secret_file():
    """Root's default, or a file in the home folder of an instructor who grades without root."""
    if os.geteuid() == 0:
        return DEFAULT_SECRET_FILE
    return str(Path.home() / ".config" / "gan-course" / "hidden-inputs.key")


def load_secret(path=None):
    """The course secret in ``path`` (default: :func:`default_secret_file`), made there if absent.

    The file must be a regular file (not a symlink) owned by this user and readable by nobody
    else; its folder is made 0700 when it is missing.
    """
    path = Path(path or default_secret_file())
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return _create_secret(path)
    except OSError as error:
        raise SecretFileError(f"cannot open the hidden-inputs secret {path}: {error} (a symlink?)") from error
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise SecretFileError(f"the hidden-inputs secret {path} is not a regular file")
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        os.close(fd)
        raise SecretFileError(f"the hidden-inputs secret {path} must be owned by uid {os.geteuid()} and "
                              f"readable by it alone (found uid {info.st_uid}, mode {info.st_mode & 0o777:o}): "
                              f"chown {os.geteuid()} {path} && chmod 600 {path}")
    with os.fdopen(fd, "rb") as handle:
        secret = handle.read()
    if len(secret) < SECRET_BYTES:
        raise SecretFileError(f"the hidden-inputs secret {path} holds {len(secret)} bytes, fewer than {SECRET_BYTES}")
    return secret


def _create_secret(path):
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:  # made by a batch that started at the same moment
        return load_secret(path)
    except OSError as error:
        raise SecretFileError(f"cannot create the hidden-inputs secret {path}: {error}; "
                              "pass --secret-file with a path this user can write") from error
    secret = os.urandom(SECRET_BYTES)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


def derive_seed(secret, student_id, grade_id):
    """HMAC-SHA256(secret, student id, grade id) as a 63-bit seed (the two ids JSON-encoded, so no
    pair of ids can run into another)."""
    message = json.dumps([student_id, grade_id]).encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "big") >> 1


def student_seeds(secret, student_id, source_notebooks):
    """{grade_id: seed} for every graded test of the assignment's notebooks."""
    return {test.grade_id: derive_seed(secret, student_id, test.grade_id)
            for notebook in source_notebooks.values() for test in notebook.tests}


def seeds_environment(seeds):
    """The environment entry that hands ``seeds`` to the hidden checks."""
    return {SEEDS_ENV: json.dumps(seeds, sort_keys=True)}
