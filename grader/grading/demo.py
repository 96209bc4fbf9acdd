"""`python -m grader demo`: a synthetic class of twelve, graded in parallel, with the table.

Each submission is a student notebook from ``notebooks/gan/`` with the answer cells filled
in from the reference solutions, then changed the way real students do: classic mistakes,
unfinished work, tampering, noisy but correct code, accepted alternatives. The tests use the
same builders (:func:`write_submission`, :func:`demo_class`).
"""
import functools
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from grader import course
from grader.grading import nbgrader_bridge

NOT_DONE = "# YOUR CODE HERE\nraise NotImplementedError()"
THEORY = "07_theory_and_failure_modes"
CONVOLUTIONAL = "08_convolutional_gan"


# ---------------------------------------------------------------- building blocks
def reference_answers(solutions=None):
    """{notebook_id: {grade_id: reference answer source (solution markers removed)}}."""
    answers = {}
    for notebook_id, notebook in course.read_assignment(solutions).items():
        answers[notebook_id] = {cell.grade_id: strip_markers(cell.source) for cell in notebook.answers}
    return answers


def strip_markers(source):
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def replace(source, old, new, count=1):
    """str.replace that insists the pattern is there (the demo must not silently go stale)."""
    if old not in source:
        raise ValueError(f"demo mutation: {old!r} not found in the reference answer:\n{source}")
    return source.replace(old, new, count)


def release_notebook(release, notebook_id):
    """The student version of a notebook, from the release folder ``release``."""
    path = Path(release) / f"{notebook_id}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m grader generate` first.")
    return nbformat.read(str(path), as_version=4)


def cell_with_id(notebook, grade_id):
    cell = course.cells_by_grade_id(notebook.cells).get(grade_id)
    if cell is None:
        raise KeyError(grade_id)
    return cell


def write_submission(folder, student_id, answers, edits=None, notebooks=None, raw=None, release=None):
    """Write ``folder/<student_id>/gan/<nb>.ipynb`` for each notebook, starting from the student
    notebooks in ``release`` (default: the committed ones, ``notebooks/gan``).

    answers: {notebook_id: {grade_id: source}} (an absent answer stays unfinished);
    edits: {notebook_id: function(notebook) -> notebook} for tampering and extra cells;
    notebooks: which notebooks to write (default: all); raw: {notebook_id: bytes} written as is.
    """
    release = Path(release) if release else course.release_dir() / course.ASSIGNMENT
    target = Path(folder) / student_id / course.ASSIGNMENT
    target.mkdir(parents=True, exist_ok=True)
    for notebook_id in notebooks or sorted(answers):
        path = target / f"{notebook_id}.ipynb"
        if raw and notebook_id in raw:
            path.write_bytes(raw[notebook_id])
            continue
        notebook = release_notebook(release, notebook_id)
        for grade_id, source in answers.get(notebook_id, {}).items():
            cell_with_id(notebook, grade_id).source = source
        if edits and notebook_id in edits:
            notebook = edits[notebook_id](notebook) or notebook
        nbformat.write(notebook, str(path))
    return target


def add_cell(notebook, source, after_grade_id):
    """Insert a plain code cell (a student's scratch cell) after the cell ``after_grade_id``."""
    index = notebook.cells.index(cell_with_id(notebook, after_grade_id))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def edit_cell(notebook, grade_id, source):
    cell_with_id(notebook, grade_id).source = source
    return notebook


def fake_pass_output(notebook, grade_id):
    cell = cell_with_id(notebook, grade_id)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="All tests passed!\n")]
    cell.execution_count = 7
    return notebook


# ---------------------------------------------------------------- the demo class
def mutate(answers, notebook_id, grade_id, old, new):
    changed = {nb: dict(cells) for nb, cells in answers.items()}
    changed[notebook_id][grade_id] = replace(changed[notebook_id][grade_id], old, new)
    return changed


PATCH_CHECKS = (
    "# make the range check pass whatever my generator does\n"
    "checks.generator_output_range = lambda *args, **kwargs: None\n"
    "import grader.checks.networks as _networks\n"
    "for _name in dir(_networks):\n"
    "    if _name.startswith('generator'):\n"
    "        setattr(_networks, _name, lambda *args, **kwargs: None)\n"
)
PATCH_NUMPY = (
    "np.allclose = lambda *args, **kwargs: True\n"
    "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
)
NOISY_GENERATOR = '''import warnings
import sys

def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    print("building the generator...")
    print("debug: this goes to stderr", file=sys.stderr)
    warnings.warn("I am a correct generator that talks a lot")
    sizes = n_units if isinstance(n_units, (list, tuple)) else [n_units]
    with tf.variable_scope("generator", reuse=reuse):
        hidden = z
        for units in sizes:
            hidden = tf.layers.dense(hidden, units, activation=None)
            hidden = tf.maximum(alpha * hidden, hidden)
        logits = tf.layers.dense(hidden, out_dim, activation=None)
        return tf.tanh(logits)

print("generator defined", file=sys.stderr)
'''
ALTERNATIVE_GENERATOR = '''def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    with tf.variable_scope("generator", reuse=reuse):
        hidden = z
        for units in np.atleast_1d(n_units):
            hidden = tf.nn.leaky_relu(tf.layers.dense(hidden, int(units)), alpha=alpha)
        return tf.nn.tanh(tf.layers.dense(hidden, out_dim))
'''
ALTERNATIVE_OPT = '''def model_opt(d_loss, g_loss, learning_rate, beta1=0.9):
    d_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="discriminator")
    g_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="generator")
    d_opt = tf.train.AdamOptimizer(learning_rate=learning_rate, beta1=beta1)
    g_opt = tf.train.AdamOptimizer(learning_rate=learning_rate, beta1=beta1)
    return d_opt.minimize(d_loss, var_list=d_vars), g_opt.minimize(g_loss, var_list=g_vars)
'''


def demo_class(answers, release=None):
    """[(student_id, what it shows, write(folder))] for the demo; submissions start from the
    student notebooks in ``release`` (default: the committed ones)."""
    write = functools.partial(write_submission, release=release)
    no_tanh = mutate(answers, "02_generator", "generator", "return tf.tanh(logits)", "return logits")
    return [
        ("alice", "correct everything", lambda f: write(f, "alice", answers)),
        ("bob", "partly done: only the first two exercises",
         lambda f: write(f, "bob", {nb: answers[nb] for nb in ("01_model_inputs", "02_generator")},
                                    notebooks=sorted(answers))),
        ("carol", "classic mistake: generator without tanh", lambda f: write(f, "carol", no_tanh)),
        ("dave", "classic mistake: no label smoothing",
         lambda f: write(f, "dave", mutate(answers, "04_losses", "model_loss", "* (1 - smooth)", ""))),
        ("erin", "classic mistake: optimizers over all variables",
         lambda f: write(f, "erin", mutate(mutate(
             answers, "05_optimizers", "model_opt", "minimize(d_loss, var_list=d_vars)", "minimize(d_loss)"),
             "05_optimizers", "model_opt", "minimize(g_loss, var_list=g_vars)", "minimize(g_loss)"))),
        ("frank", "classic mistake: discriminator returns (logits, sigmoid) swapped",
         lambda f: write(f, "frank", mutate(
             answers, "03_discriminator", "discriminator", "return tf.sigmoid(logits), logits",
             "return logits, tf.sigmoid(logits)"))),
        ("grace", "tampering: edits the range test, fakes 'passed' outputs (generator without tanh)",
         lambda f: write(f, "grace", no_tanh, edits={"02_generator": lambda nb: fake_pass_output(
             edit_cell(nb, "test_generator_range", "print('All tests passed!')"), "test_generator_range")})),
        ("heidi", "tampering: monkeypatches the checks and NumPy (generator without tanh)",
         lambda f: write(f, "heidi", no_tanh, edits={
             "02_generator": lambda nb: add_cell(nb, PATCH_CHECKS, "generator"),
             "04_losses": lambda nb: add_cell(nb, PATCH_NUMPY, "model_loss")})),
        ("ivan", "correct, but prints and warns a lot",
         lambda f: write(f, "ivan", {**answers, "02_generator": {"generator": NOISY_GENERATOR}})),
        ("judy", "correct, accepted alternatives (tf.nn.leaky_relu, get_collection)",
         lambda f: write(f, "judy", {**answers, "02_generator": {"generator": ALTERNATIVE_GENERATOR},
                                                "05_optimizers": {"model_opt": ALTERNATIVE_OPT}})),
        ("kim", "theory mistakes: alternating step with the old x, the minimax loss picked for a strong gradient",
         lambda f: write(f, "kim", mutate(mutate(
             answers, THEORY, "alternating_step", "y_new = y + eta * x_new", "y_new = y + eta * x"),
             THEORY, "answer_strong_gradient", 'answer_strong_gradient = "b"', 'answer_strong_gradient = "a"'))),
        ("leo", "convolutional mistakes: batch norm left in inference mode, two of the six planted bugs not found",
         lambda f: write(f, "leo", mutate(mutate(mutate(
             answers, CONVOLUTIONAL, "conv_generator", "batch_normalization(h, training=training)",
             "batch_normalization(h)"),
             CONVOLUTIONAL, "find_the_bugs", "cross_entropy(d_logits_fake, tf.zeros_like(d_logits_fake))",
             "cross_entropy(d_logits_fake, tf.ones_like(d_logits_fake))"),
             CONVOLUTIONAL, "find_the_bugs", "with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, "
             'scope="generator")):\n        g_train', "if True:\n        g_train"))),
    ]


def build_class(folder, answers=None):
    """Write the demo class under ``folder``, starting from a fresh student version of
    solutions/ (generated in a scratch folder: the repository's notebooks/ is not touched)."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="gan-demo-release-") as scratch:
        nbgrader_bridge.generate_student_version(release_root=scratch)
        students = demo_class(answers or reference_answers(), release=Path(scratch) / course.ASSIGNMENT)
        for _, _, write in students:
            write(folder)
    return [(student_id, description) for student_id, description, _ in students]


def main(workers=None, timeout=60, folder="demo"):
    from grader.grading import gradebook as gradebooks
    from grader.grading.batch import autograde, summary_text

    folder = Path(folder).resolve()
    submitted, out = folder / "submitted", folder / "out"
    print(f"Generating the student version of {course.solutions_dir() / course.ASSIGNMENT}/ and a demo class...")
    students = build_class(submitted)
    print(f"Built a demo class of {len(students)} in {submitted}/:")
    for student_id, description in students:
        print(f"  {student_id:<7} {description}")
    if out.exists():
        shutil.rmtree(out)
    report = autograde(submitted, out, workers=workers, timeout=timeout)
    print()
    print(summary_text(report, details=True))
    print(gradebooks.grade_table(out / "gradebook.db"))
    print(f"Grades:   {out / 'grades.csv'}")
    print(f"Feedback: {out / 'feedback'}/<student>/gan/<notebook>.html  e.g. "
          f"{out / 'feedback' / 'heidi' / 'gan' / '02_generator.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
