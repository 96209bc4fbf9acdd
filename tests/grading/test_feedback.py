"""How feedback pages show test cells (grader.grading.feedback)."""
import nbformat

from grader.grading.feedback import HIDDEN_NOTE, HiddenTestsSummarised, summarise_hidden_tests

TEST_CELL = '''"""model_inputs: sizes come from the arguments."""
checks.model_inputs_types(model_inputs)
### BEGIN HIDDEN TESTS
checks.model_inputs_dimensions(model_inputs)
### END HIDDEN TESTS'''


def test_hidden_checks_give_way_to_one_line_and_the_rest_stays():
    assert summarise_hidden_tests(TEST_CELL).split("\n") == [
        '"""model_inputs: sizes come from the arguments."""', "checks.model_inputs_types(model_inputs)", HIDDEN_NOTE]


def test_the_preprocessor_runs_when_nbconvert_registers_it():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    exporter.register_preprocessor(HiddenTestsSummarised)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(TEST_CELL)])
    html, _ = exporter.from_notebook_node(notebook)
    assert "BEGIN HIDDEN TESTS" not in html and "hidden tests: they run only" in html


def test_cells_without_hidden_tests_are_unchanged():
    cell = nbformat.v4.new_code_cell("checks.generator_output(generator)")
    HiddenTestsSummarised().preprocess_cell(cell, {}, 0)
    assert cell.source == "checks.generator_output(generator)"
    cell = nbformat.v4.new_code_cell(TEST_CELL)
    HiddenTestsSummarised().preprocess_cell(cell, {}, 0)
    assert "model_inputs_dimensions" not in cell.source and HIDDEN_NOTE in cell.source
