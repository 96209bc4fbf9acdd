"""Run student code as an unprivileged user, in a private folder, under limits.

Every process that runs student code (the nbgrader kernel, the clean-room child) calls
:func:`enter` first. When the grader runs as root this

* hides the paths it is told to hide (the reference solutions, the output folder) behind an
  empty tmpfs in a private mount namespace, where the kernel supports it;
* caps file size, core dumps and the number of processes (a fork bomb stays inside one uid);
* drops to a uid/gid of its own for this student, so it can write only its own 0700 folder.

Without root the limits still apply but the uid stays the same; docs/instructors.md says what
that gives up. Memory and wall-clock limits are enforced from outside by :class:`Watchdog`,
which watches the resident memory of all the student's processes (RLIMIT_AS breaks
TensorFlow, which reserves huge virtual ranges) and kills them all at once.

This module must stay import-light: the kernel launcher imports it before ipykernel.
"""
import ctypes
import os
import resource
import signal
import sys
import threading
import time

from grader.course import PACKAGE_DIR, find_course_root

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_BIND, MS_REC, MS_PRIVATE = 0x1, 0x1000, 0x4000, 0x40000
MAX_FILE_BYTES = 512 * 2**20
MAX_PROCESSES = 1024  # threads count too, and TensorFlow starts many


def running_as_root():
    return os.geteuid() == 0


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _encoded(value):
    return None if value is None else os.fsencode(value)


def _mount(source, target, fstype=None, flags=0, data=None):
    return _libc().mount(_encoded(source), _encoded(target), _encoded(fstype), flags, _encoded(data)) == 0


def blocking_ancestor(path):
    """The first folder on the way to ``path`` that other users may not enter (e.g. /root)."""
    current = "/"
    for part in os.path.abspath(path).strip("/").split("/"):
        current = os.path.join(current, part)
        if os.path.isdir(current) and not os.stat(current).st_mode & 0o001:
            return current
    return None


def isolate_filesystem(expose, hide):
    """In a new mount namespace: make ``expose`` reachable and cover ``hide`` (root only).

    A folder on the way to an exposed path that others cannot enter (a Python installed
    under /root) is covered by an empty tmpfs into which only the exposed path is bound
    back. Returns False when the kernel refuses a private mount namespace.
    """
    if _libc().unshare(CLONE_NEWNS) != 0:
        return False
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    for blocked in sorted({b for b in map(blocking_ancestor, expose) if b}):
        keep = [p for p in expose if p.startswith(blocked + "/")]
        handles = {p: os.open(p, os.O_PATH) for p in keep if os.path.exists(p)}
        if not _mount("tmpfs", blocked, "tmpfs", 0, "mode=0755,size=64k"):
            continue
        for path, handle in handles.items():
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
            os.close(handle)
    for path in hide:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=4k,mode=0555")
    return True


def apply_limits(max_processes=MAX_PROCESSES):
    for limit, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, MAX_FILE_BYTES),
        (resource.RLIMIT_NPROC, max_processes),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass


def drop_privileges(uid, gid):
    if not running_as_root() or uid is None:
        return
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def enter(policy):
    """Turn this process into a sandboxed one, as ``policy`` says (see :func:`sandbox_policy`)."""
    os.environ.update(policy["env"])
    if running_as_root():
        isolate_filesystem(policy.get("expose", []), policy.get("hide", []))
    apply_limits()
    drop_privileges(policy.get("uid"), policy.get("gid"))
    os.umask(0o077)


def exposed_paths():
    """What student code must reach: Python, its packages, this package and the course's data."""
    course = find_course_root()
    paths = (sys.base_prefix, sys.prefix, PACKAGE_DIR.parent, *([course] if course else []))
    return sorted({os.path.realpath(path) for path in paths})


def sandbox_policy(uid, home, hide=()):
    """What :func:`enter` needs (a JSON-able dict): the uid to become, its home folder, the
    paths to hide and the ones to keep reachable, and the environment."""
    home = str(home)
    return {
        "uid": uid if running_as_root() else None,
        "gid": uid if running_as_root() else None,
        "hide": [str(p) for p in hide],
        "expose": exposed_paths(),
        "env": {
            "HOME": home,
            "TMPDIR": home,
            "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
            "IPYTHONDIR": os.path.join(home, ".ipython"),
            "JUPYTER_RUNTIME_DIR": os.path.join(home, ".runtime"),
            "JUPYTER_DATA_DIR": os.path.join(home, ".jupyter-data"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        },
    }


def make_private_dir(path, uid=None, mode=0o700):
    """A folder only ``uid`` (or, without uid, only the grader) can read and write."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if uid is not None and running_as_root():
        os.chown(path, uid, uid)
    return path


def probe(policy):
    """None if a process in this sandbox can run Python and import the course, else why not.

    Run once per worker: where the mount namespace is refused and Python lives in a folder
    the student uid cannot enter, the grader must keep its own uid (reduced isolation).
    """
    pid = os.fork()
    if pid == 0:
        try:
            enter(policy)
            needed = [os.path.realpath(sys.executable), str(PACKAGE_DIR / "__init__.py"),
                      os.path.join(sys.base_prefix, "lib")]
            ok = (all(os.access(path, os.R_OK) for path in needed)
                  and os.access(os.path.realpath(sys.executable), os.X_OK))
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    return ("a process running as an unprivileged uid cannot reach this Python installation "
            f"({sys.base_prefix}) and the kernel refused a private mount namespace")


# ---------------------------------------------------------------- watching from outside
def processes_of(uid):
    import psutil

    found = []
    for process in psutil.process_iter(["uids"]):
        uids = process.info.get("uids")
        if uids is not None and uid in (uids.real, uids.effective):
            found.append(process)
    return found


def kill_process_group(pid):
    """SIGKILL the process group led by ``pid``, and ``pid`` itself (it may have left the group)."""
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_all(find_processes):
    """SIGKILL every process ``find_processes()`` returns, until none is left (a fork bomb
    keeps spawning for a moment)."""
    for _ in range(40):
        victims = find_processes()
        if not victims:
            return
        for process in victims:
            try:
                process.send_signal(signal.SIGKILL)
            except Exception:
                pass
        time.sleep(0.05)


def rss_of(processes):
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except Exception:
            pass
    return total


class Watchdog:
    """Kill a student's processes when they exceed a memory or wall-clock budget.

    ``arm(find_processes, seconds, label)`` starts watching the processes that
    ``find_processes()`` returns (all processes of the student's uid, or the grader's child
    processes without root); the reason for a kill is kept in ``self.reason`` until the
    next ``arm``. The grader's own memory is watched too, because nbclient keeps a cell's
    whole output in memory while it runs (an output flood).
    """

    def __init__(self, memory_bytes, poll_seconds=0.25):
        import psutil

        self.memory_bytes = memory_bytes
        self.poll_seconds = poll_seconds
        self.own = psutil.Process()
        self.lock = threading.Lock()
        self.target = None
        self.reason = None
        self.thread = threading.Thread(target=self._run, name="grading-watchdog", daemon=True)
        self.thread.start()

    def arm(self, find_processes, seconds, label):
        with self.lock:
            self.reason = None
            self.target = (find_processes, time.monotonic() + seconds, seconds, label,
                           self.own.memory_info().rss)

    def disarm(self):
        with self.lock:
            self.target = None

    def _run(self):
        while True:
            time.sleep(self.poll_seconds)
            with self.lock:
                target = self.target
            if target is None:
                continue
            try:
                reason = self._check(*target)
            except Exception:  # a process vanished mid-scan: look again next time
                continue
            if reason:
                with self.lock:
                    if self.target is target:
                        self.reason = reason
                        self.target = None
                kill_all(target[0])

    def _check(self, find_processes, deadline, seconds, label, own_baseline):
        if time.monotonic() > deadline:
            return f"{label} ran longer than its limit of {seconds:.0f} s and was stopped"
        used = rss_of(find_processes())
        if used > self.memory_bytes:
            return (f"{label} used {used / 2**30:.1f} GiB of memory, more than the limit of "
                    f"{self.memory_bytes / 2**30:.1f} GiB, and was stopped")
        grown = self.own.memory_info().rss - own_baseline
        if grown > self.memory_bytes:
            return (f"{label} printed so much output that the grader's memory grew by "
                    f"{grown / 2**30:.1f} GiB; it was stopped")
        return None
