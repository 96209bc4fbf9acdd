"""grader.grading.planted: the "find the bugs" cell reaches students broken, each bug named by its check."""
import nbformat
import pytest

from grader import course
from grader.grading.planted import PlantBugs, fixed_version, has_planted_bugs, plant_bugs
from notebook_tools import failed_tests, reference_source

SOURCE = """x = 1
### BEGIN SOLUTION
### PLANTED: y = x + 2
    ### PLANTED:     z = 3
y = x + 1
### END SOLUTION
### BEGIN SOLUTION
### PLANTED: w = 0
### END SOLUTION
print(y)"""


def test_each_region_becomes_its_planted_lines_with_their_indentation():
    assert plant_bugs(SOURCE) == "x = 1\ny = x + 2\n        z = 3\nw = 0\nprint(y)"


def test_a_region_without_planted_lines_disappears():
    assert plant_bugs("a\n### BEGIN SOLUTION\nb\n### END SOLUTION\nc") == "a\nc"


@pytest.mark.parametrize("broken", [
    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    "### END SOLUTION",
    "### BEGIN SOLUTION\n### PLANTED: x",
    "### PLANTED: x = 1",
])
def test_malformed_markers_are_refused(broken):
    with pytest.raises(ValueError):
        plant_bugs(broken)


def test_the_book_shows_the_fixed_code_with_each_bug_in_a_comment():
    shown = fixed_version(SOURCE)
    assert "### " not in shown and "y = x + 1" in shown
    assert "# planted bug, fixed below: y = x + 2" in shown


def test_plant_bugs_replaces_clear_solutions_only_for_planted_cells():
    step = PlantBugs(code_stub={"python": "raise NotImplementedError()"})
    resources = {"language": "python"}
    meta = {"nbgrader": {"solution": True, "grade": False, "grade_id": "x", "locked": False, "schema_version": 3}}
    planted = nbformat.v4.new_code_cell(SOURCE, metadata=meta)
    ordinary = nbformat.v4.new_code_cell("def f():\n### BEGIN SOLUTION\n    return 1\n### END SOLUTION", metadata=meta)
    assert step.preprocess_cell(planted, resources, 0)[0].source == plant_bugs(SOURCE)
    assert "raise NotImplementedError()" in step.preprocess_cell(ordinary, resources, 1)[0].source


def test_nbgrader_config_installs_plant_bugs_in_generate_assignment():
    from grader.grading.nbgrader_bridge import load_config

    steps = load_config().GenerateAssignment.preprocessors
    assert PlantBugs in steps and not any(step.__name__ == "ClearSolutions" for step in steps)


def bug_cells():
    found = []
    for path in sorted((course.solutions_dir() / course.ASSIGNMENT).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if cell.cell_type == "code" and has_planted_bugs(cell.source):
                found.append(course.grade_id(cell))
    return found


def regions(source):
    """The source with only the region at each index planted, one version per region."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION"]
    versions = []
    for start in starts:
        end = next(i for i in range(start, len(lines)) if lines[i].strip() == "### END SOLUTION")
        versions.append("\n".join(lines[:start]) + "\n" + plant_bugs("\n".join(lines[start : end + 1])) + "\n" +
                        "\n".join(lines[end + 1 :]))
    return versions


def test_the_course_has_one_find_the_bugs_cell_with_six_bugs():
    (grade_id,) = bug_cells()
    assert len(regions(reference_source(grade_id))) >= 6


@pytest.mark.slow
def test_every_planted_bug_alone_fails_a_test_that_names_it_as_a_bug():
    (grade_id,) = bug_cells()
    for version in regions(reference_source(grade_id)):
        failures = failed_tests(grade_id, version)
        assert failures, f"a planted region goes unnoticed:\n{version}"
        assert any("Bug still present" in message for message in failures.values()), failures


@pytest.mark.slow
def test_the_students_version_fails_each_bug_test_by_name():
    (grade_id,) = bug_cells()
    failures = failed_tests(grade_id, plant_bugs(reference_source(grade_id)))
    assert len(failures) == 6 and all("Bug still present" in message for message in failures.values()), failures
