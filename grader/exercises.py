"""Find the five exercise functions in the notebooks and turn them into a module.

The training notebook and the tests use this to run *the student's own* code outside the
exercise notebooks. A function lives in the notebook cell whose nbgrader ``grade_id`` equals
its name; only that cell is executed, so exploratory cells elsewhere in the notebook do not
run again.
"""
import ast
import types
from pathlib import Path

from grader import course

# function name -> notebook that defines it, in the order the course teaches them
EXERCISES = {
    "model_inputs": "01_model_inputs.ipynb",
    "generator": "02_generator.ipynb",
    "discriminator": "03_discriminator.ipynb",
    "model_loss": "04_losses.ipynb",
    "model_opt": "05_optimizers.ipynb",
}
# the convolutional pair of notebook 08, which 06 trains when its architecture is "dcgan"
# (together with model_inputs and model_loss above)
CONV_EXERCISES = {
    "conv_generator": "08_convolutional_gan.ipynb",
    "conv_discriminator": "08_convolutional_gan.ipynb",
    "conv_model_opt": "08_convolutional_gan.ipynb",
}


# the calls with which a notebook loads the exercise functions of the notebooks beside it (06's
# training, 07's 2-D lab)
LOADERS = ("exercise_functions(", "training_setup(", "lab_functions(")


def loads_exercises(notebook):
    """True for a notebook (nbformat) with a code cell that loads the notebooks beside it."""
    return any(course.is_code(cell) and any(loader in cell.source for loader in LOADERS) for cell in notebook.cells)


class ExerciseNotDone(RuntimeError):
    """An exercise function is missing or still the unfinished stub."""


def reference_folder():
    """The notebooks with the reference solutions (nbgrader's source folder of the assignment)."""
    return course.solutions_dir() / course.ASSIGNMENT


def student_folder():
    """The committed student notebooks (nbgrader's release folder of the assignment)."""
    return course.release_dir() / course.ASSIGNMENT


def solution_cell_source(notebook_path, grade_id):
    """Source of the nbgrader cell whose grade_id is ``grade_id`` (None if there is none)."""
    cells = course.read_source_notebook(notebook_path).cells
    return next((cell.source for cell in cells if cell.grade_id == grade_id), None)


def graded_cells(notebook_path):
    """[(grade_id, source, points)] of the notebook's autograded test cells, in order."""
    return [(cell.grade_id, cell.source, cell.points) for cell in course.read_source_notebook(notebook_path).tests]


def is_stub(source, name):
    """True when function ``name`` in ``source`` still raises NotImplementedError."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Raise) and inner.exc is not None:
                    target = inner.exc.func if isinstance(inner.exc, ast.Call) else inner.exc
                    if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                        return True
            return False
    return True


def load_functions(folder=None, names=tuple(EXERCISES), module=None):
    """A module holding the named exercise functions, as written in the notebooks of ``folder``
    (default: the committed student notebooks). ``names`` may come from EXERCISES and CONV_EXERCISES;
    ``module``, if given, receives them instead of a new module.

    Raises ExerciseNotDone naming the notebook when a function is missing or unfinished.
    """
    from grader.tf1 import tf  # the cells expect `tf` to be the TF1 API

    folder = Path(folder) if folder is not None else student_folder()
    if module is None:
        module = types.ModuleType(f"exercises_from_{folder.name}")
        module.tf = tf
        module.__file__ = str(folder)
    for name in names:
        notebook = folder / {**EXERCISES, **CONV_EXERCISES}[name]
        if not notebook.is_file():
            raise ExerciseNotDone(f"{notebook} is missing: it should define {name}().")
        source = solution_cell_source(notebook, name)
        if source is None:
            raise ExerciseNotDone(
                f"{notebook.name} has no answer cell for {name}() (grade_id '{name}'). "
                "Was the cell deleted? Copy it back from a fresh student notebook."
            )
        if is_stub(source, name):
            raise ExerciseNotDone(
                f"{name}() in {notebook.name} is not finished yet: it still raises "
                "NotImplementedError. Complete that notebook first, or switch to the reference solutions."
            )
        try:
            exec(compile(source, f"{notebook.name}:{name}", "exec"), module.__dict__)
        except Exception as error:
            raise ExerciseNotDone(f"Running the {name}() cell of {notebook.name} failed: {error!r}") from error
        if not callable(module.__dict__.get(name)):
            raise ExerciseNotDone(f"The {name} cell of {notebook.name} does not define a function {name}().")
    return module


def load_conv_functions(folder=None, module=None):
    """load_functions for the three functions of notebook 08 (conv_generator, conv_discriminator,
    conv_model_opt), added to ``module`` if given."""
    return load_functions(folder, names=tuple(CONV_EXERCISES), module=module)
