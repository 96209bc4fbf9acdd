"""The course secret and the per-student seeds of the hidden inputs (grader.grading.hidden_seeds)."""
import json
import os
import pickle

import nbformat
import pytest

from grader import course
from grader.grading import batch, hidden_seeds
from grader.grading.isolation import sandbox

SECRET = b"s" * hidden_seeds.SECRET_BYTES


def test_the_secret_is_made_once_readable_by_its_owner_alone(tmp_path):
    path = tmp_path / "course-keys" / "hidden-inputs.key"
    secret = hidden_seeds.load_secret(path)
    assert len(secret) == hidden_seeds.SECRET_BYTES
    info = path.stat()
    assert info.st_mode & 0o777 == 0o600 and info.st_uid == os.geteuid()
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert hidden_seeds.load_secret(path) == secret, "a second batch must read the same secret"


@pytest.mark.parametrize("problem", ["group-readable", "symlink", "short", "folder", "other owner"])
def test_an_unsafe_secret_file_is_refused(tmp_path, problem):
    path = tmp_path / "hidden-inputs.key"
    if problem == "folder":
        path.mkdir()
    elif problem == "symlink":
        (tmp_path / "elsewhere").write_bytes(SECRET)
        path.symlink_to(tmp_path / "elsewhere")
    else:
        path.write_bytes(SECRET[:5] if problem == "short" else SECRET)
        path.chmod(0o640 if problem == "group-readable" else 0o600)
    if problem == "other owner":
        if os.geteuid() != 0:
            pytest.skip("only root can give a file away")
        os.chown(path, 4_321_987, 4_321_987)
    with pytest.raises(hidden_seeds.SecretFileError):
        hidden_seeds.load_secret(path)


def test_seeds_depend_on_the_secret_the_student_and_the_test():
    seed = hidden_seeds.derive_seed(SECRET, "ada", "test_generator_forward")
    assert seed == hidden_seeds.derive_seed(SECRET, "ada", "test_generator_forward"), "a regrade draws the same"
    assert 0 <= seed < 2 ** 63
    others = {hidden_seeds.derive_seed(SECRET, "ada", "test_discriminator_forward"),
              hidden_seeds.derive_seed(SECRET, "bob", "test_generator_forward"),
              hidden_seeds.derive_seed(b"t" * 32, "ada", "test_generator_forward"),
              hidden_seeds.derive_seed(SECRET, "ada\"test", "generator_forward")}
    assert seed not in others and len(others) == 4


def test_every_graded_test_gets_a_seed_and_the_job_carries_only_seeds(tmp_path):
    notebooks = course.read_assignment()
    for student in ("ada", "bob"):
        (tmp_path / student / course.ASSIGNMENT).mkdir(parents=True)
    jobs, _ = batch.find_jobs(tmp_path, course.ASSIGNMENT, seeds=lambda sid: hidden_seeds.student_seeds(
        SECRET, sid, notebooks))
    tests = {test.grade_id for notebook in notebooks.values() for test in notebook.tests}
    for job in jobs:
        seeds = dict(job.hidden_seeds)
        assert set(seeds) == tests
        assert seeds == {grade_id: hidden_seeds.derive_seed(SECRET, job.student_id, grade_id) for grade_id in tests}
        assert SECRET not in pickle.dumps(job)
    assert dict(jobs[0].hidden_seeds) != dict(jobs[1].hidden_seeds)
    assert batch.find_jobs(tmp_path, course.ASSIGNMENT)[0][0].hidden_seeds == ()


def test_the_seeds_reach_the_sandbox_environment_and_the_secret_does_not(monkeypatch):
    seeds = {"test_generator_forward": 12345}
    environment = hidden_seeds.seeds_environment(seeds)
    monkeypatch.setenv(*next(iter(environment.items())))
    monkeypatch.setenv("GAN_COURSE_SOMETHING", "forwarded like every GAN_COURSE_ variable")
    inside = sandbox.inside_environment()
    assert json.loads(inside[hidden_seeds.SEEDS_ENV]) == seeds
    assert not any(SECRET.decode() in value for value in inside.values())


def test_the_checks_read_the_variable_the_grader_sets():
    from grader.checks import drawn

    assert drawn.SEEDS_ENV == hidden_seeds.SEEDS_ENV


def test_the_cli_takes_a_secret_file():
    from grader.grading import cli

    args = cli.parser().parse_args(["autograde", "submitted", "--out", "out", "--secret-file", "/k/key"])
    assert args.secret_file == "/k/key"


PROBE = """

import json as _json
import os as _os

_probe = {"seeds": _os.environ.get("GAN_COURSE_HIDDEN_SEEDS"), "environment": dict(_os.environ)}
try:
    with open(SECRET_PATH, "rb") as _handle:
        _probe["secret"] = _handle.read().hex()
except OSError as _error:
    _probe["secret"] = type(_error).__name__
print("PROBE " + _json.dumps(_probe))
"""


@pytest.mark.slow
def test_a_graded_class_draws_per_student_inputs_and_never_sees_the_secret(tmp_path):
    """Through nbgrader and the clean room in the sandbox: honest answers keep full marks under drawn
    inputs, answers that hard-code the fixed results lose the hidden tests, and student code finds its
    seeds in its environment but cannot read the secret."""
    from grader.grading import demo
    from grader.grading.batch import autograde
    from test_hidden_inputs import HARD_CODED

    secret_file = tmp_path / "keys" / "hidden-inputs.key"
    secret = hidden_seeds.load_secret(secret_file)
    answers = demo.reference_answers()
    notebooks = ["01_model_inputs", "07_theory_and_failure_modes"]
    demo.write_submission(tmp_path / "submitted", "honest", answers, notebooks=notebooks)
    hostile = {notebook: dict(cells) for notebook, cells in answers.items()}
    hostile["01_model_inputs"]["model_inputs"] = (HARD_CODED["model_inputs"]
                                                 + PROBE.replace("SECRET_PATH", repr(str(secret_file))))
    hostile["07_theory_and_failure_modes"]["value_function"] = HARD_CODED["value_function"]
    demo.write_submission(tmp_path / "submitted", "hardcoder", hostile, notebooks=notebooks)
    out = tmp_path / "out"
    report = autograde(tmp_path / "submitted", out, workers=2, timeout=60, notebook_limit=300, memory_mb=2000,
                       secret_file=secret_file)
    students = {student.student_id: student for student in report["students"]}
    for notebook in notebooks:
        lost = {grade_id: test.reason for grade_id, test in students["honest"].notebooks[notebook].tests.items()
                if test.score < test.max_score}
        assert not lost, f"honest answers lost points under drawn inputs: {lost}"
    hard_coded = {grade_id for notebook in notebooks
                  for grade_id, test in students["hardcoder"].notebooks[notebook].tests.items()
                  if test.score < test.max_score}
    assert hard_coded == {"test_model_inputs_dimensions", "test_value_function_stability"}
    executed = out / students["hardcoder"].notebooks["01_model_inputs"].autograded
    outputs = [output.get("text", "") for cell in nbformat.read(str(executed), as_version=4).cells
               if cell.cell_type == "code" for output in cell.outputs]
    line = next(line for text in outputs for line in text.splitlines() if line.startswith("PROBE "))
    probe = json.loads(line[len("PROBE "):])
    seeds = json.loads(probe["seeds"])
    assert seeds["test_model_inputs_dimensions"] == hidden_seeds.derive_seed(
        secret, "hardcoder", "test_model_inputs_dimensions")
    assert probe["secret"] in ("PermissionError", "FileNotFoundError"), "student code read the course secret"
    for value in probe["environment"].values():
        assert secret.hex() not in value and secret.decode("latin-1") not in value
