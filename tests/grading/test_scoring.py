"""The scoring rule (grader.grading.scoring.score_test) over every combination of the two sides."""
import itertools

import pytest

from grader.grading.scoring import HIDDEN_FAILED, IN_NOTEBOOK_ONLY, INTERFERENCE, NOT_RUN, Outcome, Verdict, score_test

POINTS = 2.0
# nbgrader's side: passed, partial credit, failed, the cell did not run or is missing, out of range.
NOTEBOOK_SIDES = {"passed": 2.0, "partial": 1.0, "failed": 0.0, "missing cell": None,
                  "above points": 5.0, "negative": -1.0}
RECHECK_SIDES = {
    "passed": Verdict(Outcome.PASSED),
    "failed": Verdict(Outcome.FAILED, "CheckFailed: no tanh on the output layer"),
    "problem": Verdict(Outcome.PROBLEM, "student code changed the grader's libraries: json.dumps"),
    "timeout": Verdict(Outcome.TIMEOUT, "the re-check ran out of time"),
    "no verdict": Verdict(Outcome.MISSING, "the re-check process ended early (exit status 0)"),
    "failed, no reason": Verdict(Outcome.FAILED),
}
EXPECTED_SCORE = {"passed": 2.0, "partial": 1.0, "failed": 0.0, "missing cell": 0.0,
                  "above points": 2.0, "negative": 0.0}


@pytest.mark.parametrize("notebook, recheck", itertools.product(NOTEBOOK_SIDES, RECHECK_SIDES))
def test_a_test_scores_only_what_both_sides_allow(notebook, recheck):
    verdict = RECHECK_SIDES[recheck]
    scored = score_test(POINTS, NOTEBOOK_SIDES[notebook], verdict)
    expected = EXPECTED_SCORE[notebook] if verdict.passed else 0.0
    assert scored.score == expected
    assert scored.recheck_passed is verdict.passed
    # Below the points there is always a reason, at the points never.
    assert (scored.reason is None) == (scored.score == POINTS)
    # The re-check lowered the score exactly when the notebook alone would have scored more.
    assert scored.lowered_by_recheck == (not verdict.passed and EXPECTED_SCORE[notebook] > 0)
    if scored.lowered_by_recheck:
        assert scored.reason.startswith(IN_NOTEBOOK_ONLY)
    if not verdict.passed and scored.reason:
        assert verdict.reason is None or verdict.reason in scored.reason


def test_the_reasons_a_student_reads():
    passed = Verdict(Outcome.PASSED)
    assert score_test(POINTS, 1.0, passed).reason == INTERFERENCE
    assert score_test(POINTS, 0.0, passed).reason == INTERFERENCE
    assert score_test(POINTS, None, passed).reason == NOT_RUN
    failed = Verdict(Outcome.FAILED, "expected tanh")
    assert score_test(POINTS, 0.0, failed).reason == "failed: expected tanh"
    assert score_test(POINTS, 2.0, failed).reason == f"{IN_NOTEBOOK_ONLY}: expected tanh"
    timed_out = score_test(POINTS, 2.0, Verdict(Outcome.TIMEOUT))
    assert timed_out.reason == f"{IN_NOTEBOOK_ONLY}: the re-check ran out of time"
    assert score_test(POINTS, 0.0, Verdict(Outcome.MISSING)).reason == "failed: no verdict came back from the re-check"


def test_the_rule_has_no_memory():
    verdict = Verdict(Outcome.FAILED, "x")
    first = score_test(POINTS, 2.0, verdict)
    assert score_test(POINTS, 2.0, verdict) == first
    assert score_test(POINTS, 2.0, Verdict(Outcome.PASSED)).score == POINTS


def test_a_hidden_tests_failure_is_no_sign_of_interference():
    """The notebook's run never holds the hidden tests, so a cell that passed there and failed in its
    hidden part is an ordinary failure: 0 points, said so, and not counted as lowered by the re-check."""
    scored = score_test(POINTS, 2.0, Verdict(Outcome.FAILED, "wrong on drawn sizes", hidden=True))
    assert scored.score == 0.0 and not scored.lowered_by_recheck
    assert scored.reason == f"{HIDDEN_FAILED}: wrong on drawn sizes"
    assert score_test(POINTS, 0.0, Verdict(Outcome.FAILED, "x", hidden=True)).reason == "failed: x"
