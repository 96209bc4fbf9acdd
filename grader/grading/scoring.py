"""The scoring rule, in one place: a graded test scores only if it passes in the notebook *and*
in the independent re-check.

:func:`score_test` is pure: it sees the test's points, nbgrader's score for the test cell when
the whole notebook ran, and the re-check's verdict, and returns the score with the reason a
student reads when it is below the points. The worker (grader.grading.worker) gathers both
sides; nothing else decides a score.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(str, enum.Enum):
    """What the re-check says about one test."""

    PASSED = "passed"
    FAILED = "failed"  # the check ran and found a mistake (or the student's code raised)
    PROBLEM = "problem"  # the re-check could not be trusted or finished: tampering, a crash, a memory cap
    TIMEOUT = "timeout"  # the re-check ran out of time
    MISSING = "missing"  # no verdict for this test came back at all


@dataclass(frozen=True)
class Verdict:
    """The re-check's verdict on one test; ``reason`` says why when it did not pass."""

    outcome: Outcome
    reason: str | None = None
    hidden: bool = False  # it failed in the test cell's hidden part, which the notebook's run never holds

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED


@dataclass(frozen=True)
class TestScore:
    """The score of one test and, below its points, why."""

    score: float
    reason: str | None
    lowered_by_recheck: bool  # the notebook's score was higher; the re-check took it away
    recheck_passed: bool


IN_NOTEBOOK_ONLY = "passed in the notebook but failed the clean re-check"
HIDDEN_FAILED = "a hidden test failed (the grader runs the hidden tests outside the notebook)"
INTERFERENCE = ("failed when the whole notebook ran (see the error under the test cell), although "
                "the answer cell alone passes: another cell of the notebook interferes")
DEFAULT_REASONS = {
    Outcome.FAILED: "the check failed",
    Outcome.PROBLEM: "the re-check could not finish",
    Outcome.TIMEOUT: "the re-check ran out of time",
    Outcome.MISSING: "no verdict came back from the re-check",
}
NOT_RUN = "the test cell has no score from the notebook's run (it did not run, or its cell is missing)"


def score_test(points: float, notebook_score: float | None, verdict: Verdict) -> TestScore:
    """The score of one graded test.

    ``notebook_score`` is nbgrader's score for the test cell (``None`` when the cell did not run
    or is missing); it is clamped to ``[0, points]``, so a cell never earns more than its points.
    The score is the notebook's score when the re-check passed, else 0.
    """
    found = 0.0 if notebook_score is None else min(max(float(notebook_score), 0.0), float(points))
    score = found if verdict.passed else 0.0
    why = verdict.reason or DEFAULT_REASONS.get(verdict.outcome)
    if score < found and verdict.hidden:
        reason, lowered = f"{HIDDEN_FAILED}: {why}", False
    elif score < found:
        reason, lowered = f"{IN_NOTEBOOK_ONLY}: {why}", True
    elif score >= points:
        reason, lowered = None, False
    elif verdict.passed:
        reason, lowered = (NOT_RUN if notebook_score is None else INTERFERENCE), False
    else:
        reason, lowered = "failed" + (f": {why}" if why else ""), False
    return TestScore(score, reason, lowered_by_recheck=lowered, recheck_passed=verdict.passed)
