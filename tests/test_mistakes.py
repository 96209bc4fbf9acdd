"""Every catalogued mistake, injected into the reference solution, fails a graded test that names it."""
import pytest

from mistakes import MISTAKES, NOT_TOLD, ONLY_FAILS
from notebook_tools import answer_notebooks, failed_tests, reference_source

THEORY = "07_theory_and_failure_modes.ipynb"
CONVOLUTIONAL = "08_convolutional_gan.ipynb"


def apply_edits(source, edits):
    for old, new in edits:
        assert old in source, f"catalogue entry is stale: {old!r} is not in the reference solution"
        source = source.replace(old, new)
    return source


def test_catalogue_is_large_and_covers_every_exercise():
    assert len(MISTAKES) >= 20
    assert {function for _, function, _, _ in MISTAKES} == set(answer_notebooks()), "an answer cell has no mistake"
    assert len({name for name, *_ in MISTAKES}) == len(MISTAKES), "mistake names must be unique"
    theory = [name for name, function, _, _ in MISTAKES if answer_notebooks()[function] == THEORY]
    assert len(theory) >= 15, f"notebook 07 needs at least 15 catalogued mistakes, has {len(theory)}"
    convolutional = [name for name, function, _, _ in MISTAKES if answer_notebooks()[function] == CONVOLUTIONAL]
    assert len(convolutional) >= 20, f"notebook 08 needs at least 20 catalogued mistakes, has {len(convolutional)}"


@pytest.mark.parametrize("notebook", sorted(set(answer_notebooks().values())))
def test_reference_solutions_pass_every_graded_test(notebook):
    """One run per notebook: every answer cell holds its reference solution."""
    function = min(grade_id for grade_id, name in answer_notebooks().items() if name == notebook)
    assert failed_tests(function, reference_source(function)) == {}


@pytest.mark.parametrize("name,function,edits,words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistake_is_caught_and_named(name, function, edits, words):
    failures = failed_tests(function, apply_edits(reference_source(function), edits),
                            until=lambda message: words.lower() in message.lower())
    assert failures, f"no graded test caught: {name}"
    messages = "\n\n".join(f"[{grade_id}] {message}" for grade_id, message in failures.items())
    assert any(words.lower() in message.lower() for message in failures.values()), (
        f"'{name}' was caught, but no message mentions {words!r}:\n{messages}")


@pytest.mark.parametrize("name", sorted(ONLY_FAILS))
def test_one_mistake_costs_only_its_own_tests(name):
    (_, function, edits, _), = [m for m in MISTAKES if m[0] == name]
    failures = failed_tests(function, apply_edits(reference_source(function), edits))
    assert set(failures) == ONLY_FAILS[name], f"{name}: failing tests {sorted(failures)}"


@pytest.mark.parametrize("name", sorted(NOT_TOLD))
def test_a_mistake_is_not_told_a_wrong_cause(name):
    (_, function, edits, _), = [m for m in MISTAKES if m[0] == name]
    tests, old_causes = NOT_TOLD[name]
    failures = failed_tests(function, apply_edits(reference_source(function), edits), only=tests)
    wrong = {grade_id: [words for words in old_causes if words.lower() in message.lower()]
             for grade_id, message in failures.items()}
    assert not any(wrong.values()), f"{name}: told {wrong}\n" + "\n\n".join(failures.values())
