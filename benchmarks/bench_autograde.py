"""Seconds per student: `python -m grader autograde` against plain serial `nbgrader autograde`.

    .venv/bin/python benchmarks/bench_autograde.py [--students 6] [--workers N] [--keep DIR]

Both grade the same synthetic batch (the demo class's submissions, cycled) and both end with
HTML feedback, since ours writes it too:

* baseline: a plain nbgrader course folder (this repository's nbgrader_config.py, the
  solutions as source), `nbgrader generate_assignment`, then `nbgrader autograde` (one
  student after another, stock kernel, no sandbox, no re-check) and `nbgrader generate_feedback`;
* ours: `python -m grader autograde SUBMITTED --out OUT --workers N` (sandboxed kernels,
  clean-room re-check, merged gradebook, grades.csv, feedback).

It prints both timings side by side and whether the two agree on every student's total.
"""
import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import course
from grader.grading import demo

REPO = course.course_root()

BIN = Path(sys.executable).parent


def build_batch(folder, count):
    """``count`` submissions: the demo class's students, cycled, under new ids."""
    demo_folder = Path(folder) / "demo"
    students = demo.build_class(demo_folder)
    submitted = Path(folder) / "submitted"
    for index in range(count):
        source, _ = students[index % len(students)]
        shutil.copytree(demo_folder / source, submitted / f"s{index:03d}_{source}")
    return submitted


def run(command, cwd=None, env=None):
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return seconds


def baseline(folder, submitted):
    """Plain nbgrader in its own course folder; returns (seconds, {student: total})."""
    root = Path(folder) / "nbgrader-course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(course.solutions_dir(), root / "solutions")
    shutil.copytree(submitted, root / "submitted")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    nbgrader = [str(BIN / "nbgrader")]
    run(nbgrader + ["generate_assignment", "gan", "--force"], cwd=root, env=env)
    seconds = run(nbgrader + ["autograde", "gan"], cwd=root, env=env)
    seconds += run(nbgrader + ["generate_feedback", "gan"], cwd=root, env=env)
    return seconds, totals_from_gradebook(root / "gradebook.db")


def ours(folder, submitted, workers):
    out = Path(folder) / "ours"
    command = [sys.executable, "-m", "grader", "autograde", str(submitted), "--out", str(out)]
    if workers:
        command += ["--workers", str(workers)]
    seconds = run(command, cwd=REPO)
    return seconds, totals_from_gradebook(out / "gradebook.db")


def totals_from_gradebook(path):
    query = """SELECT student.id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0))
               FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id
               JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id
               JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id"""
    with sqlite3.connect(path) as db:
        return {student: float(total) for student, total in db.execute(query)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--workers", type=int, help="for ours (default: CPU count)")
    parser.add_argument("--keep", help="keep the batch and outputs in this folder")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench-autograde-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        submitted = build_batch(folder, args.students)
        print(f"Batch: {args.students} students x {len(course.read_assignment())} notebooks; "
              f"{os.cpu_count()} CPU core(s), load average {os.getloadavg()[0]:.1f}", flush=True)
        base_seconds, base_totals = baseline(folder, submitted)
        print(f"  plain nbgrader done in {base_seconds:.0f} s", flush=True)
        our_seconds, our_totals = ours(folder, submitted, args.workers)
        print(f"  python -m grader autograde done in {our_seconds:.0f} s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    n = args.students
    print()
    print(f"{'':34}{'s/student':>10}{'students/min':>14}{'total s':>10}")
    for label, seconds in (("nbgrader autograde (serial)", base_seconds), ("python -m grader autograde", our_seconds)):
        print(f"{label:34}{seconds / n:>10.1f}{60 * n / seconds:>14.2f}{seconds:>10.0f}")
    print(f"speed-up: {base_seconds / our_seconds:.2f}x")
    differ = {s: (base_totals.get(s), our_totals.get(s))
              for s in base_totals if base_totals.get(s) != our_totals.get(s)}
    print("totals per student agree" if not differ else
          f"totals differ (nbgrader, ours) - expected for tampering students: {differ}")


if __name__ == "__main__":
    main()
