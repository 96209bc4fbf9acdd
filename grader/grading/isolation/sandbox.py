"""One bubblewrap sandbox per student, and the watchdog that polices it from outside.

Every process that runs a student's code (the nbgrader kernels and the trusted checker's builders) is
forked by the student's *zygote* (grader.grading.isolation.zygote), which runs inside a
sandbox that :class:`StudentSandbox` starts with bubblewrap (``bwrap``), as root and without a
user namespace:

* new network, PID, IPC and UTS namespaces: loopback only, and no other process is visible;
* a read-only view of the system: ``/usr``, ``/etc`` and the other system folders, Python, and
  only the parts of the course that notebooks use (``grader/``, ``data/``, ``notebooks/``...).
  ``solutions/``, ``.git``, ``tests/``, the submissions and the outputs are not there;
* a private home and ``/tmp`` on one tmpfs capped in bytes *and* in inodes (``nr_inodes``),
  mounted by the student's grading process in its own mount namespace and bound in;
* a real unprivileged uid, one per student (``setpriv``), with no capabilities or groups;
* ``--die-with-parent``: when the student's grading process ends, so does the sandbox;
* a cgroup of its own (grader.grading.isolation.cgroups), joined before bwrap starts: the
  kernel caps every page the student's processes hold and how many processes and threads run,
  its task list says which processes are the student's, and kills go through its freezer.

Where bwrap cannot run (not Linux, not root, not installed), :func:`containment_problem` says
why; the zygote then runs as a plain child process and the batch prints a reduced-isolation
warning. Where no cgroup can be made, :attr:`StudentSandbox.cgroup_problem` says why (the
student's reduced-isolation note) and the memory cap falls back to :class:`Watchdog` polling the
processes' RSS. The wall-clock limit is the Watchdog's in every case (RLIMIT_AS would break
TensorFlow, which reserves huge virtual ranges).

Root never follows a path in a folder that the student can write: files there are made
relative to directory descriptors opened with ``O_NOFOLLOW``, and created with ``O_EXCL``
(:func:`open_beneath`).

This module must stay import-light: the zygote imports it before any student code.
"""
import errno
import functools
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from grader.course import PACKAGE_DIR, find_course_root

MAX_FILE_BYTES = 512 * 2**20
MAX_PROCESSES = 1024  # the cgroup's pids cap; threads count too, and TensorFlow starts many
MAX_UID_PROCESSES = MAX_PROCESSES + 256  # RLIMIT_NPROC: the fallback, above the cgroup's cap so that it reports
DISK_BYTES = 512 * 2**20  # the student's home and /tmp together
DISK_FILES = 20_000
INSIDE_HOME = "/home/student"  # the student's writable area, as seen from inside the sandbox
SYSTEM_FOLDERS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What notebooks read from the course checkout; nothing else of it is visible inside.
COURSE_PARTS = ("grader", "data", "notebooks", "assets", "nbgrader_config.py", "pyproject.toml", ".cache/evaluator")
REDUCED = ("no network, PID, IPC or UTS namespaces, no hidden solutions or outputs, no capped home and no "
           "uid of its own for student code")
TOOLS = ("bwrap", "setpriv", "unshare", "mount")


def running_as_root():
    return os.geteuid() == 0


def missing_tools():
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@functools.lru_cache(maxsize=1)
def containment_problem():
    """None when student code can run in a bubblewrap sandbox here, else why it cannot (a
    sentence for the reduced-isolation warning)."""
    if not sys.platform.startswith("linux"):
        return f"{sys.platform} is not Linux, so bubblewrap cannot run"
    if not running_as_root():
        return "the grader is not running as root, which bubblewrap needs to switch to a student uid"
    missing = missing_tools()
    if missing:
        return (f"{', '.join(missing)} not found (Debian: apt-get install bubblewrap util-linux mount; "
                "or run `make demo` as root)")
    probe = [sys.executable, "-c", "import grader.course"]
    command = ["unshare", "--mount", "--propagation", "private", "--",
               *bwrap_arguments(os.getuid() + 1_000_000 + os.getpid() % 1000, None, ()), *probe]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=inside_environment())
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start a sandbox here ({error})"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no error output"])[-1]
        return f"bubblewrap could not start a sandbox here ({last})"
    return None


def isolation_note(problem):
    """The reduced-isolation warning for ``problem`` (None when contained)."""
    return problem and f"{problem}; so there are {REDUCED}"


def cgroup_note(problem):
    """The reduced-isolation note of a sandbox that runs without a cgroup because of ``problem``."""
    return (f"no cgroup could be made for the student ({problem}); so the memory cap is only the "
            "watchdog's poll of the processes' RSS, which memfd, shared memory, tmpfs files and the "
            "threads of exited leaders escape, and there is no process cap but RLIMIT_NPROC")


# ---------------------------------------------------------------- the bwrap command line
def _ancestors(path):
    parts = os.path.abspath(path).strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: index + 1]) for index in range(len(parts))]


class _Binds:
    """bwrap arguments that bind host paths at the same place, creating readable parents."""

    def __init__(self):
        self.arguments, self.made, self.bound = [], set(), []

    def folder(self, path):
        for parent in _ancestors(path) + [path]:
            if parent not in self.made and not any(parent == b or parent.startswith(b + "/") for b in self.bound):
                self.arguments += ["--perms", "0755", "--dir", parent]
                self.made.add(parent)

    def read_only(self, path):
        path = os.path.abspath(path)
        if any(path == b or path.startswith(b + "/") for b in self.bound) or not os.path.exists(path):
            return
        for parent in _ancestors(path):
            self.folder(parent)
        if os.path.islink(path):
            self.arguments += ["--symlink", os.readlink(path), path]
        else:
            self.arguments += ["--ro-bind", path, path]
        self.bound.append(path)


def visible_paths():
    """Host paths bound read-only into every sandbox: the system, Python and the course's parts."""
    paths = [p for p in SYSTEM_FOLDERS if os.path.lexists(p)]
    paths += sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)})
    paths.append(os.path.dirname(os.path.realpath(sys.executable)))
    course = find_course_root()
    if course is not None:
        paths += [str(course / part) for part in COURSE_PARTS]
    if course is None or not PACKAGE_DIR.is_relative_to(course):
        paths.append(str(PACKAGE_DIR))
    paths += [os.environ[name] for name in ("GAN_COURSE_MNIST",) if os.environ.get(name)]
    return paths


def bwrap_arguments(uid, area, hide, empty_folder=None):
    """``bwrap ... setpriv ... --``: what runs a command in a student's sandbox.

    ``area`` (a host folder, the mounted tmpfs) becomes the writable home; ``hide`` lists host
    paths to cover with ``empty_folder`` should they lie inside a visible one.
    """
    binds = _Binds()
    for path in visible_paths():
        binds.read_only(path)
    for path in hide:
        path = os.path.abspath(path)
        if empty_folder and os.path.isdir(path) and any(path.startswith(b + "/") for b in binds.bound):
            binds.arguments += ["--ro-bind", str(empty_folder), path]
    arguments = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                 "--hostname", "grading", "--die-with-parent", "--new-session", "--as-pid-1",
                 *binds.arguments, "--proc", "/proc", "--dev", "/dev", "--perms", "0755", "--dir", "/home"]
    # A mount on /tmp would hide a course or Python that lies under /tmp; there, /tmp stays
    # read-only and TMPDIR (the home's tmp) is the student's only temporary folder.
    own_tmp = not any(path == "/tmp" or path.startswith("/tmp/") for path in binds.bound)
    if area is not None:
        # /dev/shm is a folder of the capped home, emptied between notebooks like the rest of it
        arguments += ["--bind", str(area), INSIDE_HOME, "--chdir", INSIDE_HOME,
                      "--bind", os.path.join(area, "shm"), "/dev/shm"]
        if own_tmp:
            arguments += ["--bind", os.path.join(area, "tmp"), "/tmp"]
    elif own_tmp:
        arguments += ["--tmpfs", "/tmp"]
    return arguments + ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", "--"]


def inside_environment(home=INSIDE_HOME):
    """The whole environment of the zygote (nothing of the grader's own leaks in)."""
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home, "TMPDIR": os.path.join(home, "tmp"), "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        "IPYTHONDIR": os.path.join(home, ".ipython"), "JUPYTER_RUNTIME_DIR": os.path.join(home, "run"),
        "JUPYTER_DATA_DIR": os.path.join(home, ".jupyter-data"), "JUPYTER_CONFIG_DIR": os.path.join(home, ".jupyter"),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    for name, value in os.environ.items():
        if name.startswith(("GAN_COURSE_", "TF_")):
            env[name] = value
    return env


# ---------------------------------------------------------------- one student's sandbox
class StudentSandbox:
    """The sandbox of one student, started by that student's grading process.

    ``root`` is the student's private folder on the host (root only). Inside it:
    ``area/`` is the student's writable area (home, ``tmp``, ``shm`` = /dev/shm, ``work`` = the
    kernels' current folder, ``run`` = the kernels' sockets), a capped tmpfs when contained;
    ``control/`` holds the zygote's socket, which student code cannot reach (it is passed into
    the sandbox as a file descriptor, and its name there reveals no host path).

    With ``memory_bytes``, a contained sandbox runs in a cgroup of its own (see the module's
    docstring); :meth:`close` removes it.
    """

    AREA_FOLDERS = ("tmp", "shm", "work", "run")

    def __init__(self, root, uid, hide=(), contained=True, warm_kernels=True, disk_bytes=DISK_BYTES,
                 disk_files=DISK_FILES, log_path=os.devnull, memory_bytes=None, max_processes=MAX_PROCESSES):
        self.root = os.path.abspath(root)
        self.uid = uid if contained else None
        self.contained = contained
        self.hide = [str(p) for p in hide]
        self.warm_kernels = warm_kernels
        self.disk_bytes, self.disk_files = disk_bytes, disk_files
        self.area = os.path.join(self.root, "area")
        self.socket_path = os.path.join(self.root, "control", "zygote.sock")
        self.log_path = log_path
        self.process = None
        self.zygote_pid = None
        self.mounted = False
        self.memory_bytes, self.max_processes = memory_bytes, max_processes
        self.batch_cgroups = self.cgroup = None
        self.cgroup_problem = None if contained and memory_bytes else "no cgroup was asked for"
        self.counters_at_start = None

    # paths as student code sees them
    def inside(self, host_path):
        host_path = str(host_path)
        if self.contained and (host_path == self.area or host_path.startswith(self.area + "/")):
            return INSIDE_HOME + host_path[len(self.area):]
        return host_path

    @property
    def workdir(self):
        return os.path.join(self.area, "work")

    def start(self):
        """Start (or restart) the sandbox and its zygote; returns once the zygote is ready."""
        self.stop()
        self.make_cgroup()
        os.makedirs(os.path.dirname(self.socket_path), mode=0o700, exist_ok=True)
        os.makedirs(self.area, mode=0o700, exist_ok=True)
        if self.contained:
            options = (f"size={self.disk_bytes},nr_inodes={self.disk_files},mode=0700,uid={self.uid},"
                       f"gid={self.uid},nosuid,nodev")
            subprocess.run(["mount", "-t", "tmpfs", "-o", options, "gan-student", self.area], check=True,
                           capture_output=True)
            self.mounted = True
        self.make_area()
        listener = bind_quietly(self.socket_path)
        home = INSIDE_HOME if self.contained else self.area
        zygote = [sys.executable, "-m", "grader.grading.isolation.zygote", "serve", str(listener.fileno()),
                  "warm" if self.warm_kernels else "cold"]
        prefix = bwrap_arguments(self.uid, self.area, self.hide, self.empty_folder()) if self.contained else []
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                prefix + zygote, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
                pass_fds=[listener.fileno()], env=inside_environment(home),
                cwd=self.workdir, start_new_session=not self.contained,
                preexec_fn=self.cgroup.join if self.cgroup else None)
        finally:
            listener.close()
            log.close()
        ready = self.process.stdout.readline().strip()
        if ready != "ready":
            code = self.process.wait()
            raise RuntimeError(f"the student's sandbox did not start (exit status {code}); see {self.log_path}")
        self.zygote_pid = self.find_zygote()
        self.counters_at_start = self.limit_counters()
        return self

    def checker_cgroup(self, memory_bytes):
        """The trusted checker's cgroup, beside the student's and with caps of its own (None
        without a cgroup): the graphs it runs come from the student's code."""
        if self.batch_cgroups is None:
            return None
        if getattr(self, "_checker_cgroup", None) is None:
            from grader.grading.isolation import cgroups

            try:
                self._checker_cgroup = self.batch_cgroups.student("checker", memory_bytes, MAX_PROCESSES)
            except cgroups.CgroupError:
                return None
        return self._checker_cgroup

    def make_cgroup(self):
        """The student's cgroup, made once; where none can be made, ``cgroup_problem`` says why."""
        if self.cgroup is not None or self.cgroup_problem is not None:
            return
        from grader.grading.isolation import cgroups

        try:
            self.batch_cgroups = cgroups.BatchCgroups.create()
            self.cgroup = self.batch_cgroups.student("student", self.memory_bytes, self.max_processes)
        except cgroups.CgroupError as error:
            self.cgroup_problem = str(error)
            if self.batch_cgroups is not None:
                self.batch_cgroups.remove()
                self.batch_cgroups = None

    def limit_counters(self):
        """How often the cgroup's limits were hit so far (None without a cgroup)."""
        return self.cgroup.counters() if self.cgroup else None

    def limit_reason(self, before, label):
        """Why ``label`` was stopped by the kernel since ``before`` (limit_counters()); or None."""
        return self.cgroup.reason(before, label) if self.cgroup and before else None

    def empty_folder(self):
        path = os.path.join(self.root, "empty")
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o555)
        return path

    def find_zygote(self):
        if not self.contained:
            return self.process.pid
        import psutil

        for process in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if process.uids().real == self.uid:
                    return process.pid
            except psutil.Error:
                continue
        return None

    def make_area(self):
        """The area's folders, owned by the student; whatever the student left in their place
        (a symlink to a host file, say) is removed, never followed."""
        area = os.open(self.area, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for name in self.AREA_FOLDERS:
                folder = _own_folder(area, name)
                try:
                    if self.uid is not None:
                        os.fchown(folder, self.uid, self.uid)
                    os.fchmod(folder, 0o700)
                finally:
                    os.close(folder)
        finally:
            os.close(area)

    def put_file(self, folder, name, data, mode=0o644):
        """Write a new root-owned file ``name`` into ``folder`` of the area (e.g. "work")."""
        with open_beneath(self.area, [folder, name], mode) as handle:
            handle.write(data)

    def alive(self):
        return self.process is not None and self.process.poll() is None and (
            self.zygote_pid is None or _exists(self.zygote_pid))

    def ensure_running(self):
        """Start the sandbox again if student code killed its zygote, or if the kernel's memory
        cap stopped something since it started (the zygote may have been the one stopped)."""
        hit = self.cgroup and self.counters_at_start and (
            self.cgroup.counters()["oom_kill"] > self.counters_at_start["oom_kill"])
        if hit or not self.alive():
            self.start()

    def wipe(self):
        """Empty the writable area (between notebooks: each starts with a clean, empty home). The
        area's own folders are emptied, not removed: /tmp and /dev/shm are bound to them."""
        _empty(self.area, keep=self.AREA_FOLDERS)
        self.make_area()

    def kept(self):
        """bwrap and the zygote: what ending the student's processes leaves running."""
        return {pid for pid in (self.process and self.process.pid, self.zygote_pid) if pid}

    def processes(self):
        """The processes that may run student code (everything of the sandbox but the zygote)."""
        import psutil

        if self.cgroup is not None:  # the authority: the cgroup's own list
            found = []
            for pid in self.cgroup.pids() - self.kept():
                try:
                    found.append(psutil.Process(pid))
                except psutil.Error:
                    pass
            return found
        if self.uid is not None:
            return [p for p in processes_of(self.uid) if p.pid != self.zygote_pid]
        if self.process is None or not _exists(self.process.pid):
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def stop_processes(self):
        """End every process of the student but the zygote (leaders that look like zombies
        while their threads run included)."""
        if self.cgroup is not None:
            self.cgroup.kill(keep=self.kept())
        else:
            kill_all(self.processes)

    def close(self):
        """Stop the sandbox and remove its cgroup."""
        self.stop()
        if self.batch_cgroups is not None:
            self.batch_cgroups.remove()
            self.batch_cgroups = self.cgroup = None

    def stop(self):
        if self.process is not None:
            kill_process_group(self.process.pid) if not self.contained else self.process.kill()
            self.process.wait()
            if self.process.stdout:
                self.process.stdout.close()
            self.process = None
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.uid is not None:
            kill_all(lambda: processes_of(self.uid))
        if self.mounted:
            subprocess.run(["umount", "--lazy", self.area], capture_output=True)
            self.mounted = False


def bind_quietly(path):
    """A listening Unix socket at ``path`` whose name, as the accepted connections report it,
    is ``/proc/self/fd/N/NAME``: a kernel that inherits a connection learns no host path."""
    folder = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            os.unlink(os.path.basename(path), dir_fd=folder)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(f"/proc/self/fd/{folder}/{os.path.basename(path)}")
        os.chmod(os.path.basename(path), 0o600, dir_fd=folder)
    finally:
        os.close(folder)
    listener.listen(16)
    return listener


def _empty(folder, keep=()):
    """Remove what ``folder`` holds, never following a symlink; the folders named in ``keep`` are
    emptied instead of removed."""
    for entry in os.scandir(folder):
        if entry.name in keep and entry.is_dir(follow_symlinks=False):
            _empty(entry.path)
        elif entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _own_folder(parent, name):
    """A descriptor of the real folder ``name`` in the folder ``parent`` (a descriptor): made if
    missing, and made afresh if something else (a symlink, a file) is there."""
    for _ in range(3):
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
        try:
            return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            os.unlink(name, dir_fd=parent)  # a symlink or a file: removed, never followed
    raise OSError(errno.EEXIST, f"{name} keeps being replaced")


def open_beneath(top, names, mode=0o644, uid=None):
    """A new file ``top/names[0]/.../names[-1]``, opened for writing (binary) without following a
    symlink anywhere below ``top``: each folder is opened with O_NOFOLLOW, and the file is created
    with O_EXCL after whatever was there is removed. ``uid``: who owns the file."""
    folder = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for name in names[:-1]:
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
        try:
            os.unlink(names[-1], dir_fd=folder)
        except FileNotFoundError:
            pass
        fd = os.open(names[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                     dir_fd=folder)
    finally:
        os.close(folder)
    try:
        if uid is not None:
            os.fchown(fd, uid, uid)
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


def _exists(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# ---------------------------------------------------------------- inside: the zygote's limits
def apply_limits(max_processes=MAX_UID_PROCESSES):
    for limit, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, MAX_FILE_BYTES),
        (resource.RLIMIT_NPROC, max_processes),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass


def make_private_dir(path, uid=None, mode=0o700):
    """A folder only ``uid`` (or, without uid, only the grader) can read and write."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if uid is not None and running_as_root():
        os.chown(path, uid, uid)
    return path


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
    """SIGKILL every process ``find_processes()`` returns, until none is left but zombies (a fork
    bomb keeps spawning for a moment; a killed TensorFlow process stays a zombie while the kernel
    frees its memory, and runs no code). A leader that looks like a zombie while its other
    threads run is no zombie: it is killed too."""
    for _ in range(40):
        victims = [process for process in find_processes() if not is_finished(process)]
        if not victims:
            return
        for process in victims:
            try:
                process.send_signal(signal.SIGKILL)
            except Exception:
                pass
        time.sleep(0.05)


def is_zombie(process):
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True  # gone


def is_finished(process):
    """True when no thread of ``process`` runs any more (gone, or a zombie whose threads all are)."""
    try:
        threads = os.listdir(f"/proc/{process.pid}/task")
    except OSError:
        return is_zombie(process)
    for tid in threads:
        try:
            with open(f"/proc/{process.pid}/task/{tid}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            return False
    return True


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
    ``find_processes()`` returns (the student's sandbox but its zygote); the reason for a kill
    is kept in ``self.reason`` until the next ``arm``. The grader's own memory is watched too,
    because nbclient keeps a cell's whole output in memory while it runs (an output flood).

    With the ``sandbox`` (a StudentSandbox) in a cgroup, the kernel enforces the memory and
    process caps; the watchdog reports them from the cgroup's counters (also once more when it
    is disarmed: the kernel may have stopped the notebook between two polls) and kills through
    the cgroup. Without one, it sums the processes' RSS.
    """

    def __init__(self, memory_bytes, poll_seconds=0.25, sandbox=None):
        import psutil

        self.sandbox = sandbox
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
            counters = self.sandbox.limit_counters() if self.sandbox is not None else None
            self.target = (find_processes, time.monotonic() + seconds, seconds, label,
                           self.own.memory_info().rss, counters)

    def disarm(self):
        with self.lock:
            target, self.target = self.target, None
            if target is not None and self.reason is None and target[5] is not None:
                self.reason = self.sandbox.limit_reason(target[5], target[3])

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
                if self.sandbox is not None:
                    self.sandbox.stop_processes()
                else:
                    kill_all(target[0])

    def _check(self, find_processes, deadline, seconds, label, own_baseline, counters):
        if time.monotonic() > deadline:
            return f"{label} ran longer than its limit of {seconds:.0f} s and was stopped"
        if counters is not None:
            reason = self.sandbox.limit_reason(counters, label)
            if reason:
                return reason
        used = rss_of(find_processes()) if counters is None else 0
        if used > self.memory_bytes:
            return (f"{label} used {used / 2**30:.1f} GiB of memory, more than the limit of "
                    f"{self.memory_bytes / 2**30:.1f} GiB, and was stopped")
        grown = self.own.memory_info().rss - own_baseline
        if grown > self.memory_bytes:
            return (f"{label} printed so much output that the grader's memory grew by "
                    f"{grown / 2**30:.1f} GiB; it was stopped")
        return None
