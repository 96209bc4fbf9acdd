"""Reading and writing nbgrader gradebooks: merging results, grades.csv, the grade sheet.

A :class:`~grader.grading.records.StudentResult` goes into a gradebook through one function,
:func:`apply_student_result`, whether the gradebook is a worker's private one, the class
gradebook or one merged from several shards; :func:`read_student_results` reads them back.
"""
import contextlib
import csv
import io
from pathlib import Path

from grader.course import COURSE_ID
from grader.grading.records import CellScore, NotebookResult, StudentResult

GRADES_COLUMNS = ["student_id", "assignment_id", "notebook_id", "grade_id", "score", "max_score"]


@contextlib.contextmanager
def open_gradebook(path):
    """nbgrader's Gradebook on an SQLite file, without SQLAlchemy's autoflush warnings
    (nbgrader's add_submission triggers them; they are harmless)."""
    import warnings

    from nbgrader.api import Gradebook

    from grader.grading.nbgrader_bridge import stamp_new_gradebooks_in_process

    stamp_new_gradebooks_in_process()  # a new gradebook is stamped without starting `alembic`
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session.*")
        with Gradebook(f"sqlite:///{Path(path).resolve()}", COURSE_ID) as gradebook:
            yield gradebook


def ensure_submission(gradebook, student_id, assignment_id, timestamp=None):
    """Make sure the gradebook has the student and their submission of the assignment."""
    gradebook.update_or_create_student(student_id)
    extra = {"timestamp": timestamp} if timestamp else {}
    gradebook.update_or_create_submission(assignment_id, student_id, **extra)


def apply_student_result(gradebook, student: StudentResult):
    """Write one student's scores (and nbgrader's answer-cell comments) into ``gradebook``."""
    from nbgrader.api import MissingEntry

    student_id, assignment_id = student.student_id, student.assignment_id
    ensure_submission(gradebook, student_id, assignment_id, student.timestamp)
    for notebook_id, result in student.notebooks.items():
        for grade_id, test in result.tests.items():
            grade = gradebook.find_grade(grade_id, notebook_id, assignment_id, student_id)
            grade.auto_score = float(test.score)
            grade.needs_manual_grade = False
        for grade_id, text in result.comments.items():
            try:
                gradebook.find_comment(grade_id, notebook_id, assignment_id, student_id).auto_comment = text
            except MissingEntry:
                pass
    gradebook.db.commit()


def read_student_results(path):
    """Every submission in the gradebook at ``path`` as StudentResults (for merging shards)."""
    students = []
    with open_gradebook(path) as gradebook:
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                notebooks = {}
                for notebook in submission.notebooks:
                    notebooks[notebook.name] = NotebookResult(
                        tests={grade.name: CellScore(grade.score, grade.max_score) for grade in notebook.grades},
                        comments={comment.name: comment.auto_comment for comment in notebook.comments},
                    )
                students.append(StudentResult(
                    submission.student.id, assignment.name,
                    timestamp=submission.timestamp.isoformat() if submission.timestamp else None,
                    notebooks=notebooks,
                ))
    return students


def grade_rows(path):
    """One row per student, notebook and graded test, in a stable order."""
    rows = []
    with open_gradebook(path) as gradebook:
        for assignment in sorted(gradebook.assignments, key=lambda a: a.name):
            order = {}
            for notebook in assignment.notebooks:
                for index, cell in enumerate(notebook.source_cells):
                    order[(notebook.name, cell.name)] = index
            for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
                for notebook in sorted(submission.notebooks, key=lambda n: n.name):
                    grades = sorted(notebook.grades, key=lambda g: order.get((notebook.name, g.name), 0))
                    for grade in grades:
                        rows.append({
                            "student_id": submission.student.id, "assignment_id": assignment.name,
                            "notebook_id": notebook.name, "grade_id": grade.name,
                            "score": grade.score or 0.0, "max_score": grade.max_score,
                        })
    return rows


def number(value):
    return f"{float(value):g}"


def write_grades_csv(gradebook_path, csv_path):
    rows = grade_rows(gradebook_path)
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GRADES_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "score": number(row["score"]), "max_score": number(row["max_score"])})
    return rows


def grade_sheet(gradebook_path):
    """(header, rows): one row per student and assignment with per-notebook totals."""
    rows = grade_rows(gradebook_path)
    notebooks = sorted({row["notebook_id"] for row in rows})
    totals, maxima = {}, {}
    for row in rows:
        key = (row["student_id"], row["assignment_id"])
        per_notebook = totals.setdefault(key, {name: 0.0 for name in notebooks})
        per_notebook[row["notebook_id"]] += row["score"]
        if key == (rows[0]["student_id"], rows[0]["assignment_id"]):
            maxima[row["notebook_id"]] = maxima.get(row["notebook_id"], 0.0) + row["max_score"]
    header = ["student_id", "assignment_id", *notebooks, "total", "max_total"]
    sheet = []
    for (student_id, assignment_id), per_notebook in sorted(totals.items()):
        values = [per_notebook[name] for name in notebooks]
        sheet.append([student_id, assignment_id, *map(number, values), number(sum(values)),
                      number(sum(maxima.values()))])
    return header, sheet, maxima


def write_grade_sheet(gradebook_path, handle):
    header, sheet, _ = grade_sheet(gradebook_path)
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(sheet)


def grade_table(gradebook_path):
    """The grade sheet as aligned text, for the terminal."""
    header, sheet, maxima = grade_sheet(gradebook_path)
    short = [name.split("_", 1)[0] if name[:2].isdigit() else name for name in header]
    max_row = ["(max)", "", *[number(maxima[name]) for name in header[2:-2]], number(sum(maxima.values())), ""]
    table = [short[:-1]] + [row[:-1] for row in sheet] + [max_row[:-1]]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    out = io.StringIO()
    for index, row in enumerate(table):
        out.write("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")
        if index == 0 or index == len(table) - 2:
            out.write("  ".join("-" * width for width in widths) + "\n")
    return out.getvalue()
