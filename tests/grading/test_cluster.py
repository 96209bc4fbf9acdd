"""Grading on a Dask cluster (grader.grading.cluster, `autograde --scheduler`).

A local cluster of two single-threaded worker processes, on 127.0.0.1 only, grades a small class
exactly as the local pool does, refuses workers whose course is not the client's, and loses no
student when a worker is killed while it grades one. 01_model_inputs is worth 3 points,
02_generator 7.
"""
import csv
import os
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from grader import course
from grader.grading import batch, cli, cluster, demo
from grader.grading.records import StudentJob

INPUTS, GENERATOR = "01_model_inputs", "02_generator"
WRONG_INPUTS = '''def model_inputs(real_dim, z_dim):
    return tf.placeholder(tf.float64, (None, real_dim)), tf.placeholder(tf.float64, (None, z_dim))
'''
LIMITS = {"timeout": 40, "notebook_limit": 150, "memory_mb": 1500}
SLEEP = 12  # seconds the killed student's notebook sleeps in a cell: the time to kill its worker
CONTAINED = ("grader.grading.isolation", "ipykernel")  # in the command line of kernels, launchers, zygotes
STUDENT_UIDS = 1_000_000  # batch.new_uid_base() and up


@pytest.fixture(scope="module")
def dask_cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", memory_limit=0,
                      dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as local:
        yield local


@pytest.fixture(scope="module")
def answers():
    return demo.reference_answers()


def wrong_answers(answers):
    return {**answers, INPUTS: {"model_inputs": WRONG_INPUTS}}


@pytest.fixture(scope="module")
def submitted(tmp_path_factory, answers):
    """A control student (01 and 02 correct), a wrong one (01 only) and one without the assignment."""
    folder = tmp_path_factory.mktemp("class") / "submitted"
    demo.write_submission(folder, "control", answers, notebooks=[INPUTS, GENERATOR])
    demo.write_submission(folder, "wrong", wrong_answers(answers), notebooks=[INPUTS])
    (folder / "no_assignment_folder").mkdir()
    return folder


def scores_by_test(report):
    return {(student.student_id, notebook_id, grade_id): test.score
            for student in report["students"]
            for notebook_id, result in student.notebooks.items()
            for grade_id, test in result.tests.items()}


def published(out):
    return sorted(str(path.relative_to(out)) for kind in ("autograded", "feedback") for path in (out / kind).rglob("*"))


def graded_students(out):
    with open(out / "grades.csv") as handle:
        return {row["student_id"] for row in csv.DictReader(handle)}


# ---------------------------------------------------------------------- the course hash
def test_the_course_hash_follows_the_solutions_and_ignores_checkpoints(tmp_path, monkeypatch):
    solutions = tmp_path / "solutions"
    shutil.copytree(course.solutions_dir(), solutions)
    monkeypatch.setenv("GAN_COURSE_SOLUTIONS", str(solutions))
    first = cluster.course_hash()
    (solutions / course.ASSIGNMENT / ".ipynb_checkpoints").mkdir()
    (solutions / course.ASSIGNMENT / ".ipynb_checkpoints" / f"{INPUTS}-checkpoint.ipynb").write_text("{}")
    assert cluster.course_hash() == first
    notebook = solutions / course.ASSIGNMENT / f"{INPUTS}.ipynb"
    notebook.write_bytes(notebook.read_bytes() + b" ")
    assert cluster.course_hash() != first


def test_workers_with_another_course_are_refused_before_anything_is_graded(dask_cluster, submitted, tmp_path,
                                                                         monkeypatch, capsys):
    """The client's solutions differ from the workers' (they started with the repository's)."""
    workers_hash = cluster.course_hash()
    solutions = tmp_path / "solutions"
    shutil.copytree(course.solutions_dir(), solutions)
    notebook = solutions / course.ASSIGNMENT / f"{INPUTS}.ipynb"
    notebook.write_bytes(notebook.read_bytes() + b" ")
    monkeypatch.setenv("GAN_COURSE_SOLUTIONS", str(solutions))
    clients_hash = cluster.course_hash()
    with pytest.raises(cluster.CourseMismatch) as refused:
        cluster.autograde_on_cluster(submitted, tmp_path / "out", dask_cluster.scheduler_address, log=lambda line: None)
    message = str(refused.value)
    assert workers_hash in message and clients_hash in message and "Deploy the same commit" in message
    assert message.count("the course on Dask worker") == 2, message
    assert not (tmp_path / "out").exists()

    status = cli.main(["autograde", str(submitted), "--out", str(tmp_path / "out"),
                       "--scheduler", dask_cluster.scheduler_address])
    assert status == 2
    assert "Nothing was graded: the course on Dask worker" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_a_task_with_another_course_hash_is_refused_and_its_student_gets_zeros(dask_cluster, submitted):
    from distributed import Client

    job = StudentJob("control", course.ASSIGNMENT, str(submitted / "control" / course.ASSIGNMENT), index=0)
    shared = cluster.ClusterBatch("0" * 64, batch.new_uid_base(), None, warm_kernels=True, skip_ungraded=True,
                                  **LIMITS)
    source_notebooks = course.read_assignment()
    with Client(dask_cluster.scheduler_address, set_as_default=False) as client:
        future = client.submit(cluster.grade_task, job, {}, shared)
        with pytest.raises(cluster.CourseMismatch, match="0{64}.*Deploy the same commit"):
            future.result()
        student, contents, _ = cluster.outcome(future, job, source_notebooks)
    assert contents is None and student.totals()[0] == 0
    assert all("not graded: the course on Dask worker" in result.problems[0] for result in student.notebooks.values())


# ---------------------------------------------------------------------- a class on the cluster
@pytest.mark.slow
def test_the_cluster_grades_a_class_exactly_as_the_local_pool(dask_cluster, submitted, tmp_path):
    local = batch.autograde(submitted, tmp_path / "local", workers=2, **LIMITS)
    lines = []
    address = dask_cluster.scheduler_address
    remote = cluster.autograde_on_cluster(submitted, tmp_path / "cluster", address, log=lines.append, **LIMITS)

    assert scores_by_test(remote) == scores_by_test(local)
    totals = {student.student_id: student.totals()[0] for student in remote["students"]}
    assert totals == {"control": 10, "wrong": 0, "no_assignment_folder": 0}
    out = tmp_path / "cluster"
    assert (out / "grades.csv").read_text() == (tmp_path / "local" / "grades.csv").read_text()
    assert (out / "gradebook.db").exists() and (out / "report.json").exists()
    assert published(out) == published(tmp_path / "local")
    for student_id in totals:
        for notebook_id in course.read_assignment():
            assert (out / "autograded" / student_id / "gan" / f"{notebook_id}.ipynb").exists(), student_id
            assert (out / "feedback" / student_id / "gan" / f"{notebook_id}.html").exists(), student_id
    assert remote["scheduler"] == address and remote["workers"] == 2
    assert f"on the Dask cluster at {address} with 2 worker(s)" in batch.summary_text(remote)
    assert f"on the Dask cluster at {address} with 2 worker(s)" in lines[0]


# ---------------------------------------------------------------------- a worker killed mid-student
def executing_tasks(client):
    return client.run(lambda dask_worker: [str(task.key) for task in dask_worker.state.executing])


def running_a_kernel(pid):
    """Whether the process ``pid`` has started a kernel (or its launcher) among its descendants."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    return any("isolation.launcher" in command or "ipykernel" in command for command in map(command_line, children))


def command_line(process):
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def kill_the_worker_grading(client, student_id, wait=180):
    """SIGKILL the worker process grading ``student_id`` a few seconds after its kernel started;
    returns the processes it had started (they must die with it)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pids = client.run(os.getpid)
        for address, keys in executing_tasks(client).items():
            if any(key.startswith(f"grade-{student_id}-") for key in keys) and running_a_kernel(pids[address]):
                time.sleep(3)  # into the notebook's sleeping cell
                worker = psutil.Process(pids[address])
                descendants = worker.children(recursive=True)
                worker.send_signal(signal.SIGKILL)
                return [worker, *descendants]
        time.sleep(0.5)
    pytest.fail(f"no worker was seen grading {student_id} within {wait} s")


def alive(process):
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def ours_or_orphaned(process):
    """Started by this test process, or orphaned (adopted by init): not another test run's."""
    try:
        return process.ppid() == 1 or any(parent.pid == os.getpid() for parent in process.parents())
    except psutil.NoSuchProcess:
        return False


def left_behind(since, killed):
    """The killed processes still alive, and the processes started since ``since`` that run the
    grader's containment or a kernel, or run as a student."""
    found = [process for process in killed if alive(process)]
    for process in psutil.process_iter(["create_time", "uids"]):
        if process.info["create_time"] < since or process in found or not ours_or_orphaned(process):
            continue
        uids = process.info["uids"]
        if any(word in command_line(process) for word in CONTAINED) or (uids and uids.real >= STUDENT_UIDS):
            found.append(process)
    return [f"{process.pid}: {command_line(process)}" for process in found if alive(process)]


@pytest.mark.slow
def test_a_worker_killed_while_grading_a_student_loses_no_student(dask_cluster, answers, tmp_path):
    from distributed import Client

    started = time.time()
    submitted = tmp_path / "submitted"
    sleep_cell = {INPUTS: lambda notebook: demo.add_cell(notebook, f"import time\ntime.sleep({SLEEP})\n",
                                                         "model_inputs")}
    demo.write_submission(submitted, "sleepy", answers, notebooks=[INPUTS], edits=sleep_cell)
    demo.write_submission(submitted, "wrong", wrong_answers(answers), notebooks=[INPUTS])
    address = dask_cluster.scheduler_address
    lines = []
    with ThreadPoolExecutor(1) as pool, Client(address, set_as_default=False) as client:
        grading = pool.submit(cluster.autograde_on_cluster, submitted, tmp_path / "out", address,
                              log=lines.append, **LIMITS)
        killed = kill_the_worker_grading(client, "sleepy")
        report = grading.result(timeout=400)

    assert graded_students(tmp_path / "out") == {"sleepy", "wrong"}
    students = {student.student_id: student for student in report["students"]}
    assert students["wrong"].totals()[0] == 0 and students["wrong"].notebooks[INPUTS].status == "graded"
    sleepy = students["sleepy"].notebooks[INPUTS]
    if sleepy.status == "graded":  # retried on another worker
        assert students["sleepy"].totals()[0] == 3, lines
    else:
        assert sleepy.status == "internal error" and "died" in sleepy.problems[0], sleepy.problems
        assert students["sleepy"].totals()[0] == 0
    deadline = time.monotonic() + 15  # the killed worker's children may take a moment to go
    while left_behind(started, killed) and time.monotonic() < deadline:
        time.sleep(1)
    assert not left_behind(started, killed)
    for folder in Path(tempfile.gettempdir()).glob(f"gan-dask-{killed[0].pid}-*"):  # what a killed worker leaves
        shutil.rmtree(folder)
