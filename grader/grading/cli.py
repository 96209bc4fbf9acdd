"""`python -m grader COMMAND`: the instructor's (and the student's) command line.

    generate                        notebooks/gan/ from solutions/gan/ (nbgrader generate_assignment)
    validate NOTEBOOK               run a notebook's tests the way the grader will (for students)
    autograde SUBMITTED --out OUT   grade a class in parallel, sandboxed, tamper-checked
              [--scheduler ADDRESS] ... on a Dask cluster, one task per student
    export --out OUT [--csv F]      the grade sheet, per-notebook totals, from OUT/gradebook.db
    merge SHARD_OUT... --out OUT    combine the OUT folders of several shards
    demo                            build a demo class, grade it, print the table
"""
import argparse
import os
import re
import sys
from pathlib import Path

from grader import course
from grader.quiet import redirected_fds


def cmd_generate(args):
    from grader.grading import nbgrader_bridge

    written = nbgrader_bridge.generate_student_version(args.assignment)
    print(f"Wrote {len(written)} student notebook(s) to {course.release_dir() / args.assignment}/ from "
          f"{course.solutions_dir() / args.assignment}/:")
    for path in written:
        print(f"  {path.relative_to(course.course_root())}")
    return 0


def cmd_validate(args):
    from nbgrader.validator import Validator

    from grader.grading import nbgrader_bridge

    path = Path(args.notebook)
    if not path.is_file():
        print(f"{path}: no such notebook. Give the path of the .ipynb file you want to submit.")
        return 2
    config = nbgrader_bridge.load_config()
    if args.timeout:
        config.Execute.timeout = args.timeout
    print(f"Running {path} from top to bottom, as the grader will (this takes a moment)...")
    sys.stderr.flush()
    try:
        with redirected_fds([2]):  # the kernel's start-up warnings
            results = Validator(config=config).validate(str(path))
    except Exception as error:
        print(f"Could not run {path}: {type(error).__name__}: {error}\n"
              "Is it a notebook saved by Jupyter? If the file is damaged, start again from a fresh copy.")
        return 2
    status = print_validation(path, results)
    if status == 0:
        status = recheck_validated(path, config.Execute.timeout)
    return status


def recheck_validated(path, timeout):
    """The grader's second run, here: the answer cells alone in a fresh process, the notebook's
    tests in this one (grader.grading.checker, as in grading). A test that passes in the whole
    notebook but not there scores 0 when graded, so validate says so."""
    import nbformat

    from grader import course
    from grader.grading import checker

    print("Running the answer cells alone with the tests, as the grader's re-check will...")
    notebook = nbformat.read(str(path), as_version=4)
    cells = checker.request_cells(course.read_source_notebook(path), notebook)
    with redirected_fds([2]):
        records = checker.recheck_here(cells, path.resolve().parent, timeout)
    verdicts = {record["test"]: record for record in records if "test" in record}
    problems = [f"- {record['answer']}: {record['error']}" for record in records
                if record.get("answer") and record.get("error")]
    problems += [f"- {record['problem']}" for record in records if record.get("problem")]
    failed = []
    for cell in cells:
        if cell["kind"] != "test":
            continue
        record = verdicts.get(cell["grade_id"])
        if record is None:
            failed.append(f"- {cell['grade_id']}: no verdict came back")
        elif not record["passed"]:
            failed.append(f"- {cell['grade_id']}:\n{indent(last_lines(record.get('error') or 'failed', 6))}")
    if not failed:
        print(f"READY: every visible test in {path.name} passes, in the whole notebook and in the re-check. "
              "(Hidden tests run at grading time.)")
        return 0
    print(f"NOT READY: {len(failed)} test(s) pass in the whole notebook but fail when only the answer cells run "
          "with the tests, as the grader runs them; these would score 0:\n" + "\n".join(failed))
    if problems:
        print("What happened in the answer cells:\n" + "\n".join(problems))
    print("\nAn answer must not depend on code outside the answer cells (a scratch cell, a changed test).")
    return 1


def print_validation(path, results):
    if results.get("type_changed"):
        print(f"NOT READY: {len(results['type_changed'])} cell(s) changed type (e.g. code -> markdown); "
              "change them back, or copy your answers into a fresh notebook.")
        return 1
    if results.get("changed"):
        print(f"NOT READY: {len(results['changed'])} locked cell(s) were edited. The grader restores "
              "them, so your edits there are lost. The first one starts with:\n"
              + indent(results["changed"][0]["source"]))
        return 1
    failed = results.get("failed", [])
    if failed:
        print(f"NOT READY: {len(failed)} test cell(s) fail:")
        for cell in failed:
            first = cell["source"].strip().splitlines()[0] if cell["source"].strip() else "(empty cell)"
            print(f"\n- {first}\n{indent(last_lines(cell['raw_error'], 6))}")
        print("\nFix these, then run validate again. Remember the grader also runs hidden tests.")
        return 1
    print(f"Every visible test in {path.name} passes in the whole notebook.")
    return 0


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.splitlines())


def last_lines(text, count):
    """The error itself (from its 'SomeError: ...' line on), else the traceback's last lines."""
    lines = re.sub(r"\x1b\[[0-9;]*m", "", text or "").strip().splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z_][\w.]*: ", line)]
    return "\n".join(lines[starts[-1]:] if starts else lines[-count:])


def cmd_autograde(args):
    from grader.grading.batch import autograde, exit_status, summary_text
    from grader.grading.cluster import ClusterError, autograde_on_cluster
    from grader.grading.hidden_seeds import SecretFileError

    try:
        if args.scheduler:
            report = autograde_on_cluster(args.submitted, args.out, args.scheduler, timeout=args.timeout,
                                          notebook_limit=args.notebook_limit, memory_mb=args.memory_mb,
                                          assignment=args.assignment, work_dir=args.work_dir,
                                          warm_kernels=not args.cold_kernels, skip_ungraded=args.skip_ungraded,
                                          secret_file=args.secret_file)
        else:
            report = autograde(args.submitted, args.out, workers=args.workers, timeout=args.timeout,
                               notebook_limit=args.notebook_limit, memory_mb=args.memory_mb,
                               assignment=args.assignment, work_dir=args.work_dir, keep_work=args.keep_work,
                               warm_kernels=not args.cold_kernels, skip_ungraded=args.skip_ungraded,
                               secret_file=args.secret_file)
    except (FileNotFoundError, SecretFileError) as error:
        print(error)
        return 2
    except ClusterError as error:
        print(f"Nothing was graded: {error}")
        return 2
    print()
    print(summary_text(report))
    return exit_status(report)


def cmd_export(args):
    from grader.grading import gradebook as gradebooks

    database = Path(args.out) / "gradebook.db"
    if not database.exists():
        print(f"{database} does not exist: run `python -m grader autograde SUBMITTED --out {args.out}` first.")
        return 2
    if args.csv == "-":
        gradebooks.write_grade_sheet(database, sys.stdout)
    else:
        target = Path(args.csv or Path(args.out) / "grade_sheet.csv")
        with open(target, "w", newline="") as handle:
            gradebooks.write_grade_sheet(database, handle)
        print(gradebooks.grade_table(database))
        print(f"Grade sheet: {target}")
    return 0


def cmd_merge(args):
    from grader.grading.batch import merge_shards

    try:
        count = merge_shards(args.shards, args.out)
    except (FileNotFoundError, ValueError) as error:
        print(error)
        return 2
    print(f"Merged {count} student(s) from {len(args.shards)} shard(s) into {args.out}/ "
          f"(gradebook.db, grades.csv, autograded/, feedback/).")
    return 0


def cmd_demo(args):
    from grader.grading import demo

    return demo.main(workers=args.workers, timeout=args.timeout, folder=args.folder)


def cmd_book(args):
    import time

    from grader.grading import book

    if args.clean:
        book.clean()
    started = time.perf_counter()
    try:
        site = book.build(fresh=args.fresh, quiet=not args.verbose)
    except (book.BookBuildFailed, FileNotFoundError) as failure:  # FileNotFoundError: MathJax, notebooks, figures
        print(failure, file=sys.stderr)
        return 1
    print(f"The book is in {site}/ (open index.html), built in {time.perf_counter() - started:.0f} s.")
    return 0


def parser():
    main = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="regenerate the student notebooks from solutions/")
    generate.add_argument("--assignment", default=course.ASSIGNMENT)
    generate.set_defaults(run=cmd_generate)

    validate = commands.add_parser("validate", help="check a notebook before submitting it")
    validate.add_argument("notebook")
    validate.add_argument("--timeout", type=int, help="seconds per cell (default: nbgrader_config.py)")
    validate.set_defaults(run=cmd_validate)

    grade = commands.add_parser("autograde", help="grade SUBMITTED/<student>/<assignment>/*.ipynb")
    grade.add_argument("submitted")
    grade.add_argument("--out", required=True, help="output folder (grades.csv, gradebook.db, feedback/...)")
    grade.add_argument("--workers", type=int,
                       help="students graded at once (default: CPU count; meaningless with --scheduler)")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786), "
                            "one task per student, on its workers (start them with --nthreads 1)")
    grade.add_argument("--timeout", type=int, help="seconds per cell (default: nbgrader_config.py)")
    grade.add_argument("--notebook-limit", type=int, help="seconds per notebook (default: max(600, 5 x timeout))")
    grade.add_argument("--memory-mb", type=int, default=4096, help="memory per student (default: 4096)")
    grade.add_argument("--assignment", default=course.ASSIGNMENT)
    grade.add_argument("--work-dir", help="where the private working folders go (default: the temp folder; "
                                          "with --scheduler, on each worker)")
    grade.add_argument("--keep-work", action="store_true",
                       help="keep the working folders, for debugging (not with --scheduler)")
    grade.add_argument("--skip-ungraded", action="store_true",
                       help="do not run notebooks without graded tests (the training notebook); faster")
    grade.add_argument("--cold-kernels", action="store_true",
                       help="start every kernel from scratch instead of forking it from a warm TensorFlow process")
    grade.add_argument("--secret-file", help="the course secret the hidden tests' inputs are drawn from, per student "
                                             "(a file only this user can read, made on first use; default: "
                                             "/var/lib/gan-course/hidden-inputs.key as root, else "
                                             "~/.config/gan-course/hidden-inputs.key)")
    grade.set_defaults(run=cmd_autograde)

    export = commands.add_parser("export", help="grade sheet with per-notebook totals")
    export.add_argument("--out", required=True, help="the autograde output folder (holds gradebook.db)")
    export.add_argument("--csv", help="where to write the sheet ('-' for stdout; default OUT/grade_sheet.csv)")
    export.set_defaults(run=cmd_export)

    merge = commands.add_parser("merge", help="merge the OUT folders of several autograde shards")
    merge.add_argument("shards", nargs="+")
    merge.add_argument("--out", required=True)
    merge.set_defaults(run=cmd_merge)

    demo = commands.add_parser("demo", help="grade a synthetic class of 11 and print the table")
    demo.add_argument("--workers", type=int)
    demo.add_argument("--timeout", type=int, default=60)
    demo.add_argument("--folder", default="demo", help="where the demo class and its grades go")
    demo.set_defaults(run=cmd_demo)

    book = commands.add_parser("book", help="build the self-study book (Sphinx + MyST-NB) into book/_build/html")
    book.add_argument("--clean", action="store_true", help="remove the generated sources and the site first "
                      "(the notebooks' execution cache in .cache/book/ stays)")
    book.add_argument("--fresh", action="store_true", help="re-render every page (executed notebooks stay cached)")
    book.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    book.set_defaults(run=cmd_book)
    return main


def main(argv=None):
    args = parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return args.run(args)
    except course.CourseFolderNotFound as error:
        print(error)
        return 2
