"""Memory and process limits per student that the kernel enforces: one cgroup per student.

The memory controller counts every page a student's processes hold: anonymous memory, memfd,
shared memory and tmpfs pages, and the threads of a group leader that has exited. The pids
controller caps processes and threads together. Kills go through the freezer (cgroup v1 has no
``cgroup.kill``), so a fork bomb cannot outrun them, and the cgroup's task list is the authority
on which processes a student has.

Layout: each grading process makes its own subtree, ``gan-grader-<pid>-<random>``, under the
cgroup it runs in itself (read from /proc/self/cgroup), in every hierarchy it uses, and one
child per student below it. It changes no setting of any other cgroup, and leaves
``memory.kmem.*`` alone. Two layouts are handled:

* cgroup v1, where memory, pids and freezer are mounted as v1 hierarchies (a hybrid layout);
* cgroup v2, where the grader's own cgroup delegates memory and pids to its children
  (``cgroup.subtree_control``).

Subtrees whose owning process is gone (a killed batch) are removed when the next one is made.
This module must stay import-light: the sandbox imports it.
"""
import os
import re
import secrets
import signal
import time

PREFIX = "gan-grader-"
NAME = re.compile(r"^gan-grader-(\d+)-[0-9a-f]+$")
V1_CONTROLLERS = ("memory", "pids", "freezer")
V2_CONTROLLERS = ("memory", "pids")


class CgroupError(Exception):
    """No cgroup can be made here; the message says why (for the reduced-isolation warning)."""


def membership(text):
    """/proc/self/cgroup as {controller: path}; the cgroup v2 path is under the key ''."""
    found = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            found[controller.removeprefix("name=")] = path
    return found


def mounts(text):
    """/proc/self/mountinfo's cgroup mounts as {controller: (mount root, mount point)}; the cgroup2
    mount is under the key ''."""
    found = {}
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point = fields[3], fields[4].replace("\\040", " ")
        if tail[0] == "cgroup2":
            found.setdefault("", (root, point))
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in V1_CONTROLLERS:
                    found.setdefault(option, (root, point))
    return found


def _folder(mount, path):
    root, point = mount
    if root != "/" and not (path == root or path.startswith(root + "/")):
        return None  # the grader's cgroup is not below this mount
    relative = path[len(root):] if root != "/" else path
    return os.path.normpath(point + "/" + relative.lstrip("/"))


def _read(path):
    with open(path) as handle:
        return handle.read()


def _write(path, value):
    with open(path, "w") as handle:
        handle.write(str(value))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def own_cgroups(proc="/proc/self"):
    """("v1" or "v2", {hierarchy: the folder of the grader's own cgroup}), or CgroupError."""
    try:
        member = membership(_read(f"{proc}/cgroup"))
        mounted = mounts(_read(f"{proc}/mountinfo"))
    except OSError as error:
        raise CgroupError(f"the cgroups of the grader cannot be read ({error})") from error
    if all(c in mounted and c in member for c in V1_CONTROLLERS):
        folders = {c: _folder(mounted[c], member[c]) for c in V1_CONTROLLERS}
        if all(folders.values()):
            return "v1", folders
    if "" in mounted and "" in member:
        folder = _folder(mounted[""], member[""])
        if folder:
            try:
                delegated = _read(os.path.join(folder, "cgroup.subtree_control")).split()
            except OSError:
                delegated = []
            if all(c in delegated for c in V2_CONTROLLERS):
                return "v2", {"": folder}
    missing = [c for c in V1_CONTROLLERS if c not in mounted]
    raise CgroupError(f"neither v1 memory, pids and freezer hierarchies (missing: {', '.join(missing) or 'none'}) "
                      "nor a cgroup v2 that delegates memory and pids to the grader's cgroup were found")


class StudentCgroup:
    """One student's cgroup: ``folders`` by hierarchy (v1: memory, pids, freezer; v2: one)."""

    def __init__(self, version, folders, memory_bytes, max_pids):
        self.version, self.folders = version, folders
        self.memory_bytes, self.max_pids = memory_bytes, max_pids

    def _file(self, controller, name):
        return os.path.join(self.folders[controller if self.version == "v1" else ""], name)

    def limit(self):
        if self.version == "v1":
            _write(self._file("memory", "memory.limit_in_bytes"), self.memory_bytes)
            self.no_swap = os.path.exists(self._file("memory", "memory.memsw.limit_in_bytes"))
            if self.no_swap:  # memory plus swap = memory: nothing goes to swap
                _write(self._file("memory", "memory.memsw.limit_in_bytes"), self.memory_bytes)
            _write(self._file("pids", "pids.max"), self.max_pids)
        else:
            _write(self._file("memory", "memory.max"), self.memory_bytes)
            self.no_swap = os.path.exists(self._file("memory", "memory.swap.max"))
            if self.no_swap:
                _write(self._file("memory", "memory.swap.max"), 0)
            _write(self._file("pids", "pids.max"), self.max_pids)

    def join(self, pid=0):
        """Move ``pid`` (0: the calling process) into this cgroup, in every hierarchy. Called
        between fork and exec, it makes every page the new program touches count here."""
        for folder in self.folders.values():
            fd = os.open(os.path.join(folder, "cgroup.procs"), os.O_WRONLY)
            try:
                os.write(fd, str(pid or os.getpid()).encode())
            finally:
                os.close(fd)

    def pids(self):
        """Every process in the cgroup (thread-group ids, so leaders that look like zombies while
        their threads run are included)."""
        found = set()
        for folder in self.folders.values():
            try:
                found.update(int(line) for line in _read(os.path.join(folder, "cgroup.procs")).split())
            except OSError:
                pass
        return found

    def tasks(self):
        """Every thread in the cgroup (v1 ``tasks``; v2 ``cgroup.threads``)."""
        name = "tasks" if self.version == "v1" else "cgroup.threads"
        found = set()
        for folder in self.folders.values():
            try:
                found.update(int(line) for line in _read(os.path.join(folder, name)).split())
            except OSError:
                pass
        return found

    def counters(self):
        """{"oom_kill": n, "failcnt": n, "pids_max": n}: how often a limit was hit so far."""
        counts = {"oom_kill": 0, "failcnt": 0, "pids_max": 0}
        try:
            if self.version == "v1":
                control = dict(line.split() for line in _read(self._file("memory", "memory.oom_control")).splitlines())
                counts["oom_kill"] = int(control.get("oom_kill", 0))
                counts["failcnt"] = int(_read(self._file("memory", "memory.failcnt")))
            else:
                events = dict(line.split() for line in _read(self._file("memory", "memory.events")).splitlines())
                counts["oom_kill"] = int(events.get("oom_kill", 0))
                counts["failcnt"] = int(events.get("max", 0))
            pids = dict(line.split() for line in _read(self._file("pids", "pids.events")).splitlines())
            counts["pids_max"] = int(pids.get("max", 0))
        except (OSError, ValueError):
            pass
        return counts

    def usage(self):
        name = "memory.usage_in_bytes" if self.version == "v1" else "memory.current"
        try:
            return int(_read(self._file("memory", name)))
        except (OSError, ValueError):
            return 0

    def reason(self, before, label):
        """Why ``label`` was stopped, from the counters since ``before``; None if no limit was hit."""
        now = self.counters()
        hit = []
        if now["oom_kill"] > before["oom_kill"]:
            hit.append(f"used more than {self.memory_bytes // 2**20} MiB of memory (the limit; every page counts: "
                       "memory of all its processes and threads, memfd, shared memory and files in /tmp or /dev/shm)")
        if now["pids_max"] > before["pids_max"]:
            hit.append(f"tried to run more than {self.max_pids} processes and threads at once (the limit)")
        return f"{label} {' and '.join(hit)}, so it was stopped" if hit else None

    def kill(self, keep=(), settle_seconds=10):
        """SIGKILL every process in the cgroup but those in ``keep``: frozen first, so none can
        fork while the list is read; True once none but ``keep`` is left."""
        keep = set(keep)
        deadline = time.monotonic() + settle_seconds
        while True:
            victims = self.tasks() - self._threads_of(keep)
            if not victims:
                return True
            self.freeze(True)
            try:
                for tid in self.tasks() - self._threads_of(keep):
                    try:
                        os.kill(tid, signal.SIGKILL)  # a thread's id signals its whole process
                    except (ProcessLookupError, PermissionError):
                        pass
            finally:
                self.freeze(False)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    @staticmethod
    def _threads_of(pids):
        threads = set()
        for pid in pids:
            try:
                threads.update(int(tid) for tid in os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass
        return threads

    def freeze(self, frozen, wait_seconds=5):
        if self.version == "v1":
            path = self._file("freezer", "freezer.state")
            _write(path, "FROZEN" if frozen else "THAWED")
            deadline = time.monotonic() + wait_seconds
            while frozen and _read(path).strip() != "FROZEN" and time.monotonic() < deadline:
                time.sleep(0.005)
        else:
            _write(self._file("", "cgroup.freeze"), 1 if frozen else 0)

    def remove(self):
        """Kill what is left and remove the cgroup; True when it is gone."""
        self.kill()
        return all(_remove_folder(folder) for folder in self.folders.values())


def _remove_folder(folder, seconds=10):
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.rmdir(folder)
            return True
        except FileNotFoundError:
            return True
        except OSError:  # busy: its last processes are still exiting
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


class BatchCgroups:
    """The subtree of one grading process: ``gan-grader-<pid>-<random>`` in every hierarchy."""

    def __init__(self, version, folders):
        self.version, self.folders = version, folders  # {hierarchy: the subtree's folder}
        self.students = []

    @classmethod
    def create(cls, proc="/proc/self"):
        version, own = own_cgroups(proc)
        remove_stale(own.values())
        name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        made = {}
        try:
            for hierarchy, folder in own.items():
                made[hierarchy] = os.path.join(folder, name)
                os.mkdir(made[hierarchy], 0o755)
            if version == "v2":
                _write(os.path.join(made[""], "cgroup.subtree_control"), " ".join(f"+{c}" for c in V2_CONTROLLERS))
        except OSError as error:
            for folder in made.values():
                _remove_folder(folder, seconds=0)
            raise CgroupError(f"no cgroup could be made under {', '.join(own.values())} ({error})") from error
        return cls(version, made)

    def student(self, name, memory_bytes, max_pids):
        """A new child cgroup with the student's limits (CgroupError if it cannot be made)."""
        folders = {h: os.path.join(folder, name) for h, folder in self.folders.items()}
        try:
            for folder in folders.values():
                os.mkdir(folder, 0o755)
            child = StudentCgroup(self.version, folders, memory_bytes, max_pids)
            child.limit()
        except OSError as error:
            for folder in folders.values():
                _remove_folder(folder, seconds=0)
            raise CgroupError(f"the student's cgroup could not be set up ({error})") from error
        self.students.append(child)
        return child

    def remove(self):
        """Remove every student's cgroup and the subtree; True when all is gone."""
        gone = all([child.remove() for child in self.students])
        self.students = []
        return all([_remove_folder(folder) for folder in self.folders.values()]) and gone


def remove_stale(own_folders):
    """Remove the subtrees of grading processes that are gone (only folders named by this module)."""
    for folder in own_folders:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            match = NAME.match(entry)
            if match and not alive(int(match.group(1))):
                remove_tree(os.path.join(folder, entry))


def remove_tree(folder):
    """Kill every process in a cgroup folder and its children, then remove them (deepest first)."""
    try:
        children = [entry.path for entry in os.scandir(folder) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        children = []
    for child in children:
        remove_tree(child)
    try:  # a batch killed while it froze a student leaves the freezer frozen, and SIGKILL waits for a thaw
        _write(os.path.join(folder, "freezer.state"), "THAWED")
    except OSError:
        pass
    for _ in range(50):
        try:
            tids = [int(t) for t in _read(os.path.join(folder, "tasks" if os.path.exists(
                os.path.join(folder, "tasks")) else "cgroup.procs")).split()]
        except OSError:
            tids = []
        if not tids:
            break
        for tid in tids:
            try:
                os.kill(tid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)
    _remove_folder(folder, seconds=2)
