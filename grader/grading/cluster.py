"""`python -m grader autograde SUBMITTED --out OUT --scheduler ADDRESS`: grade a class on a Dask cluster.

One Dask task per student (:func:`grade_task`). The task carries the student's submitted files as
bytes (the assignment's notebooks and timestamp.txt, nothing else), so the workers need no shared
file system. On the worker the student is graded as in the local batch, by
:func:`grader.grading.worker.grade_student` with the same containment, in a private folder; the
task returns the StudentResult as a plain dict and the executed notebooks and feedback pages as
bytes. The client writes those into OUT and merges the class as the local batch does
(grader.grading.batch: publish, merge_results, build_report, write_reports).

Every worker must grade with the client's course: :func:`course_hash` is compared on every worker
before anything is graded, and again by every task. Dask gives the task of a worker that dies to
another worker (``distributed.scheduler.allowed-failures`` times); after that, or when a task
fails, the student gets zeros with the reason, like any student the grader could not handle.
"""
import atexit
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader import course
from grader.grading import batch, worker
from grader.grading.isolation import sandbox
from grader.grading.records import CourseTemplate, GradingSettings, StudentJob, StudentResult, to_json

WAIT_FOR_WORKERS = 300  # seconds to wait for a first worker (a batch system may still be starting them)
CONNECT_TIMEOUT = 30  # seconds to reach the scheduler


class ClusterError(Exception):
    """The class cannot be graded on this cluster (scheduler unreachable, no worker, another course)."""


class CourseMismatch(ClusterError):
    """A worker's course is not the client's."""


# ---------------------------------------------------------------------- the course on both sides
def course_hash() -> str:
    """sha256 over the relative paths and bytes of what decides the grades: the reference
    solutions (``course.solutions_dir()``), the grader package and nbgrader_config.py."""
    files = [(f"solutions/{name}", path) for name, path in course_files(course.solutions_dir())]
    files += [(f"grader/{name}", path) for name, path in course_files(Path(grader.__file__).parent)]
    files.append(("nbgrader_config.py", course.config_file()))
    digest = hashlib.sha256()
    for name, path in sorted(files):
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def course_files(folder):
    """(relative name, path) of the files under ``folder``, less caches and hidden files
    (__pycache__, .ipynb_checkpoints), which differ from machine to machine."""
    folder = Path(folder)
    for path in folder.rglob("*"):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in name.split("/")):
            yield name, path


def mismatch_message(worker_name, worker_hash, client_hash):
    return (f"the course on Dask worker {worker_name} is not the client's: its course hash (reference solutions, "
            f"grader package and nbgrader_config.py) is {worker_hash}, the client's is {client_hash}. Deploy the "
            "same commit of this repository on the client and on every worker, restart the workers, and grade again.")


def worker_name():
    return f"{socket.gethostname()} (pid {os.getpid()})"


def worker_state():
    """What the client asks every worker before a batch: its course hash, and why student code
    would run outside a sandbox there (None: it runs in one)."""
    return {"course_hash": course_hash(), "isolation": sandbox.containment_problem()}


# ---------------------------------------------------------------------- on a worker
@dataclass(frozen=True)
class ClusterBatch:
    """What every task of a batch carries besides its student: the client's course hash and the options."""

    course_hash: str
    uid_base: int
    work_dir: str | None  # where each worker makes its private folder (None: its temp folder)
    timeout: int
    notebook_limit: int
    memory_mb: int
    warm_kernels: bool
    skip_ungraded: bool

    def grading_options(self):
        """The GradingSettings fields these options set."""
        return {name: getattr(self, name)
                for name in ("timeout", "notebook_limit", "memory_mb", "warm_kernels", "skip_ungraded")}


@dataclass
class WorkerCourse:
    """One worker process's private folder for an assignment, with the template built there."""

    root: Path  # the students' working folders go under it, one per task
    submissions: Path  # the submitted files of the tasks being graded (hidden from student code)
    template: CourseTemplate
    source_notebooks: dict
    settings: dict[ClusterBatch, GradingSettings] = field(default_factory=dict)


_COURSES: dict[tuple, WorkerCourse] = {}  # this worker process's, by (assignment, work_dir, course hash)
_COURSES_LOCK = threading.Lock()  # tasks may run in threads of one worker process


def worker_course(assignment, work_dir, fingerprint) -> WorkerCourse:
    """This process's WorkerCourse, made (nbgrader generate_assignment from this worker's own
    solutions/) on its first task and removed when the process exits."""
    key = (assignment, work_dir, fingerprint)
    with _COURSES_LOCK:
        if key not in _COURSES:
            root = Path(tempfile.mkdtemp(prefix=f"gan-dask-{os.getpid()}-", dir=work_dir))
            atexit.register(shutil.rmtree, root, True)
            os.chmod(root, 0o711)
            submissions = root / "submissions"
            submissions.mkdir(mode=0o700)
            _COURSES[key] = WorkerCourse(root, submissions, batch.build_template(root, assignment),
                                         course.read_assignment(assignment=assignment))
        return _COURSES[key]


def worker_settings(place: WorkerCourse, shared: ClusterBatch) -> GradingSettings:
    """The batch's settings on this worker: the paths hidden from student code are this worker's
    solutions, .git, tests and its folder of submissions."""
    with _COURSES_LOCK:
        if shared not in place.settings:
            place.settings[shared] = batch.grading_settings(
                place.root, place.source_notebooks, shared.uid_base, also_hide=[place.submissions],
                **shared.grading_options())
        return place.settings[shared]


def check_course(expected_hash):
    """This worker's course hash; CourseMismatch if it is not the client's, ``expected_hash``."""
    found = course_hash()
    if found != expected_hash:
        raise CourseMismatch(mismatch_message(worker_name(), found, expected_hash))
    return found


def template_gradebook(assignment, work_dir, expected_hash) -> bytes:
    """A task: the template gradebook this worker grades with, for the client's OUT/gradebook.db."""
    place = worker_course(assignment, work_dir, check_course(expected_hash))
    return place.template.verified_gradebook()  # checked against its checksum from when it was built


def grade_task(job: StudentJob, files: dict[str, bytes], shared: ClusterBatch) -> dict:
    """The Dask task: grade one student on this worker, from ``files`` ({file name: bytes}).

    Returns ``{"student": the StudentResult as a plain dict, "contents": {notebook_id: {"autograded"
    or "feedback": bytes}}, "worker": host and pid}``; raises CourseMismatch if this worker's course
    is not the client's. The student's folders on the worker are removed before it returns.
    """
    place = worker_course(job.assignment_id, shared.work_dir, check_course(shared.course_hash))
    settings = worker_settings(place, shared)
    work_root = Path(tempfile.mkdtemp(prefix=f"student-{job.index:05d}-", dir=place.root))
    os.chmod(work_root, 0o711)
    submission = Path(tempfile.mkdtemp(prefix=f"{job.index:05d}-", dir=place.submissions))
    try:
        for name, data in files.items():
            if Path(name).name != name:
                raise ValueError(f"not a plain file name: {name!r}")
            (submission / name).write_bytes(data)
        student = worker.grade_student(dataclasses.replace(settings, work_root=str(work_root)),
                                       dataclasses.replace(job, source=str(submission)), place.template)
        return {"student": json.loads(to_json(student)), "contents": result_files(student), "worker": worker_name()}
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
        shutil.rmtree(submission, ignore_errors=True)


def result_files(student: StudentResult):
    """{notebook_id: {kind: bytes}} of the executed notebooks and feedback pages the worker wrote."""
    contents = {}
    for notebook_id, result in student.notebooks.items():
        for kind in ("autograded", "feedback"):
            path = getattr(result, kind)
            if path and Path(path).is_file():
                contents.setdefault(notebook_id, {})[kind] = Path(path).read_bytes()
    return contents


# ---------------------------------------------------------------------- on the client
def autograde_on_cluster(submitted, out, scheduler, timeout=None, notebook_limit=None, memory_mb=4096,
                         assignment=course.ASSIGNMENT, work_dir=None, warm_kernels=True, skip_ungraded=False,
                         log=print, wait_for_workers=WAIT_FOR_WORKERS, secret_file=None):
    """Grade every student under ``submitted`` on the Dask cluster whose scheduler is at ``scheduler``;
    returns the report of :func:`grader.grading.batch.autograde`, with ``scheduler`` added.

    ``work_dir``: where the workers make their private folders (a path on the workers). Raises
    ClusterError, before grading anyone, when the scheduler cannot be reached, no worker joins it
    within ``wait_for_workers`` seconds, or a worker's course is not the client's.
    """
    started = time.monotonic()
    submitted, out = Path(submitted).resolve(), Path(out).resolve()
    if not submitted.is_dir():
        raise FileNotFoundError(f"{submitted} is not a folder: expected SUBMITTED/<student_id>/{assignment}/*.ipynb")
    source_notebooks = course.read_assignment(assignment=assignment)
    uid_base = batch.new_uid_base()
    jobs, skipped = batch.find_jobs(submitted, assignment, uid_base, batch.seeds_for(source_notebooks, secret_file))
    timeout, notebook_limit = batch.grading_limits(timeout, notebook_limit)
    shared = ClusterBatch(course_hash(), uid_base, work_dir and str(work_dir), timeout, notebook_limit, memory_mb,
                          warm_kernels, skip_ungraded)
    with connect(scheduler) as client, tempfile.TemporaryDirectory(prefix="gan-grading-") as local:
        workers = check_workers(client, shared.course_hash, wait_for_workers)
        log(f"Grading {len(jobs)} student(s) of '{assignment}' on the Dask cluster at {scheduler} with "
            f"{len(workers)} worker(s); cell timeout {timeout} s, notebook limit {notebook_limit} s, "
            f"memory {memory_mb} MiB")
        for problem in sorted({state["isolation"] for state in workers.values() if state["isolation"]}):
            where = sorted(address for address, state in workers.items() if state["isolation"] == problem)
            log(f"WARNING: reduced isolation on {len(where)} worker(s) ({', '.join(where)}): {problem}.")
        threaded = sorted(address for address, state in workers.items() if state["threads"] > 1)
        if threaded:
            log(f"Note: {len(threaded)} worker(s) run several threads ({', '.join(threaded)}): each student "
                "needs about one core, so start workers with --nthreads 1.")
        template = client.submit(template_gradebook, assignment, shared.work_dir, shared.course_hash,
                                 key=f"template-{secrets.token_hex(4)}", priority=1)
        out.mkdir(parents=True, exist_ok=True)
        results = grade_class(client, jobs, shared, source_notebooks, out, log)
        batch.merge_results(results, out, class_template(template, Path(local), assignment, log))
    report = batch.build_report(results, skipped, time.monotonic() - started, len(workers), out)
    report["scheduler"] = scheduler
    batch.write_reports(report, out)
    return report


def connect(scheduler):
    from distributed import Client

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, ValueError) as error:  # OSError includes the connection's TimeoutError
        raise ClusterError(f"could not reach the Dask scheduler at {scheduler}: {error}") from error


def check_workers(client, expected_hash, wait):
    """{worker address: its worker_state() and "threads"}, once every worker has shown that it holds
    the client's course; CourseMismatch otherwise."""
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError as error:
        raise ClusterError(f"no Dask worker joined the scheduler at {client.scheduler.address} "
                           f"within {wait} s") from error
    states = client.run(worker_state, on_error="return")
    problems = []
    for address, state in sorted(states.items()):
        if isinstance(state, BaseException):
            problems.append(f"Dask worker {address} could not compute its course hash ({type(state).__name__}: "
                            f"{state}). Deploy the same commit of this repository, with its environment, on "
                            "every worker.")
        elif state["course_hash"] != expected_hash:
            problems.append(mismatch_message(address, state["course_hash"], expected_hash))
    if problems:
        raise CourseMismatch("\n".join(problems))
    threads = client.nthreads()
    return {address: {**state, "threads": threads.get(address, 1)} for address, state in states.items()}


def class_template(future, folder, assignment, log):
    """The template gradebook, for OUT/gradebook.db: a worker's, else (if that task failed) built here."""
    try:
        path = folder / "gradebook.db"
        path.write_bytes(future.result())
        return path
    except Exception as error:
        log(f"No template gradebook from the workers ({type(error).__name__}: {error}); building it here.")
        return batch.build_template(folder, assignment).gradebook


def grade_class(client, jobs, shared: ClusterBatch, source_notebooks, out, log):
    """Submit the students, a few per worker thread at a time (their files wait here, not in the
    scheduler's memory), and publish each result into OUT as it comes; returns the StudentResults."""
    from distributed import as_completed

    waiting, running, results = list(reversed(jobs)), {}, []
    completed = as_completed(loop=client.loop)

    def submit_more():
        capacity = max(2, 2 * sum(client.nthreads().values()))
        while waiting and len(running) < capacity:
            job = waiting.pop()
            future = client.submit(grade_task, job, submission_files(job, source_notebooks), shared,
                                   key=f"grade-{job.student_id}-{secrets.token_hex(4)}")
            running[future] = job
            completed.add(future)

    submit_more()
    for done, future in enumerate(completed, 1):
        job = running.pop(future)
        student, contents, where = outcome(future, job, source_notebooks)
        future.release()
        submit_more()
        batch.publish(student, out, contents)
        results.append(student)
        log(batch.progress_line(done, len(jobs), student) + where)
    return results


def submission_files(job: StudentJob, notebook_ids):
    """{file name: bytes}: what the worker gets of a student's folder, the files
    StudentGrader.copy_submission takes (the assignment's notebooks and timestamp.txt)."""
    folder = Path(job.source)
    names = [f"{notebook_id}.ipynb" for notebook_id in sorted(notebook_ids)] + ["timestamp.txt"]
    return {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}


def outcome(future, job: StudentJob, source_notebooks):
    """(StudentResult, its files' contents or None, where it was graded) of a finished task: all
    zeros with the reason when the task or the grader failed."""
    from distributed import KilledWorker

    try:
        answer = future.result()
    except KilledWorker as error:
        reason = (f"the Dask workers grading this student died {error.allowed_failures + 1} time(s) "
                  "(killed, or out of memory), so it was not graded; see the workers' logs")
    except CourseMismatch as error:
        reason = f"not graded: {error}"
    except Exception as error:
        reason = f"the Dask task failed: {type(error).__name__}: {error}"
    else:
        student = batch.finished(job, StudentResult.from_dict(answer["student"]), source_notebooks)
        return student, answer["contents"], f" on {answer['worker']}"
    return StudentResult.all_zero(job, reason, source_notebooks), None, ""
