"""Seconds per student: `python -m grader autograde` against plain serial `nbgrader autograde`.

    .venv/bin/python benchmarks/bench_autograde.py [--students 8] [--workers N] [--dask-workers 2] [--keep DIR]
                                                   [--no-baseline] [--totals]

Both grade the same synthetic batch (the demo class's submissions, cycled) and both end with
HTML feedback, since ours writes it too:

* baseline: a plain nbgrader course folder (this repository's nbgrader_config.py, the
  solutions as source), `nbgrader generate_assignment`, then `nbgrader autograde` (one
  student after another, stock kernel, no sandbox, no re-check) and `nbgrader generate_feedback`;
* ours: `python -m grader autograde SUBMITTED --out OUT --workers N` (each student in a
  bubblewrap sandbox when run as root, clean-room re-check, merged gradebook, grades.csv, feedback);
* ours on Dask: the same command with `--scheduler`, on a `distributed.LocalCluster` of
  `--dask-workers` worker processes (one thread each) started on this machine before the clock starts.

It prints both timings side by side and whether the two agree on every student's total
(``--totals``: every student's total, ours; ``--no-baseline``: ours alone, e.g. to time another
checkout of the grader with the same script: ``OTHER/.venv/bin/python benchmarks/bench_autograde.py
--no-baseline``, whose ``python -m grader`` is that checkout's).
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
    out, work = Path(folder) / "ours", Path(folder) / "work"
    work.mkdir()
    command = [sys.executable, "-m", "grader", "autograde", str(submitted), "--out", str(out),
               "--work-dir", str(work), "--keep-work"]
    if workers:
        command += ["--workers", str(workers)]
    seconds = run(command, cwd=REPO)
    return seconds, totals_from_gradebook(out / "gradebook.db")


def profile(work):
    """{phase: [seconds per student]} from the students' logs (grader.grading.worker's timing lines)."""
    from grader.grading.worker import TIMING

    phases = {}
    for log in sorted(Path(work).glob("*/student-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(TIMING):
                seconds, _, phase = line[len(TIMING):].strip().partition(" s: ")
                phases.setdefault(phase, []).append(float(seconds))
    return phases


def print_profile(phases):
    import statistics

    print("\nWhere the time goes per student (python -m grader autograde; median over students, seconds):")
    for phase, values in phases.items():
        print(f"  {statistics.median(values):7.2f}  {phase}")


def ours_on_dask(folder, submitted, workers):
    from distributed import LocalCluster

    out = Path(folder) / "ours-dask"
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        command = [sys.executable, "-m", "grader", "autograde", str(submitted), "--out", str(out),
                   "--scheduler", cluster.scheduler_address]
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
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--workers", type=int, help="for ours (default: CPU count)")
    parser.add_argument("--dask-workers", type=int, default=2, help="worker processes of the Dask run (0: skip it)")
    parser.add_argument("--keep", help="keep the batch and outputs in this folder")
    parser.add_argument("--no-baseline", action="store_true", help="skip plain nbgrader (time ours alone)")
    parser.add_argument("--totals", action="store_true", help="print every student's total (ours)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench-autograde-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        submitted = build_batch(folder, args.students)
        print(f"Batch: {args.students} students x {len(course.read_assignment())} notebooks; "
              f"{os.cpu_count()} CPU core(s), load average {os.getloadavg()[0]:.1f}", flush=True)
        base_seconds, base_totals = None, {}
        if not args.no_baseline:
            base_seconds, base_totals = baseline(folder, submitted)
            print(f"  plain nbgrader done in {base_seconds:.0f} s", flush=True)
        our_seconds, our_totals = ours(folder, submitted, args.workers)
        print(f"  python -m grader autograde done in {our_seconds:.0f} s", flush=True)
        phases = profile(Path(folder) / "work")
        dask_seconds, dask_totals = None, None
        if args.dask_workers:
            dask_seconds, dask_totals = ours_on_dask(folder, submitted, args.dask_workers)
            print(f"  python -m grader autograde --scheduler (LocalCluster) done in {dask_seconds:.0f} s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    n = args.students
    print()
    print(f"{'':34}{'s/student':>10}{'students/min':>14}{'total s':>10}")
    rows = [("nbgrader autograde (serial)", base_seconds), ("python -m grader autograde", our_seconds)]
    rows = [(label, seconds) for label, seconds in rows if seconds]
    if dask_seconds:
        rows.append((f"  the same on Dask ({args.dask_workers} workers)", dask_seconds))
    for label, seconds in rows:
        print(f"{label:34}{seconds / n:>10.1f}{60 * n / seconds:>14.2f}{seconds:>10.0f}")
    if base_seconds:
        print(f"speed-up: {base_seconds / our_seconds:.2f}x" +
              (f" (on Dask: {base_seconds / dask_seconds:.2f}x)" if dask_seconds else ""))
    print_profile(phases)
    if dask_totals is not None and dask_totals != our_totals:
        print(f"the Dask run's totals differ from the local pool's: {dask_totals} against {our_totals}")
    if args.totals:
        print("\nTotals per student (ours):")
        for student, total in sorted(our_totals.items()):
            print(f"  {student:24}{total:6.1f}")
    if base_totals:
        differ = {s: (base_totals.get(s), our_totals.get(s))
                  for s in base_totals if base_totals.get(s) != our_totals.get(s)}
        print("totals per student agree" if not differ else
              f"totals differ (nbgrader, ours) - expected for tampering students: {differ}")


if __name__ == "__main__":
    main()
