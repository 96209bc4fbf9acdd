"""Typed records that travel through a grading run: settings, jobs, scores and results.

The batch (grader.grading.batch) builds :class:`GradingSettings` and one :class:`StudentJob`
per student folder; a worker (grader.grading.worker) returns a :class:`StudentResult`, and
the gradebook module reads them back from a gradebook when shards are merged. The gradebook,
``grades.csv`` (from the gradebook) and ``report.json`` are all written from these records.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from grader.course import SourceNotebook


@dataclass(frozen=True)
class StudentJob:
    """One student folder to grade: ``source`` is ``SUBMITTED/<student_id>/<assignment_id>``."""

    student_id: str
    assignment_id: str
    source: str
    index: int  # position in the batch: names the student's private working folder
    uid: int | None = None  # the uid the student's code runs under (root only)
    hidden_seeds: tuple = ()  # (grade_id, seed) pairs for the hidden checks' inputs (grader.grading.hidden_seeds)


@dataclass(frozen=True)
class CourseTemplate:
    """What nbgrader generate_assignment made once per batch: the gradebook describing every
    cell, and the release (student) version of the notebooks. ``sha256`` is the gradebook's
    checksum when it was built: every copy of it is checked against it."""

    gradebook: str
    release: str
    sha256: str | None = None

    def verified_gradebook(self) -> bytes:
        """The template gradebook's bytes, if they are still those it was built with."""
        import hashlib

        with open(self.gradebook, "rb") as handle:
            data = handle.read()
        found = hashlib.sha256(data).hexdigest()
        if self.sha256 is not None and found != self.sha256:
            raise RuntimeError(f"the template gradebook {self.gradebook} changed after it was built (sha256 "
                               f"{found[:16]}..., expected {self.sha256[:16]}...): something wrote to it during "
                               "the batch, so no grade is merged from it")
        return data

    def copy_gradebook(self, target):
        """Write a verified copy of the template gradebook to ``target`` (a root-only folder)."""
        data = self.verified_gradebook()
        with open(target, "wb") as handle:
            handle.write(data)


@dataclass
class GradingSettings:
    """Everything a grading worker needs to know, fixed for the whole batch."""

    work_root: str
    timeout: int  # seconds per cell
    notebook_limit: int  # seconds per notebook, and for its trusted re-check
    memory_mb: int
    source_notebooks: dict[str, SourceNotebook]  # the assignment's notebooks in solutions/, by notebook id
    uid_base: int
    hide: list[str]  # folders the student's code must not see
    warm_kernels: bool = True
    skip_ungraded: bool = False
    isolation_note: str | None = None  # why student code runs outside a sandbox (None: it runs in one)


@dataclass
class CellScore:
    """The score of one graded test cell; ``reason`` says why it is below ``max_score``."""

    score: float
    max_score: float
    reason: str | None = None
    nbgrader: float | None = None  # nbgrader's own auto score for the cell (None: not run)
    recheck: str | None = None  # the trusted checker's verdict: "passed", "failed" or None (not run)
    check: str | None = None  # the check that failed, e.g. "generator_output_range" (None: passed, or no check)
    mistake: str | None = None  # the machine-readable id of the mistake the check named, if it names one


@dataclass
class NotebookResult:
    """One notebook of one student."""

    status: str = "graded"  # graded, missing, unreadable, crashed or internal error
    problems: list[str] = field(default_factory=list)
    tests: dict[str, CellScore] = field(default_factory=dict)  # by grade_id
    comments: dict[str, str] = field(default_factory=dict)  # nbgrader's answer-cell comments, by grade_id
    autograded: str | None = None  # the executed notebook, once published
    feedback: str | None = None  # the feedback page, once published

    def zero_tests(self, notebook: SourceNotebook, reason: str) -> None:
        """Score every test of ``notebook`` 0, for ``reason``."""
        for test in notebook.tests:
            self.tests[test.grade_id] = CellScore(0.0, test.points, reason)


@dataclass
class StudentResult:
    """One student's grades for one assignment, as the worker returns it."""

    student_id: str
    assignment_id: str
    timestamp: str | None = None
    notebooks: dict[str, NotebookResult] = field(default_factory=dict)  # by notebook id
    flags: list[str] = field(default_factory=list)
    isolation_note: str | None = None  # why student code ran with less isolation, if it did
    seconds: float | None = None
    internal_error: str | None = None  # a traceback when the grader itself failed

    @classmethod
    def all_zero(cls, job: StudentJob, reason: str, source_notebooks: dict[str, SourceNotebook]) -> StudentResult:
        """Every test of every notebook at zero, for a student the grader itself could not handle."""
        notebooks = {}
        for notebook_id, notebook in source_notebooks.items():
            notebooks[notebook_id] = NotebookResult(status="internal error", problems=[reason])
            notebooks[notebook_id].zero_tests(notebook, reason)
        return cls(job.student_id, job.assignment_id, notebooks=notebooks)

    def totals(self) -> tuple[float, float]:
        """(score, max_score) over every test of every notebook."""
        tests = [test for result in self.notebooks.values() for test in result.tests.values()]
        return sum(test.score for test in tests), sum(test.max_score for test in tests)

    def problem_count(self) -> int:
        return sum(len(result.problems) for result in self.notebooks.values())

    @classmethod
    def from_dict(cls, data: dict) -> StudentResult:
        """The inverse of ``json.loads(to_json(result))``."""
        notebooks = {}
        for notebook_id, notebook in data.get("notebooks", {}).items():
            tests = {grade_id: CellScore(**test) for grade_id, test in notebook.get("tests", {}).items()}
            notebooks[notebook_id] = NotebookResult(**{**notebook, "tests": tests})
        return cls(**{**data, "notebooks": notebooks})


def to_json(data) -> str:
    """Records (dataclasses, also nested in dicts and lists) as stable, indented JSON."""
    return json.dumps(data, indent=1, sort_keys=True, default=asdict)
