"""`python -m grader autograde SUBMITTED --out OUT`: grade a class in parallel, safely.

1. Find ``SUBMITTED/<student_id>/<assignment_id>/*.ipynb``; a student without the
   assignment's folder still gets a row of zeros.
2. Build a template course once: nbgrader generate_assignment from ``solutions/`` gives the
   gradebook describing every cell (and the student version, used for placeholders).
3. ``--workers`` students are graded at once, each in a grading process of its own
   (grader.grading.worker) with private folders, the student's code in a bubblewrap sandbox of
   its own (grader.grading.isolation.sandbox) and re-checked by the trusted checker
   (grader.grading.checker). With ``--scheduler`` the students are tasks on a
   Dask cluster instead (grader.grading.cluster).
4. The results are merged into ``OUT/gradebook.db`` (nbgrader's Gradebook API), the executed
   notebooks and feedback are copied to ``OUT/autograded`` and ``OUT/feedback``, and
   ``OUT/grades.csv``, ``OUT/report.json`` and ``OUT/report.txt`` are written.
"""
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader import course
from grader.grading import gradebook as gradebooks
from grader.grading import hidden_seeds, nbgrader_bridge, worker
from grader.grading.isolation import sandbox
from grader.grading.records import CourseTemplate, GradingSettings, StudentJob, StudentResult, to_json

VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def find_jobs(submitted, assignment, uid_base=None, seeds=None):
    """(jobs, skipped): one job per student folder, the n-th graded as uid ``uid_base + n`` (with
    a uid base) and with the hidden checks' seeds ``seeds(student_id)`` ({grade_id: seed}, with a
    ``seeds``); skipped lists unusable folder names."""
    jobs, skipped = [], []
    for folder in sorted(Path(submitted).iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        if not VALID_ID.match(folder.name):
            skipped.append(f"{folder.name!r}: not a usable student id (letters, digits, _ . @ - only)")
            continue
        index = len(jobs)
        uid = None if uid_base is None else uid_base + index
        drawn = tuple(sorted(seeds(folder.name).items())) if seeds else ()
        jobs.append(StudentJob(folder.name, assignment, str(folder / assignment), index=index, uid=uid,
                               hidden_seeds=drawn))
    return jobs, skipped


def build_template(work_root, assignment) -> CourseTemplate:
    template = Path(work_root) / "template"
    template.mkdir(mode=0o700)
    db = template / "gradebook.db"
    nbgrader_bridge.generate_release(template / "release", db, assignment)
    return CourseTemplate(gradebook=str(db), release=str(template / "release" / assignment),
                          sha256=hashlib.sha256(db.read_bytes()).hexdigest())


def new_uid_base():
    """The first uid of a batch's students: random, far above any real account's."""
    return 1_000_000 + secrets.randbelow(1_000_000_000)


def grading_limits(timeout=None, notebook_limit=None):
    """(seconds per cell, seconds per notebook): the given ones, else nbgrader_config.py's timeout
    and max(600, 5 x timeout)."""
    timeout = timeout or int(nbgrader_bridge.load_config().Execute.get("timeout", 120))
    return timeout, notebook_limit or max(600, 5 * timeout)


def seeds_for(source_notebooks, secret_file=None):
    """student_id -> {grade_id: seed}, from the course secret in ``secret_file`` (made if absent)."""
    secret = hidden_seeds.load_secret(secret_file)
    return lambda student_id: hidden_seeds.student_seeds(secret, student_id, source_notebooks)


def grading_settings(work_root, source_notebooks, uid_base, also_hide=(), **options) -> GradingSettings:
    """Settings for grading with private folders under ``work_root``: student code must see neither
    the reference solutions, nor the repository's .git and tests, nor ``also_hide`` (the class's
    submissions, OUT). ``options``: the other fields of GradingSettings (timeout, memory_mb...)."""
    root = course.course_root()
    hidden = [course.solutions_dir(), root / ".git", root / "tests", *also_hide]
    return GradingSettings(work_root=str(work_root), source_notebooks=source_notebooks, uid_base=uid_base,
                           hide=paths_to_hide(hidden, work_root),
                           isolation_note=sandbox.isolation_note(sandbox.containment_problem()), **options)


def paths_to_hide(candidates, work_root):
    work_root = Path(work_root).resolve()
    hide = []
    for path in candidates:
        path = Path(path).resolve()
        if path.is_dir() and not work_root.is_relative_to(path):
            hide.append(str(path))
    return hide


def publish(student: StudentResult, out, contents=None):
    """Copy one student's executed notebooks and feedback into OUT; with ``contents``
    ({notebook_id: {kind: bytes}}, from a Dask worker) the files' bytes come from there,
    the paths in ``student`` giving only their names."""
    for kind in ("autograded", "feedback"):
        target = out / kind / student.student_id / student.assignment_id
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for notebook_id, result in student.notebooks.items():
            source = getattr(result, kind)
            if not source:
                continue
            copy = target / Path(source).name
            if contents is not None:
                data = contents.get(notebook_id, {}).get(kind)
                if data is None:
                    continue
                copy.write_bytes(data)
            elif Path(source).exists():
                shutil.copyfile(source, copy)
            else:
                continue
            setattr(result, kind, str(copy.relative_to(out)))


def autograde(submitted, out, workers=None, timeout=None, notebook_limit=None, memory_mb=4096,
              assignment=course.ASSIGNMENT, work_dir=None, keep_work=False, warm_kernels=True, skip_ungraded=False,
              log=print, secret_file=None):
    """Grade every student under ``submitted``; returns the report (see :func:`build_report`;
    also written to OUT/report.json). ``secret_file``: the course secret of the hidden inputs
    (default: grader.grading.hidden_seeds.default_secret_file())."""
    started = time.monotonic()
    submitted, out = Path(submitted).resolve(), Path(out).resolve()
    if not submitted.is_dir():
        raise FileNotFoundError(f"{submitted} is not a folder: expected SUBMITTED/<student_id>/{assignment}/*.ipynb")
    source_notebooks = course.read_assignment(assignment=assignment)
    uid_base = new_uid_base()
    secret_file = secret_file or hidden_seeds.default_secret_file()
    jobs, skipped = find_jobs(submitted, assignment, uid_base, seeds_for(source_notebooks, secret_file))
    timeout, notebook_limit = grading_limits(timeout, notebook_limit)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    out.mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix="gan-grading-", dir=work_dir))
    os.chmod(work_root, 0o711)
    secret_folder = Path(secret_file).resolve().parent
    hide = [out, submitted] + ([] if course.course_root().resolve().is_relative_to(secret_folder) else [secret_folder])
    settings = grading_settings(work_root, source_notebooks, uid_base, also_hide=hide, timeout=timeout,
                                notebook_limit=notebook_limit, memory_mb=memory_mb, warm_kernels=warm_kernels,
                                skip_ungraded=skip_ungraded)
    log(f"Grading {len(jobs)} student(s) of '{assignment}' with {workers} worker(s); "
        f"cell timeout {timeout} s, notebook limit {notebook_limit} s, memory {memory_mb} MiB")
    if settings.isolation_note:
        log(f"WARNING: reduced isolation: {settings.isolation_note}.")
    results = []
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="student") as pool:
            template = build_template(work_root, assignment)
            futures = {pool.submit(worker.grade_student, settings, job, template): job for job in jobs}
            for done, future in enumerate(as_completed(futures), 1):
                student = finished(futures[future], future.result(), source_notebooks)
                publish(student, out)
                results.append(student)
                log(progress_line(done, len(jobs), student))
        template.verified_gradebook()  # no student wrote to it
        merge_results(results, out, template.gradebook)
    finally:
        if not keep_work:
            shutil.rmtree(work_root, ignore_errors=True)
    report = build_report(results, skipped, time.monotonic() - started, workers, out)
    write_reports(report, out)
    return report


def finished(job: StudentJob, student: StudentResult, source_notebooks):
    """The student's result as it goes into OUT: all zeros, with the reason, if the grader failed."""
    if student.internal_error:
        reason = "internal grader error: " + student.internal_error.strip().splitlines()[-1]
        return StudentResult.all_zero(job, reason, source_notebooks)
    return student


def merge_results(results, out, template_db):
    """Write every student's scores into OUT/gradebook.db and OUT/grades.csv."""
    database = out / "gradebook.db"
    if not database.exists():
        shutil.copyfile(template_db, database)
        os.chmod(database, 0o644)
    with gradebooks.open_gradebook(database) as gradebook:
        for student in sorted(results, key=lambda s: s.student_id):
            gradebooks.apply_student_result(gradebook, student)
    gradebooks.write_grades_csv(database, out / "grades.csv")


def progress_line(done, total, student: StudentResult):
    score, maximum = student.totals()
    problems = student.problem_count()
    extra = f", {problems} problem(s)" if problems else ""
    seconds = f" in {student.seconds:.0f} s" if student.seconds is not None else ""
    return f"[{done}/{total}] {student.student_id}: {score:g}/{maximum:g}{extra}{seconds}"


def build_report(results, skipped, seconds, workers, out):
    """The batch's report: a dict of plain values and StudentResults (see :func:`write_reports`)."""
    students = sorted(results, key=lambda s: s.student_id)
    problems = []
    for student in students:
        for notebook_id, result in sorted(student.notebooks.items()):
            for problem in result.problems:
                problems.append(f"{student.student_id}/{notebook_id}: {problem}")
    return {
        "graded": len(students), "seconds": round(seconds, 1), "workers": workers,
        "seconds_per_student": round(seconds / max(1, len(students)), 2),
        "skipped_folders": skipped, "problems": problems,
        "isolation_notes": sorted({s.isolation_note for s in students if s.isolation_note}),
        "flags": [f"{s.student_id}/{flag}" for s in students for flag in s.flags],
        "students": students, "out": str(out),
    }


def write_reports(report, out):
    (out / "report.json").write_text(to_json(report) + "\n")
    (out / "report.txt").write_text(summary_text(report, details=True))


def summary_text(report, details=False):
    where = f"on the Dask cluster at {report['scheduler']} with " if report.get("scheduler") else ""
    lines = [f"Graded {report['graded']} student(s) in {report['seconds']:.0f} s "
             f"({report['seconds_per_student']:.1f} s per student, {where}{report['workers']} worker(s))."]
    for student in report["students"]:
        score, maximum = student.totals()
        lines.append(f"  {student.student_id:<20} {score:>5g} / {maximum:g}")
        if details:
            for notebook_id, result in sorted(student.notebooks.items()):
                for grade_id, test in result.tests.items():
                    if test.reason:
                        reason = test.reason.strip().splitlines()[0]
                        lines.append(f"      {notebook_id} {grade_id}: {test.score:g}/{test.max_score:g} - {reason}")
    for note in report.get("isolation_notes", []):
        lines.append(f"WARNING: reduced isolation: {note}.")
    if report["skipped_folders"]:
        lines.append("Skipped folders: " + "; ".join(report["skipped_folders"]))
    if report["problems"]:
        lines.append(f"{len(report['problems'])} notebook problem(s):")
        lines.extend("  " + problem for problem in report["problems"])
    else:
        lines.append("No problems.")
    if report["flags"]:
        lines.append(f"{len(report['flags'])} code pattern(s) flagged for a human look (scores unaffected):")
        lines.extend("  " + flag for flag in report["flags"])
    out = report["out"]
    lines.append(f"Grades: {out}/grades.csv  Gradebook: {out}/gradebook.db  Feedback: {out}/feedback/  "
                 f"Details: {out}/report.txt")
    return "\n".join(lines) + "\n"


def exit_status(report):
    return EXIT_PROBLEMS if report["problems"] or report["skipped_folders"] else EXIT_OK


def merge_shards(shard_outs, out):
    """`python -m grader merge`: combine the OUT folders of several shards into one."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    database = out / "gradebook.db"
    students = []
    for shard in map(Path, shard_outs):
        shard_db = shard / "gradebook.db"
        if not shard_db.exists():
            raise FileNotFoundError(f"{shard_db} is missing: expected the OUT folder of an autograde run")
        if not database.exists():
            shutil.copyfile(shard_db, database)
            with gradebooks.open_gradebook(database) as gradebook:
                for student in list(gradebook.students):
                    gradebook.remove_student(student.id)
        students.extend(gradebooks.read_student_results(shard_db))
        for kind in ("autograded", "feedback"):
            if (shard / kind).is_dir():
                shutil.copytree(shard / kind, out / kind, dirs_exist_ok=True)
    seen = {}
    for student in students:
        key = (student.student_id, student.assignment_id)
        if key in seen:
            raise ValueError(f"student {key[0]} appears in two shards; each student must be graded in one shard only")
        seen[key] = student
    with gradebooks.open_gradebook(database) as gradebook:
        for student in students:
            gradebooks.apply_student_result(gradebook, student)
    gradebooks.write_grades_csv(database, out / "grades.csv")
    return len(students)

