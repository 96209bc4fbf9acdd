"""Grade one student's submission in a private course folder, in a process of its own.

:func:`grade_student` starts that process (``python -m grader.grading.worker``, in a private
mount namespace where the sandbox is available). It starts the student's sandbox
(grader.grading.isolation.sandbox), whose zygote forks the kernels and the trusted checker's
builders. Per notebook: nbgrader autograde (sanitize, restore test cells, execute in the
sandboxed kernel), then the trusted re-check (grader.grading.checker, a process of its own),
then each test's score by the scoring rule (grader.grading.scoring) goes into the private
gradebook, with a note in the executed notebook where the re-check lowered it.
Last, nbgrader generate_feedback writes this student's HTML feedback. The batch
(grader.grading.batch) merges the returned StudentResult into the class gradebook.

Private folder layout (``root`` = one folder per student, under the batch's work folder)::

    root/course/gradebook.db                 copy of the template gradebook (root only)
    root/course/source/<a>/                  empty: test cells come from the gradebook
    root/course/submitted/<sid>/<a>/         the submitted notebooks (root only)
    root/course/autograded/<sid>/<a>/        where nbgrader writes the executed notebook (root only)
    root/results/                            executed notebooks, kept for the feedback (root only)
    root/sandbox/area/                       the student's home, tmp and kernels' folder (capped tmpfs)
    root/sandbox/control/zygote.sock         the zygote's socket, outside the sandbox (root only)
"""
import contextlib
import json
import logging
import os
import pickle
import select
import shutil
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import nbformat

from grader import course
from grader.exercises import loads_exercises
from grader.grading import checker, gradebook, hidden_seeds, integrity, nbgrader_bridge, scoring
from grader.grading.feedback import HiddenTestsWithheld
from grader.grading.isolation import launcher, sandbox
from grader.grading.outputs import autograde_preprocessors
from grader.grading.records import (
    CellScore,
    CourseTemplate,
    GradingSettings,
    NotebookResult,
    StudentJob,
    StudentResult,
)

LOG = logging.getLogger("grader.worker")
MODULE = "grader.grading.worker"  # what a student's grading process runs with python -m
TIMING = "timing:"  # marks the profile lines in a student's log
CHECKER_HOME = "/checker"  # inside the checker's own bwrap: a small tmpfs, nothing else writable


def describe_nbgrader_failure(records, watchdog_reason):
    """One sentence on why nbgrader could not finish a notebook."""
    if watchdog_reason:
        return watchdog_reason
    text = "\n".join(message for _, message in records)
    if "DeadKernelError" in text or "Kernel died" in text:
        return ("the notebook's kernel died while it ran (os._exit, exit(), a crash such as "
                "a segfault, or running out of memory), so the rest of the notebook did not run")
    if "UnresponsiveKernelError" in text:
        return "the kernel stopped responding (an endless loop that ignores interrupts?)"
    if "Timeout" in text:
        return "a cell ran past the time limit"
    for _, message in reversed(records):
        lines = [line for line in message.strip().splitlines() if line.strip()]
        if lines and "Error" in lines[-1]:
            return f"nbgrader could not grade the notebook: {lines[-1].strip()}"
    return "nbgrader could not grade the notebook (see the grader log)"


def restored_cells(submitted, release):
    """Student-readable notes on the locked cells nbgrader puts back (edited or deleted).

    Compared with the student version, not with nbgrader's checksums: those differ for
    every test cell with hidden tests, which is not the student's doing.
    """
    locked = course.cells_by_grade_id(release.cells, where=course.is_locked)
    found = course.cells_by_grade_id(submitted.cells)
    notes = []
    for grade_id, cell in locked.items():
        if grade_id not in found:
            notes.append(f"locked cell '{grade_id}' had been deleted; it was put back")
        elif found[grade_id].source.strip() != cell.source.strip():
            notes.append(f"locked cell '{grade_id}' had been edited; it was restored from the original")
    return notes


class StudentGrader:
    """Grades one student, in that student's own grading process (see :func:`main`)."""

    def __init__(self, settings: GradingSettings, template: CourseTemplate, job: StudentJob):
        self.settings = settings
        self.source_notebooks = settings.source_notebooks  # {notebook_id: SourceNotebook}
        self.template = template
        self.job = job
        self.contained = settings.isolation_note is None
        self.uid = job.uid if self.contained else None
        self.root = Path(settings.work_root) / f"student-{job.index:05d}"
        if self.root.exists():
            shutil.rmtree(self.root)
        sandbox.make_private_dir(self.root)
        self.sandbox = sandbox.StudentSandbox(
            self.root / "sandbox", self.uid, hide=settings.hide, contained=self.contained,
            warm_kernels=settings.warm_kernels, log_path=str(self.root / "zygote.log"),
            memory_bytes=settings.memory_mb * 2**20)
        self.config = nbgrader_bridge.load_config(**{
            "Execute.timeout": settings.timeout,
            "Execute.kernel_name": launcher.KERNEL_NAME,
            "Execute.interrupt_on_timeout": True,
            "OverwriteCells.add_missing_cells": True,
            "Autograde.create_student": True,
            # outputs capped in bytes while the kernel runs and before the scores are read (grader.grading.outputs)
            # the hidden tests run in the trusted checker only: the student's kernel never holds their source
            "Autograde.autograde_preprocessors": autograde_preprocessors(before_execute=[HiddenTestsWithheld]),
            "CourseDirectory.course_id": course.COURSE_ID,
            # Unix sockets in the student's area: a kernel in its own network namespace has no TCP.
            "KernelManager.transport": "ipc",
            # a kernel's code can wedge the heartbeat; stopping the client must not wait for it
            "KernelManager.client_factory": "grader.grading.isolation.kernel_client.GradingKernelClient",
            "KernelManager.ip": os.path.join(self.sandbox.area, "run", "kernel"),
        })
        jupyter_path = self.root / "jupyter"
        self.launch_file = jupyter_path / "launch.json"
        launcher.install_kernelspec(str(jupyter_path), self.launch_file)
        os.environ["JUPYTER_PATH"] = str(jupyter_path)
        os.environ["JUPYTER_RUNTIME_DIR"] = str(sandbox.make_private_dir(self.root / "runtime"))
        os.environ["MPLBACKEND"] = "Agg"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # this student's seeds (never the secret): in the zygote's and the checker's environments
        os.environ.update(hidden_seeds.seeds_environment(dict(job.hidden_seeds)))
        self.watchdog = sandbox.Watchdog(settings.memory_mb * 2**20, sandbox=self.sandbox)

    # ------------------------------------------------------------------ processes
    def student_processes(self):
        return self.sandbox.processes()

    def stop_student_processes(self):
        self.sandbox.stop_processes()

    def fresh_sandbox(self):
        """A running sandbox with an empty home, ready for the next notebook or re-check."""
        self.stop_student_processes()
        self.sandbox.ensure_running()  # student code may have killed its zygote
        self.sandbox.wipe()
        launcher.write_launch_file(self.launch_file, self.sandbox)

    # ------------------------------------------------------------------ one student
    def grade(self) -> StudentResult:
        job = self.job
        started = time.monotonic()
        paths = self.prepare_folders(job)
        student = StudentResult(job.student_id, job.assignment_id, timestamp=paths["timestamp"],
                                isolation_note=self.settings.isolation_note)
        self.ensure_submission(paths, job)
        try:
            with self.timed("sandbox start (TensorFlow imported in the zygote)"):
                self.sandbox.start()
            if self.contained and self.sandbox.cgroup_problem:
                student.isolation_note = sandbox.cgroup_note(self.sandbox.cgroup_problem)
            for notebook_id in sorted(self.source_notebooks):
                student.notebooks[notebook_id], flags = self.grade_notebook(paths, job, notebook_id)
                student.flags.extend(flags)
        finally:
            self.sandbox.close()
        self.publish_notebooks(paths, student)
        self.save_scores(paths, student)
        with self.timed("feedback"):
            self.generate_feedback(paths, job, student)
        student.seconds = round(time.monotonic() - started, 2)
        LOG.info("%s %.2f s: whole student", TIMING, student.seconds)
        return student

    @contextlib.contextmanager
    def timed(self, phase):
        """Log how long ``phase`` took (the per-student profile that benchmarks/bench_autograde.py prints)."""
        started = time.monotonic()
        try:
            yield
        finally:
            LOG.info("%s %.2f s: %s", TIMING, time.monotonic() - started, phase)

    def prepare_folders(self, job: StudentJob):
        sid, aid = job.student_id, job.assignment_id
        course_root = self.root / "course"
        paths = {
            "root": self.root, "course": course_root,
            "submitted": course_root / "submitted" / sid / aid,
            "autograded": course_root / "autograded" / sid / aid,
            "feedback": course_root / "feedback" / sid / aid,
            "results": self.root / "results",
        }
        for folder in (course_root / "source" / aid, paths["submitted"], paths["autograded"], paths["results"]):
            sandbox.make_private_dir(folder)
        self.template.copy_gradebook(course_root / "gradebook.db")  # checked against its checksum
        os.chmod(course_root / "gradebook.db", 0o600)
        paths["timestamp"] = self.copy_submission(Path(job.source), paths["submitted"])
        return paths

    def copy_submission(self, source, target):
        """Copy the known notebooks (and timestamp.txt) only: a submitted grader/ or numpy.py
        must not shadow the real packages in the kernel's working folder."""
        for notebook_id in self.source_notebooks:
            path = source / f"{notebook_id}.ipynb"
            if path.is_file():
                shutil.copyfile(path, target / path.name)
        stamp = source / "timestamp.txt"
        if stamp.is_file():
            shutil.copyfile(stamp, target / "timestamp.txt")
            return stamp.read_text().strip() or None
        return None

    def ensure_submission(self, paths, job: StudentJob):
        with gradebook.open_gradebook(paths["course"] / "gradebook.db") as private:
            gradebook.ensure_submission(private, job.student_id, job.assignment_id)

    # ------------------------------------------------------------------ one notebook
    def grade_notebook(self, paths, job: StudentJob, notebook_id) -> tuple[NotebookResult, list[str]]:
        """The notebook's result, and the flags its code raised (for a human look)."""
        source_notebook = self.source_notebooks[notebook_id]
        result = NotebookResult()
        submitted = paths["submitted"] / f"{notebook_id}.ipynb"
        notebook, problem = self.read_submission(submitted)
        if problem:
            result.status, result.problems = problem[0], [problem[1]]
            result.zero_tests(source_notebook, problem[1])
            self.write_placeholder(paths, notebook_id, None, problem[1])
            return result, []
        flags = [f"{notebook_id} cell {index}: {reason}" for index, reason in integrity.scan_notebook(notebook)]
        result.problems.extend(restored_cells(notebook, self.release_notebook(notebook_id)))
        if not source_notebook.tests:  # e.g. the training notebook: nothing to score
            return self.run_ungraded(paths, job, notebook_id, notebook, result), flags
        with self.timed(f"{notebook_id} nbgrader"):
            nbgrader_scores = self.run_nbgrader(paths, job, notebook_id, result,
                                                files=self.loaded_notebooks(paths, notebook_id))
        if not (paths["results"] / f"{notebook_id}.ipynb").exists():
            self.write_placeholder(paths, notebook_id, notebook, result.problems[-1])
        with self.timed(f"{notebook_id} trusted checker"):
            verdicts = self.run_trusted(paths, source_notebook, notebook)
        self.reconcile(source_notebook, nbgrader_scores, verdicts, result)
        self.annotate(paths["results"] / f"{notebook_id}.ipynb", result)
        return result, flags

    def loaded_notebooks(self, paths, notebook_id):
        """The student's other submitted notebooks, for a graded notebook whose release version loads them
        (07's lab reads 01-05); none for the others."""
        if not loads_exercises(self.release_notebook(notebook_id)):
            return []
        return [other for other in paths["submitted"].glob("*.ipynb") if other.stem != notebook_id]

    def run_ungraded(self, paths, job, notebook_id, notebook, result):
        """A notebook without graded tests: run by nbgrader for the feedback (unless
        --skip-ungraded), next to the student's own exercise notebooks, which it may load."""
        if self.settings.skip_ungraded:
            self.write_placeholder(paths, notebook_id, notebook, "it has no graded tests, so it was not run",
                                   note="was not run: it has no graded tests (--skip-ungraded)")
            return result
        others = [other for other in paths["submitted"].glob("*.ipynb") if other.stem != notebook_id]
        with self.timed(f"{notebook_id} nbgrader"):
            self.run_nbgrader(paths, job, notebook_id, result, files=others)
        if not (paths["results"] / f"{notebook_id}.ipynb").exists():
            self.write_placeholder(paths, notebook_id, notebook, result.problems[-1])
        return result

    def read_submission(self, path):
        """(notebook, None), or (None, (status, reason)) when it cannot be graded."""
        if not path.exists():
            return None, ("missing", f"{path.name} was not submitted")
        try:
            notebook = nbformat.read(str(path), as_version=4)
            nbformat.validate(notebook)
            return notebook, None
        except Exception as error:  # corrupt JSON, wrong schema, unreadable bytes...
            summary = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
            return None, ("unreadable", f"{path.name} could not be read as a notebook "
                                        f"({type(error).__name__}: {summary}); was it edited outside Jupyter?")

    def run_nbgrader(self, paths, job: StudentJob, notebook_id, result: NotebookResult, files=()):
        """nbgrader autograde for one notebook, its kernel in the student's sandbox with ``files``
        in its current folder; returns nbgrader's scores and comments by grade_id."""
        from nbgrader.converters import Autograde

        self.fresh_sandbox()
        for path in files:  # into a folder the student can write: never through a planted symlink
            self.sandbox.put_file("work", path.name, path.read_bytes())
        coursedir = nbgrader_bridge.course_directory(
            paths["course"], self.config, assignment_id=job.assignment_id,
            student_id=job.student_id, notebook_id=notebook_id,
            db_url=f"sqlite:///{paths['course'] / 'gradebook.db'}",
        )
        self.watchdog.arm(self.student_processes, self.settings.notebook_limit, f"{notebook_id}.ipynb")
        with nbgrader_bridge.LogCapture() as log:
            try:
                nbgrader_bridge.run_converter(Autograde, coursedir, self.config, log=log, force=True)
                failed = False
            except Exception:
                failed = True
        self.watchdog.disarm()
        reason = self.watchdog.reason
        self.stop_student_processes()
        executed = paths["autograded"] / f"{notebook_id}.ipynb"
        if failed or reason or not executed.exists():
            result.status = "crashed"
            result.problems.append(describe_nbgrader_failure(log.records, reason))
        if executed.exists() and not failed:
            shutil.move(str(executed), paths["results"] / executed.name)
        return self.read_scores(paths, job, notebook_id)

    def read_scores(self, paths, job: StudentJob, notebook_id):
        with gradebook.open_gradebook(paths["course"] / "gradebook.db") as private:
            notebook = private.find_submission_notebook(notebook_id, job.assignment_id, job.student_id)
            scores = {grade.name: grade.auto_score for grade in notebook.grades}
            comments = {comment.name: comment.auto_comment for comment in notebook.comments}
        return {"scores": scores, "comments": comments}

    def run_trusted(self, paths, source_notebook, notebook):
        """The trusted checker's verdicts on ``notebook``'s answers, under the tests of ``source_notebook``:
        the answers run in a builder in the student's sandbox, the tests in a checker process of
        their own (grader.grading.checker) that runs no student code, under a uid of its own."""
        cells = checker.request_cells(source_notebook, notebook)
        self.fresh_sandbox()
        self.watchdog.arm(self.student_processes, self.settings.notebook_limit, "the trusted re-check")
        try:
            response = self.run_checker(cells)
        except Exception as error:  # the sandbox itself failed: report, do not guess
            LOG.warning("trusted re-check failed: %s", error)
            response = {"records": [], "exit": f"re-check failure: {error}", "timed_out": False}
        self.watchdog.disarm()
        self.stop_student_processes()
        response["watchdog"] = self.watchdog.reason
        return response

    def run_checker(self, cells):
        """Start the checker with a connection to a new builder; its verdict lines until it ends."""
        timeout = self.settings.timeout
        connection = checker.connect_builder(self.sandbox.socket_path, self.sandbox.inside(self.sandbox.workdir),
                                             timeout)
        command = [sys.executable, "-m", checker.MODULE, str(connection.fileno()), str(timeout)]
        cgroup, env = None, dict(os.environ)
        if self.contained:
            arguments = sandbox.bwrap_arguments(checker.checker_uid(self.uid), None, self.settings.hide)
            at = arguments.index("setpriv")  # a scratch folder of its own, the only writable place
            command = [*arguments[:at], "--perms", "1777", "--tmpfs", CHECKER_HOME, *arguments[at:], *command]
            env = sandbox.inside_environment(home=CHECKER_HOME)
            env["TMPDIR"] = CHECKER_HOME
            cgroup = self.sandbox.checker_cgroup(self.settings.memory_mb * 2**20)
        with open(self.root / "checker.log", "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                                       pass_fds=[connection.fileno()], start_new_session=True,
                                       preexec_fn=cgroup.join if cgroup else None)
        connection.close()  # the checker holds it now
        process.stdin.write(json.dumps(cells).encode())
        process.stdin.close()
        tests = sum(cell["kind"] == "test" for cell in cells)
        deadline = time.monotonic() + timeout * (tests + 2) + 60
        records, buffer, timed_out = [], b"", False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([process.stdout], [], [], min(left, 1.0))
                if not ready:
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict):
                        records.append(record)
        finally:
            sandbox.kill_process_group(process.pid)
            code = process.wait()
            if cgroup is not None:
                cgroup.kill()
        problems = [record["problem"] for record in records if "problem" in record]
        if problems:
            LOG.warning("trusted re-check: %s", problems[0])
        return {"records": records, "timed_out": timed_out, "exit": checker.exit_description(code)}

    def reconcile(self, source_notebook, nbgrader, verdicts, result: NotebookResult):
        """Each test's score by the scoring rule (grader.grading.scoring), with the reason if lowered."""
        records = verdicts["records"]
        tests = {r["test"]: r for r in records if "test" in r}
        answers = {r["answer"]: r for r in records if "answer" in r}
        setup_error = next((r["setup_error"] for r in records if "setup_error" in r), None)
        answer_notes = self.answer_notes(answers)
        result.comments = nbgrader["comments"]
        if setup_error:
            result.problems.append(f"grader problem: a setup cell failed in the re-check ({setup_error})")
        for test in source_notebook.tests:
            auto = nbgrader["scores"].get(test.grade_id)
            verdict = self.recheck_verdict(tests.get(test.grade_id), verdicts, answer_notes)
            scored = scoring.score_test(test.points, auto, verdict)
            if scored.lowered_by_recheck:
                result.problems.append(f"{test.grade_id}: score lowered by the clean re-check: "
                                       f"{verdict.reason.splitlines()[0]}")
            record = tests.get(test.grade_id) or {}
            result.tests[test.grade_id] = CellScore(scored.score, test.points, scored.reason, nbgrader=auto,
                                                    recheck="passed" if scored.recheck_passed else "failed",
                                                    check=record.get("check"), mistake=record.get("mistake"))

    @staticmethod
    def recheck_verdict(record, verdicts, answer_notes) -> scoring.Verdict:
        """The trusted checker's record for one test (None: none came back) as a scoring.Verdict."""
        Outcome = scoring.Outcome
        if record is None:
            if verdicts.get("watchdog"):
                outcome, why = Outcome.PROBLEM, verdicts["watchdog"]
            elif verdicts.get("timed_out"):
                outcome, why = Outcome.TIMEOUT, "the re-check ran out of time"
            else:
                outcome, why = Outcome.MISSING, f"the re-check process ended early ({verdicts.get('exit')})"
        elif record["passed"]:
            return scoring.Verdict(Outcome.PASSED)
        elif record.get("outcome") == "timeout":
            outcome, why = Outcome.TIMEOUT, record.get("error") or "the re-check ran out of time"
        elif record.get("outcome") == "problem":
            outcome, why = Outcome.PROBLEM, record.get("error") or "the re-check could not finish"
        else:
            outcome, why = Outcome.FAILED, record.get("error") or "the check failed"
        if answer_notes:
            why = f"{why} ({answer_notes})"
        return scoring.Verdict(outcome, why, hidden=bool(record and record.get("hidden")))

    @staticmethod
    def answer_notes(answers):
        notes = []
        for grade_id, record in answers.items():
            if record.get("error"):
                notes.append(f"running answer cell '{grade_id}' failed: {record['error']}")
        return "; ".join(notes)

    # ------------------------------------------------------------------ notebooks out
    def release_notebook(self, notebook_id):
        return nbformat.read(str(Path(self.template.release) / f"{notebook_id}.ipynb"), as_version=4)

    def write_placeholder(self, paths, notebook_id, submitted, reason, note=None):
        """A notebook for the feedback when there is no executed one: the release version,
        with the student's answer cells if we have them, and the reason on top."""
        release = self.release_notebook(notebook_id)
        answers = course.cells_by_grade_id(submitted.cells, where=course.is_solution) if submitted else {}
        for cell in release.cells:
            if course.grade_id(cell) in answers:
                cell.source = answers[course.grade_id(cell)].source
        text = (f"this notebook {note}." if note else
                f"this notebook could not be run: {reason}. Every test in it scored 0.")
        release.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Autograder:** {text}"))
        nbformat.write(release, str(paths["results"] / f"{notebook_id}.ipynb"))

    def annotate(self, path, result: NotebookResult):
        """Add the re-check's reason under each test cell whose score it lowered (a hidden test's failure
        included: the notebook's run never saw it)."""
        lowered = {gid: test.reason for gid, test in result.tests.items()
                   if test.reason and test.reason.startswith((scoring.IN_NOTEBOOK_ONLY, scoring.HIDDEN_FAILED))}
        if not lowered or not path.exists():
            return
        notebook = nbformat.read(str(path), as_version=4)
        for cell in notebook.cells:
            grade_id = course.grade_id(cell)
            if grade_id in lowered and cell.cell_type == "code":
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"[autograder] 0 points: {lowered[grade_id]}\n"))
        os.chmod(path, 0o644)
        nbformat.write(notebook, str(path))

    def publish_notebooks(self, paths, student):
        """Swap the kernel's working folder for a root-owned one holding only the results."""
        scratch = paths["root"] / "scratch"
        shutil.move(str(paths["autograded"]), scratch)
        os.makedirs(paths["autograded"])
        for notebook_id in student.notebooks:
            shutil.copyfile(paths["results"] / f"{notebook_id}.ipynb",
                            paths["autograded"] / f"{notebook_id}.ipynb")

    def save_scores(self, paths, student: StudentResult):
        with gradebook.open_gradebook(paths["course"] / "gradebook.db") as private:
            gradebook.apply_student_result(private, student)

    def generate_feedback(self, paths, job: StudentJob, student: StudentResult):
        from nbgrader.converters import GenerateFeedback

        from grader.grading.feedback import FeedbackExporter, feedback_preprocessors

        coursedir = nbgrader_bridge.course_directory(
            paths["course"], self.config, assignment_id=job.assignment_id, student_id=job.student_id,
            db_url=f"sqlite:///{paths['course'] / 'gradebook.db'}")
        with nbgrader_bridge.LogCapture() as log:
            try:
                nbgrader_bridge.run_converter(GenerateFeedback, coursedir, self.config, log=log, force=True,
                                              exporter_class=FeedbackExporter, preprocessors=feedback_preprocessors())
            except Exception as error:
                LOG.warning("feedback for %s failed: %s", job.student_id, error)
        for notebook_id, result in student.notebooks.items():
            result.autograded = str(paths["autograded"] / f"{notebook_id}.ipynb")
            html = paths["feedback"] / f"{notebook_id}.html"
            result.feedback = str(html) if html.exists() else None
            if not html.exists():
                result.problems.append("no feedback could be generated for this notebook")


# ---------------------------------------------------------------------- one student, one process
def grade_student(settings: GradingSettings, job: StudentJob, template: CourseTemplate) -> StudentResult:
    """Grade one student in a grading process of its own (the unit of work of the local pool and
    of a Dask task); waits for it and returns its result.

    Where the sandbox is available the process runs in a private mount namespace
    (``unshare --mount``), where it mounts the student's capped tmpfs; everything it starts
    dies with it. Never raises for anything the student's code does; a failure of the grader
    itself comes back as ``internal_error``. The result's ``autograded`` and ``feedback``
    paths lie under ``settings.work_root`` until the caller copies them out.
    """
    work_root = Path(settings.work_root)
    job_file, result_file = work_root / f"job-{job.index:05d}.pickle", work_root / f"result-{job.index:05d}.pickle"
    log_file = work_root / f"student-{job.index:05d}.log"
    with open(job_file, "wb") as handle:
        pickle.dump((settings, job, template), handle)
    os.chmod(job_file, 0o600)
    command = [sys.executable, "-m", MODULE, str(job_file), str(result_file)]
    if settings.isolation_note is None:
        command = ["unshare", "--mount", "--propagation", "private", "--", *command]
    limit = len(settings.source_notebooks) * (2 * settings.notebook_limit + 60) + 300
    with open(log_file, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        try:
            code = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            sandbox.kill_process_group(process.pid)
            code = process.wait()
    try:
        with open(result_file, "rb") as handle:
            return pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError):
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        return StudentResult(job.student_id, job.assignment_id, internal_error=(
            f"the student's grading process ended without a result (exit status {code}, limit {limit} s)\n{tail}"))


def exit_with_parent():
    """Stop this process (and so its sandbox, which dies with it) when the process that started
    it is gone: a killed pool or Dask worker leaves nothing running."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(argv):
    """``python -m grader.grading.worker JOB RESULT``: grade the pickled (settings, job, template)."""
    import warnings

    import psutil

    exit_with_parent()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # to the student's log (stderr)
    # nbgrader's gradebook code trips SQLAlchemy 2's harmless autoflush warnings on every student.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    with open(argv[0], "rb") as handle:
        settings, job, template = pickle.load(handle)
    LOG.info("%s %.2f s: grading process start-up (Python, nbgrader)", TIMING,
             time.time() - psutil.Process().create_time())
    try:
        result = StudentGrader(settings, template, job).grade()
    except Exception:
        result = StudentResult(job.student_id, job.assignment_id, internal_error=traceback.format_exc())
    partial = argv[1] + ".partial"
    with open(partial, "wb") as handle:
        pickle.dump(result, handle)
    os.replace(partial, argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
