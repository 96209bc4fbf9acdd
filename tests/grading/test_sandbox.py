"""Unit tests of the sandbox's process helpers (grader.grading.isolation.sandbox)."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from grader.grading.isolation import sandbox


def test_kill_process_group_kills_the_leader_and_its_group():
    leader = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                               "print('ready', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert leader.stdout.readline().strip() == "ready"
    import psutil

    child = psutil.Process(leader.pid).children()[0]
    sandbox.kill_process_group(leader.pid)
    assert leader.wait(timeout=10) == -9
    child.wait(timeout=10)
    assert not child.is_running()


def test_kill_process_group_of_a_finished_process_is_quiet():
    finished = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    finished.wait()
    time.sleep(0.05)
    sandbox.kill_process_group(finished.pid)  # nothing left to kill: no error


def test_the_sandbox_command_unshares_everything_and_shows_no_solutions(tmp_path):
    from grader import course

    root = course.course_root()
    arguments = sandbox.bwrap_arguments(1_234_567, str(tmp_path / "area"), hide=[str(root / "grader" / "checks")],
                                        empty_folder=str(tmp_path / "empty"))
    for option in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
                   "--as-pid-1"):
        assert option in arguments
    bound = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--ro-bind"]
    assert str(root / "grader") in bound and str(root / "data") in bound
    for secret in ("solutions", ".git", "tests", "demo", "book"):
        assert not any(path == str(root / secret) or path.startswith(str(root / secret) + "/") for path in bound)
    assert arguments[arguments.index(str(root / "grader" / "checks")) - 1] == str(tmp_path / "empty")
    assert arguments[-7:] == ["setpriv", "--reuid=1234567", "--regid=1234567", "--clear-groups",
                              "--inh-caps=-all", "--bounding-set=-all", "--"]
    assert "--bind" in arguments and sandbox.INSIDE_HOME in arguments


def test_a_course_under_tmp_is_not_hidden_by_the_students_tmp(tmp_path, monkeypatch):
    """A checkout in /tmp (the fresh-clone check did this) must stay visible: no mount on /tmp."""
    course_part = tmp_path / "course" / "grader"
    course_part.mkdir(parents=True)
    assert str(course_part).startswith("/tmp/"), "pytest's tmp_path is expected under /tmp"
    monkeypatch.setattr(sandbox, "visible_paths", lambda: ["/usr", str(course_part)])
    arguments = sandbox.bwrap_arguments(1_234_567, str(tmp_path / "area"), hide=[])
    targets = [arguments[i + 2] for i, a in enumerate(arguments) if a in ("--bind", "--ro-bind")]
    assert str(course_part) in targets and "/tmp" not in targets and "--tmpfs" not in arguments, arguments
    monkeypatch.setattr(sandbox, "visible_paths", lambda: ["/usr"])
    arguments = sandbox.bwrap_arguments(1_234_567, str(tmp_path / "area"), hide=[])
    assert arguments[arguments.index("/tmp") - 1] == str(tmp_path / "area" / "tmp"), "elsewhere /tmp is the student's"


def test_paths_in_the_area_are_mapped_to_the_inside_home(tmp_path):
    contained = sandbox.StudentSandbox(tmp_path, 1_234_567)
    assert contained.inside(contained.workdir) == sandbox.INSIDE_HOME + "/work"
    assert contained.inside("/usr/bin") == "/usr/bin"
    plain = sandbox.StudentSandbox(tmp_path, 1_234_567, contained=False)
    assert plain.inside(plain.workdir) == plain.workdir and plain.uid is None


def test_without_root_or_bwrap_the_reason_names_what_is_missing(monkeypatch):
    sandbox.containment_problem.cache_clear()
    try:
        monkeypatch.setattr(sandbox, "running_as_root", lambda: False)
        assert "not running as root" in sandbox.containment_problem()
        sandbox.containment_problem.cache_clear()
        monkeypatch.setattr(sandbox, "running_as_root", lambda: True)
        monkeypatch.setattr(sandbox.shutil, "which", lambda tool: None if tool == "bwrap" else "/usr/bin/" + tool)
        problem = sandbox.containment_problem()
        assert "bwrap not found" in problem and "apt-get install bubblewrap" in problem
        assert "no network" in sandbox.isolation_note(problem)
    finally:
        sandbox.containment_problem.cache_clear()


@pytest.mark.slow
def test_without_bubblewrap_the_batch_still_grades_and_warns(tmp_path, monkeypatch):
    """The reduced-isolation path: the zygote as a plain child process, full marks, and the warning."""
    from grader.grading import demo
    from grader.grading.batch import autograde, summary_text

    monkeypatch.setattr(sandbox, "containment_problem", lambda: "bubblewrap is switched off for this test")
    answers = demo.reference_answers()
    demo.write_submission(tmp_path / "submitted", "control", answers, notebooks=["01_model_inputs"])
    report = autograde(tmp_path / "submitted", tmp_path / "out", workers=1, timeout=40, notebook_limit=150,
                       memory_mb=1500)
    student = report["students"][0]
    assert sum(test.score for test in student.notebooks["01_model_inputs"].tests.values()) == 3
    assert ("WARNING: reduced isolation: bubblewrap is switched off for this test; so there are no network"
            in summary_text(report))


# ---------------------------------------------------------------- root never follows a student's symlink
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
STUDENT_UID = 1_234_567


def host_file(tmp_path):
    """A root-owned file outside the student's area: what a planted symlink aims at."""
    target = tmp_path / "host" / "gradebook.db"
    target.parent.mkdir()
    target.write_text("the class's grades")
    return target


def assert_untouched(target):
    assert target.read_text() == "the class's grades", f"root wrote through a planted symlink: {target.read_text()!r}"
    assert target.stat().st_uid == 0, f"root chowned {target} through a planted symlink to uid {target.stat().st_uid}"


@needs_root
def test_the_launcher_writes_no_connection_file_through_a_planted_symlink(tmp_path):
    from grader.grading.isolation import launcher

    target = host_file(tmp_path)
    area = tmp_path / "area"
    (area / "run").mkdir(parents=True)
    (area / "run" / "kernel-connection.json").symlink_to(target)
    launcher.write_connection(str(area), {"transport": "ipc", "key": "k"}, STUDENT_UID)
    assert_untouched(target)
    written = area / "run" / "kernel-connection.json"
    assert not written.is_symlink() and json.loads(written.read_text()) == {"transport": "ipc", "key": "k"}
    assert written.stat().st_uid == STUDENT_UID and written.stat().st_mode & 0o777 == 0o600


@needs_root
def test_the_launcher_refuses_a_run_folder_that_is_a_symlink(tmp_path):
    from grader.grading.isolation import launcher

    target = host_file(tmp_path)
    area = tmp_path / "area"
    area.mkdir()
    (area / "run").symlink_to(target.parent)
    with pytest.raises(OSError):
        launcher.write_connection(str(area), {"transport": "ipc"}, STUDENT_UID)
    assert sorted(p.name for p in target.parent.iterdir()) == ["gradebook.db"], "a file was made in the host folder"
    assert_untouched(target)


@needs_root
def test_make_area_replaces_planted_symlinks_instead_of_chowning_their_targets(tmp_path):
    target = host_file(tmp_path)
    contained = sandbox.StudentSandbox(tmp_path / "student", STUDENT_UID)
    os.makedirs(contained.area)
    os.symlink(target.parent, os.path.join(contained.area, "run"))
    os.symlink(target, os.path.join(contained.area, "tmp"))
    contained.make_area()
    assert_untouched(target)
    assert target.parent.stat().st_uid == 0, "the host folder behind the planted `run` symlink was chowned"
    for name in sandbox.StudentSandbox.AREA_FOLDERS:
        path = os.path.join(contained.area, name)
        assert not os.path.islink(path) and os.path.isdir(path), f"{name} should be a real folder again"
        assert os.stat(path).st_uid == STUDENT_UID, f"{name} is not owned by the student"


@needs_root
def test_files_put_into_work_do_not_follow_a_planted_symlink(tmp_path):
    target = host_file(tmp_path)
    contained = sandbox.StudentSandbox(tmp_path / "student", STUDENT_UID)
    os.makedirs(contained.area)
    contained.make_area()
    os.symlink(target, os.path.join(contained.workdir, "01_model_inputs.ipynb"))
    contained.put_file("work", "01_model_inputs.ipynb", b"{}")
    assert_untouched(target)
    with open(os.path.join(contained.workdir, "01_model_inputs.ipynb"), "rb") as handle:
        assert handle.read() == b"{}"
    shutil.rmtree(contained.workdir)
    os.symlink(target.parent, contained.workdir)
    with pytest.raises(OSError):
        contained.put_file("work", "02_generator.ipynb", b"{}")
    assert sorted(p.name for p in target.parent.iterdir()) == ["gradebook.db"]


def test_the_zygotes_socket_name_reveals_no_host_path(tmp_path):
    import socket

    path = tmp_path / "control" / "zygote.sock"
    path.parent.mkdir()
    listener = sandbox.bind_quietly(str(path))
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(path))
        accepted, _ = listener.accept()
        names = [accepted.getsockname(), accepted.getpeername(), listener.getsockname()]
        accepted.close()
    finally:
        client.close()
        listener.close()
    assert all(isinstance(name, str) for name in names), f"expected Unix socket names (str), found {names!r}"
    assert not any(str(tmp_path) in name for name in names), f"a socket name shows the host path: {names}"
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
