"""The per-student cgroups (grader.grading.isolation.cgroups) against the attacks that the
RSS-polling watchdog missed: memfd, tmpfs files, a leader that exits while its thread holds
memory, and a fork bomb. Every test makes its cgroups in its own ``gan-grader-<pid>-<random>``
subtree under the test process's cgroup, and checks that the subtree is gone afterwards."""
import os
import subprocess
import sys
import textwrap

import pytest

from grader.grading.isolation import cgroups, sandbox

MiB = 2**20


def cgroup_problem():
    if os.geteuid() != 0:
        return "not root"
    try:
        cgroups.own_cgroups()
    except cgroups.CgroupError as error:
        return str(error)
    return None


needs_cgroups = pytest.mark.skipif(cgroup_problem() is not None, reason=f"no cgroups here: {cgroup_problem()}")


@pytest.fixture
def batch():
    made = cgroups.BatchCgroups.create()
    folders = dict(made.folders)
    yield made
    assert made.remove(), f"the batch's cgroups could not be removed: {folders}"
    left = [folder for folder in folders.values() if os.path.exists(folder)]
    assert not left, f"expected the test's cgroup subtree to be gone, found {left}"


def start_in(cgroup, code):
    """A Python child that joins ``cgroup`` before it runs ``code``; prints go to a pipe."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True,
                            preexec_fn=cgroup.join)


def test_membership_and_mounts_are_parsed_for_v1_and_v2():
    member = cgroups.membership("4:memory:/batch/a\n8:pids:/\n9:name=systemd:/\n0::/user.slice\n")
    assert isinstance(member, dict), f"expected a dict, found {type(member).__name__}"
    assert member == {"memory": "/batch/a", "pids": "/", "systemd": "/", "": "/user.slice"}, member
    mountinfo = ("30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
                 "31 25 0:27 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n"
                 "32 25 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n")
    mounted = cgroups.mounts(mountinfo)
    assert mounted == {"memory": ("/", "/sys/fs/cgroup/memory"), "": ("/", "/sys/fs/cgroup/unified"),
                       "pids": ("/", "/sys/fs/cgroup/pids")}, mounted


def test_a_grader_without_cgroups_gets_a_reason(tmp_path):
    (tmp_path / "cgroup").write_text("0::/\n")
    (tmp_path / "mountinfo").write_text("22 1 0:20 / /proc rw - proc proc rw\n")
    with pytest.raises(cgroups.CgroupError) as raised:
        cgroups.own_cgroups(proc=str(tmp_path))
    assert "memory" in str(raised.value) and "v2" in str(raised.value), str(raised.value)
    note = sandbox.cgroup_note(str(raised.value))
    assert "no cgroup could be made" in note and "memfd" in note, note


def test_a_cgroup_v2_is_used_only_where_it_delegates_memory_and_pids(tmp_path):
    unified = tmp_path / "unified"
    (unified / "grading.slice").mkdir(parents=True)
    (tmp_path / "cgroup").write_text("0::/grading.slice\n")
    (tmp_path / "mountinfo").write_text(f"31 25 0:27 / {unified} rw,relatime - cgroup2 cgroup2 rw\n")
    (unified / "grading.slice" / "cgroup.subtree_control").write_text("cpu memory pids\n")
    version, folders = cgroups.own_cgroups(proc=str(tmp_path))
    assert (version, folders) == ("v2", {"": str(unified / "grading.slice")}), (version, folders)
    (unified / "grading.slice" / "cgroup.subtree_control").write_text("cpu memory\n")
    with pytest.raises(cgroups.CgroupError) as raised:
        cgroups.own_cgroups(proc=str(tmp_path))
    assert "delegates memory and pids" in str(raised.value), str(raised.value)


@needs_cgroups
def test_the_subtree_lies_under_the_graders_own_cgroup_and_is_named_for_it(batch):
    _, own = cgroups.own_cgroups()
    assert set(batch.folders) == set(own), f"expected the hierarchies {sorted(own)}, found {sorted(batch.folders)}"
    for hierarchy, folder in batch.folders.items():
        assert os.path.dirname(folder) == own[hierarchy], f"{folder} is not directly under {own[hierarchy]}"
        assert cgroups.NAME.match(os.path.basename(folder)), f"{folder} is not named gan-grader-<pid>-<random>"
        assert int(os.path.basename(folder).split("-")[2]) == os.getpid()


@needs_cgroups
def test_memfd_held_above_the_cap_is_stopped_and_reported(batch):
    student = batch.student("student", 200 * MiB, 64)
    before = student.counters()
    child = start_in(student, """
        import mmap, os
        held = []
        for _ in range(9):
            fd = os.memfd_create("held")
            os.ftruncate(fd, 64 * 2**20)
            region = mmap.mmap(fd, 64 * 2**20)
            region.write(b"x" * 64 * 2**20)
            held.append(region)
        print("memfd held", 9 * 64, "MiB", flush=True)
    """)
    out, _ = child.communicate(timeout=120)
    assert child.returncode == -9, f"expected the kernel to kill the child (-9), found {child.returncode}: {out}"
    assert "memfd held" not in out, "the child held more memfd than the cap and was not stopped"
    reason = student.reason(before, "01_model_inputs.ipynb")
    assert reason and "used more than 200 MiB of memory" in reason, f"expected the memory reason, found {reason!r}"


@needs_cgroups
def test_files_in_a_tmpfs_count_against_the_cap(batch, tmp_path):
    mount = tmp_path / "shm"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g", "gan-test", str(mount)], check=True)
    try:
        student = batch.student("student", 200 * MiB, 64)
        before = student.counters()
        child = start_in(student, f"""
            with open({str(mount / "fill")!r}, "wb") as handle:
                for _ in range(400):
                    handle.write(b"x" * 2**20)
            print("filled 400 MiB", flush=True)
        """)
        out, _ = child.communicate(timeout=120)
        reason = student.reason(before, "the notebook")
        assert "filled" not in out and child.returncode != 0, f"a tmpfs file above the cap was allowed: {out!r}"
        assert reason and "used more than 200 MiB" in reason, f"expected the memory reason, found {reason!r}"
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


PTHREAD_EXIT_LEADER = """
    import ctypes, os, threading, time
    megabytes = {megabytes}
    def hold():
        data = bytearray(megabytes * 2**20)
        for index in range(0, len(data), 4096):
            data[index] = 1
        print("holding", megabytes, "MiB", flush=True)
        time.sleep(600)
    threading.Thread(target=hold).start()
    time.sleep(0.5)
    print("leader exits", os.getpid(), flush=True)
    ctypes.CDLL(None).pthread_exit(None)
"""


@needs_cgroups
def test_a_leader_that_exits_while_its_thread_holds_memory_is_capped(batch):
    student = batch.student("student", 200 * MiB, 64)
    before = student.counters()
    child = start_in(student, PTHREAD_EXIT_LEADER.format(megabytes=400))
    out, _ = child.communicate(timeout=120)
    assert "holding 400 MiB" not in out, f"the thread of an exited leader held more than the cap: {out!r}"
    assert child.returncode == -9, f"expected the kernel to kill the process (-9), found {child.returncode}"
    reason = student.reason(before, "the notebook")
    assert reason and "used more than 200 MiB" in reason, f"expected the memory reason, found {reason!r}"


@needs_cgroups
def test_a_zombie_looking_leader_with_a_live_thread_is_ended(batch):
    student = batch.student("student", 200 * MiB, 64)
    child = start_in(student, PTHREAD_EXIT_LEADER.format(megabytes=50))
    assert child.stdout.readline().startswith("holding"), "the child did not start holding memory"
    assert child.stdout.readline().startswith("leader exits")
    import psutil

    leader = psutil.Process(child.pid)
    assert not sandbox.is_finished(leader), "a leader whose thread still runs was taken for a finished process"
    assert student.pids() == {child.pid}, f"expected the cgroup to list the leader {child.pid}, found {student.pids()}"
    assert student.kill(), "the cgroup still has processes after the kill"
    assert child.wait(timeout=30) == -9
    assert student.tasks() == set(), f"expected no task left in the cgroup, found {student.tasks()}"


def test_without_a_cgroup_kill_all_ends_a_zombie_looking_leader():
    """The fallback path (no cgroup): kill_all used to skip such a leader as a zombie."""
    import psutil

    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PTHREAD_EXIT_LEADER.format(megabytes=20))],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().startswith("holding")
    assert child.stdout.readline().startswith("leader exits")
    process = psutil.Process(child.pid)
    assert not sandbox.is_finished(process), "the leader's live thread was not seen"
    sandbox.kill_all(lambda: [process] if process.is_running() else [])
    assert child.wait(timeout=30) == -9, "kill_all left a leader whose thread still ran"


@needs_cgroups
def test_a_fork_bomb_stops_at_the_pids_cap_and_is_ended(batch):
    student = batch.student("student", 400 * MiB, 32)
    before = student.counters()
    child = start_in(student, """
        import os, time
        started = 0
        for _ in range(500):
            try:
                if os.fork() == 0:
                    time.sleep(600)
                    os._exit(0)
                started += 1
            except OSError:
                break
        print("started", started, flush=True)
        time.sleep(600)
    """)
    started = int(child.stdout.readline().split()[1])
    assert started < 32, f"expected fewer than 32 processes under the pids cap, found {started}"
    reason = student.reason(before, "the notebook")
    assert reason and "more than 32 processes" in reason, f"expected the process-cap reason, found {reason!r}"
    assert student.kill(), "the fork bomb's processes outlived the kill"
    assert child.wait(timeout=30) == -9
    assert student.pids() == set()


@needs_cgroups
def test_one_students_attack_leaves_another_student_alone(batch):
    victim = batch.student("victim", 300 * MiB, 64)
    attacker = batch.student("attacker", 150 * MiB, 64)
    calm = start_in(victim, """
        import time
        data = bytearray(100 * 2**20)
        print("ready", flush=True)
        time.sleep(600)
    """)
    assert calm.stdout.readline().strip() == "ready"
    before = victim.counters()
    hog = start_in(attacker, "data = bytearray(400 * 2**20)\nprint('allocated', flush=True)\n")
    hog.communicate(timeout=120)
    assert hog.returncode == -9, f"expected the attacker to be stopped, found exit status {hog.returncode}"
    assert calm.poll() is None, "the other student's process was killed"
    assert victim.reason(before, "the notebook") is None, "the other student was charged with the attack"
    assert attacker.kill() and victim.kill()


@needs_cgroups
def test_subtrees_left_by_a_killed_batch_are_removed_and_live_ones_kept():
    _, own = cgroups.own_cgroups()
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    stale = {h: os.path.join(folder, f"gan-grader-{finished.pid}-0bad") for h, folder in own.items()}
    live = {h: os.path.join(folder, f"gan-grader-{os.getpid()}-0a11") for h, folder in own.items()}
    other = {h: os.path.join(folder, "gan-graderx-not-ours") for h, folder in own.items()}
    for folder in [*stale.values(), *live.values(), *other.values()]:
        os.mkdir(folder)
    for folder in stale.values():
        os.mkdir(os.path.join(folder, "student"))
    try:
        made = cgroups.BatchCgroups.create()
        made.remove()
        assert not any(os.path.exists(f) for f in stale.values()), "a dead batch's subtree was left behind"
        assert all(os.path.exists(f) for f in live.values()), "a live grading process's subtree was removed"
        assert all(os.path.exists(f) for f in other.values()), "a cgroup not named by the grader was removed"
    finally:
        for folder in [*stale.values(), *live.values(), *other.values()]:
            for inner in (os.path.join(folder, "student"), folder):
                if os.path.exists(inner):
                    os.rmdir(inner)


def test_a_sandbox_without_a_cgroup_says_why(tmp_path, monkeypatch):
    def no_cgroups(proc="/proc/self"):
        raise cgroups.CgroupError("no memory controller here")

    monkeypatch.setattr(cgroups, "own_cgroups", no_cgroups)
    contained = sandbox.StudentSandbox(tmp_path, 1_234_567, memory_bytes=200 * MiB)
    contained.make_cgroup()
    assert contained.cgroup is None and contained.batch_cgroups is None, "a cgroup was made without controllers"
    assert contained.cgroup_problem == "no memory controller here", contained.cgroup_problem
    assert contained.limit_counters() is None and contained.limit_reason(None, "x") is None
    assert "no memory controller here" in sandbox.cgroup_note(contained.cgroup_problem)
