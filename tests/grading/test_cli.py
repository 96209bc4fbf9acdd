"""`python -m grader` (grader.grading.cli): its commands and flags, generate and validate."""
import subprocess
import sys

import pytest

from grader import course
from grader.grading import cli, demo

INPUTS = "01_model_inputs"
WRONG_INPUTS = '''def model_inputs(real_dim, z_dim):
    return tf.placeholder(tf.float64, (None, real_dim)), tf.placeholder(tf.float64, (None, z_dim))
'''
COMMANDS = {
    "generate": {"--assignment"},
    "validate": {"--timeout"},
    "autograde": {"--out", "--workers", "--scheduler", "--timeout", "--notebook-limit", "--memory-mb", "--assignment",
                  "--work-dir", "--keep-work", "--skip-ungraded", "--cold-kernels", "--secret-file"},
    "export": {"--out", "--csv"},
    "merge": {"--out"},
    "demo": {"--workers", "--timeout", "--folder"},
    "book": {"--clean", "--fresh", "--verbose"},
}


def subcommands():
    action = next(a for a in cli.parser()._actions if a.dest == "command")
    return action.choices


def test_the_commands_and_their_flags_are_the_documented_ones():
    found = {name: {option for a in sub._actions for option in a.option_strings if option.startswith("--")} - {"--help"}
             for name, sub in subcommands().items()}
    assert found == COMMANDS


def test_autograde_defaults_are_unchanged():
    args = cli.parser().parse_args(["autograde", "SUBMITTED", "--out", "OUT"])
    assert (args.memory_mb, args.assignment, args.workers, args.timeout) == (4096, "gan", None, None)
    assert not (args.keep_work or args.skip_ungraded or args.cold_kernels)


def test_export_without_a_gradebook_says_what_to_run(tmp_path, capsys):
    assert cli.main(["export", "--out", str(tmp_path)]) == 2
    assert "run `python -m grader autograde" in capsys.readouterr().out


@pytest.mark.slow
def test_generate_is_deterministic_and_leaves_no_gradebook(tmp_path):
    from grader.grading.nbgrader_bridge import generate_student_version

    first = generate_student_version(release_root=tmp_path / "a")
    second = generate_student_version(release_root=tmp_path / "b")
    assert first and [p.name for p in first] == [p.name for p in second]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name
    assert not (course.course_root() / "gradebook.db").exists()


@pytest.mark.slow
def test_validate_says_ready_or_names_the_failing_test(tmp_path):
    answers = demo.reference_answers()
    demo.write_submission(tmp_path, "good", answers, notebooks=[INPUTS])
    demo.write_submission(tmp_path, "bad", {INPUTS: {"model_inputs": WRONG_INPUTS}}, notebooks=[INPUTS])
    for student_id, code, words in (("good", 0, "READY"), ("bad", 1, "NOT READY")):
        notebook = tmp_path / student_id / "gan" / f"{INPUTS}.ipynb"
        result = subprocess.run([sys.executable, "-m", "grader", "validate", str(notebook)],
                                capture_output=True, text=True, cwd=course.course_root())
        assert result.returncode == code and words in result.stdout, result.stdout + result.stderr
    assert "dtype" in result.stdout or "float32" in result.stdout
    assert "CheckFailed: checks.model_inputs" in result.stdout and "grader/checks/" not in result.stdout


# An answer that leans on a scratch cell passes in the notebook, but the grader's re-check runs
# the answer cells alone: validate must say that it would score 0.
LEANS_ON_SCRATCH = """def model_inputs(real_dim, z_dim):
    return placeholders(real_dim, z_dim)
"""
SCRATCH = """def placeholders(real_dim, z_dim):
    return (tf.placeholder(tf.float32, (None, real_dim), name="input_real"),
            tf.placeholder(tf.float32, (None, z_dim), name="input_z"))
"""
WITH_MAGICS = "%%capture\n" + demo.strip_markers(demo.reference_answers()[INPUTS]["model_inputs"]) + "\nfiles = !ls\n"


@pytest.mark.slow
def test_validate_gives_the_verdict_of_the_re_check(tmp_path):
    demo.write_submission(tmp_path, "scratch", {INPUTS: {"model_inputs": LEANS_ON_SCRATCH}}, notebooks=[INPUTS],
                          edits={INPUTS: lambda nb: demo.add_cell(nb, SCRATCH, "model_inputs")})
    demo.write_submission(tmp_path, "magics", {INPUTS: {"model_inputs": WITH_MAGICS}}, notebooks=[INPUTS])
    outputs = {}
    for student_id in ("scratch", "magics"):
        notebook = tmp_path / student_id / "gan" / f"{INPUTS}.ipynb"
        result = subprocess.run([sys.executable, "-m", "grader", "validate", str(notebook)],
                                capture_output=True, text=True, cwd=course.course_root())
        outputs[student_id] = (result.returncode, result.stdout + result.stderr)
    code, text = outputs["scratch"]
    assert code == 1 and "passes in the whole notebook" in text and "NOT READY" in text, text
    assert "NameError" in text and "placeholders" in text, text
    code, text = outputs["magics"]
    assert code == 0 and "READY: every visible test" in text, text
