"""Outputs capped in bytes, per cell and per notebook, without changing a score (grader.grading.outputs)."""
import base64
import copy
import io
import json

import nbformat
import pytest
from nbgrader.utils import determine_grade

from grader.grading.outputs import (
    CELL_CAP,
    MB,
    NOTEBOOK_CAP,
    CapOutputs,
    CappedExecute,
    autograde_preprocessors,
    cap_outputs,
    size,
)

new = nbformat.v4.new_output
HUGE = 30 * MB


def stdout(text):
    return new("stream", name="stdout", text=text)


def stderr(text):
    return new("stream", name="stderr", text=text)


def png_grid():
    """An honest figure as big as the course's biggest: a 10 x 10 grid of noise-like samples, as IPython shows it."""
    import numpy as np

    from grader import plots

    figure = plots.epoch_grid(np.random.default_rng(0).uniform(-1, 1, (10, 10, 784)))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def notebook_of(*cells_outputs):
    cells = [nbformat.v4.new_code_cell(f"cell_{index}()", outputs=list(outputs), execution_count=index + 1)
             for index, outputs in enumerate(cells_outputs)]
    return nbformat.v4.new_notebook(cells=cells)


def capped(notebook):
    notebook = copy.deepcopy(notebook)
    CapOutputs().preprocess(notebook, {})
    return notebook


def notes(outputs):
    texts = [str(output.get("data", {}).get("text/plain", "")) for output in outputs
             if output.get("output_type") == "display_data"]
    return [text for text in texts if text.startswith("[autograder] output cut")]


def test_an_honest_notebook_is_unchanged():
    figure = new("display_data", data={"image/png": png_grid(), "text/plain": "<Figure>"})
    honest = notebook_of([stdout("epoch 1: loss 0.69\n" * 200), figure], [figure, stdout("done\n")],
                         [new("execute_result", data={"text/plain": "0.5"}, execution_count=3)])
    assert size(figure) < CELL_CAP / 2, f"the honest figure ({size(figure)} bytes) should be far under the cell cap"
    assert capped(honest) == honest, "expected CapOutputs to leave a notebook within the caps exactly as it was"


def test_one_huge_line_is_cut_to_the_cell_cap_with_a_note_in_plain_text():
    outputs, _ = cap_outputs([stdout("x" * HUGE)], NOTEBOOK_CAP)
    assert [output["output_type"] for output in outputs] == ["stream", "display_data"], outputs
    assert CELL_CAP - 100 < size(outputs[0]) <= CELL_CAP, f"expected {CELL_CAP} bytes kept, found {size(outputs[0])}"
    assert outputs[1] == {"output_type": "display_data", "metadata": {}, "data": {
        "text/plain": "[autograder] output cut: 28.0 MB over the 2 MB cap of a cell\n"}}, outputs[1]


def test_capping_again_changes_nothing_and_keeps_the_note():
    once, _ = cap_outputs([stdout("x" * HUGE), new("display_data", data={"text/html": "h" * HUGE})], NOTEBOOK_CAP)
    twice, _ = cap_outputs(copy.deepcopy(once), NOTEBOOK_CAP)
    assert twice == once, "expected the executed notebook's cap to keep what the running kernel's cap kept"
    assert notes(twice) == ["[autograder] output cut: 58.0 MB over the 2 MB cap of a cell\n"], notes(twice)


@pytest.mark.parametrize("mime", ["image/png", "text/html"])
def test_a_huge_display_is_dropped_and_said(mime):
    outputs, _ = cap_outputs([stdout("before\n"), new("display_data", data={mime: "A" * HUGE})], NOTEBOOK_CAP)
    assert outputs[0]["text"] == "before\n" and len(outputs) == 2, outputs
    assert "output cut: 30.0 MB over the 2 MB cap of a cell" in notes(outputs)[0], outputs[1]


def test_every_output_type_counts():
    error = new("error", ename="ValueError", evalue="v" * HUGE, traceback=["t" * HUGE, "line 2"])
    result = new("execute_result", data={"text/plain": "r" * HUGE}, execution_count=1)
    for output in (error, result, new("display_data", data={"text/plain": "d" * HUGE}), stderr("e" * HUGE)):
        kept, _ = cap_outputs([output], NOTEBOOK_CAP)
        assert size(kept[:-1]) <= CELL_CAP, f"{output['output_type']}: expected {CELL_CAP} bytes, found {size(kept)}"
        assert notes(kept), f"{output['output_type']}: expected a note saying what was cut, found {kept}"


def test_the_notebook_cap_holds_across_cells_and_says_so():
    cell = [stdout("y" * (CELL_CAP - 100))]
    notebook = capped(notebook_of(*[cell] * 8))
    total = sum(size(cell.outputs) for cell in notebook.cells)
    assert total <= NOTEBOOK_CAP + 1000, f"expected at most {NOTEBOOK_CAP} bytes of outputs, found {total}"
    last = notes(notebook.cells[-1].outputs)
    assert last and "cap of the notebook" in last[0], f"expected the last cell's note to name the notebook cap: {last}"
    assert not notes(notebook.cells[0].outputs), "the first cells fit and should be untouched"


def grade_cell(outputs):
    return nbformat.v4.new_code_cell("checks.test()", outputs=outputs, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "test"}})


@pytest.mark.parametrize("outputs", [
    [stdout("x" * HUGE)],  # passing: the note must not turn it into a failure
    [stdout("x" * HUGE), new("display_data", data={"image/png": "A" * HUGE})],
    [stdout("x" * HUGE), stderr("warning\n")],  # failing on stderr past the cap
    [stderr("e" * HUGE)],
    [new("display_data", data={"text/html": "h" * HUGE}), new("error", ename="E", evalue="", traceback=["t"])],
    [new("error", ename="CheckFailed", evalue="v" * HUGE, traceback=["t" * HUGE])],
    [stdout("x" * HUGE), new("execute_result", data={"text/plain": "0.5"}, execution_count=1)],  # partial credit
    [new("execute_result", data={"text/plain": "0.25" + " " * HUGE}, execution_count=1)],
    [stdout("x" * (CELL_CAP - 10)), stderr("late failure " * 100)],
], ids=["stdout", "stdout+png", "stdout+stderr", "stderr", "html+error", "error", "stdout+partial", "huge-partial",
        "stderr-at-the-cap"])
def test_a_cut_never_changes_the_score_nbgrader_reads(outputs):
    before = determine_grade(grade_cell(copy.deepcopy(outputs)))
    kept, _ = cap_outputs(outputs, NOTEBOOK_CAP)
    after = determine_grade(grade_cell([nbformat.from_dict(output) for output in kept]))
    assert after == before, f"expected nbgrader's grade {before} to survive the cut, found {after}"
    assert all(output.get("name") != "stderr" or any(o.get("name") == "stderr" for o in outputs) for output in kept), (
        "the cut added a stderr output, which nbgrader scores as a failure")


def test_the_note_survives_nbgraders_line_limit():
    """LimitOutput (after the running kernel's cap) drops stream outputs past its line limit: not the note."""
    from nbgrader.preprocessors import LimitOutput

    outputs, _ = cap_outputs([stdout("line\n" * 10)] * 200_000, NOTEBOOK_CAP)
    cell = nbformat.v4.new_code_cell("flood()", outputs=[nbformat.from_dict(output) for output in outputs])
    LimitOutput().preprocess_cell(cell, {}, 0)
    assert len(notes(cell.outputs)) == 1, f"expected the note to stay, found {[o['output_type'] for o in cell.outputs]}"


def test_autograde_runs_the_capped_execute_and_caps_before_the_scores_are_read():
    from nbgrader.preprocessors import Execute, LimitOutput, SaveAutoGrades

    chosen = autograde_preprocessors()
    assert Execute not in chosen and CappedExecute in chosen, chosen
    assert chosen.index(LimitOutput) < chosen.index(CapOutputs) < chosen.index(SaveAutoGrades), chosen


@pytest.mark.slow
def test_the_kernels_outputs_are_capped_while_it_runs():
    """A real kernel floods every output type; the notebook in memory (what nbclient keeps) stays within the caps."""
    sources = [
        f"print('x' * {HUGE})",
        f"display({{'image/png': 'A' * {HUGE}}}, raw=True)\ndisplay({{'text/html': 'h' * {HUGE}}}, raw=True)",
        f"handle = display({{'text/plain': 'small'}}, raw=True, display_id=True)\n"
        f"handle.update({{'text/plain': 'u' * {HUGE}}}, raw=True)",
        "import sys\nfor _ in range(20):\n    print('z' * 1_000_000)\n    sys.stdout.flush()",
        "import ipywidgets\nwith ipywidgets.Output():\n    for _ in range(10):\n        print('w' * 1_000_000)",
        f"raise ValueError('v' * {HUGE})",
        "print('honest')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    executor = CappedExecute(kernel_name="python3", timeout=120)
    notebook, _ = executor.preprocess(notebook, {})
    sizes = [size(cell.outputs) for cell in notebook.cells]
    assert all(count <= CELL_CAP + 5000 for count in sizes), f"expected each cell within {CELL_CAP} bytes: {sizes}"
    assert sum(sizes) <= NOTEBOOK_CAP + 20_000, f"expected the notebook within {NOTEBOOK_CAP} bytes: {sum(sizes)}"
    for index in range(5):
        outputs = notebook.cells[index].outputs
        assert notes(outputs), f"cell {index}: expected a note, found {[o.get('text', '')[:80] for o in outputs]}"
    assert [output["output_type"] for output in notebook.cells[5].outputs][0] == "error", "the error must stay an error"
    assert not executor.widget_state, "expected no widget state kept outside the caps"
    assert notebook.cells[-1].outputs[0]["text"] == "honest\n", notebook.cells[-1].outputs
    assert len(json.dumps(notebook)) < NOTEBOOK_CAP + 100_000


FLOOD = f"""print('x' * {HUGE})
display({{'image/png': 'A' * {HUGE}}}, raw=True)
display({{'text/html': '<b>' + 'h' * {HUGE} + '</b>'}}, raw=True)
"""


@pytest.mark.slow
def test_autograde_keeps_a_flooding_notebook_and_its_feedback_under_the_documented_size(tmp_path):
    """The real path (nbgrader autograde in the sandbox, then generate_feedback): one student floods 01 from six
    cells after a correct answer (a 30 MB line, a 30 MB PNG and a 30 MB HTML display each) and hands in an
    honest 02. 01 keeps its full score and stays within the notebook cap; 02 has nothing cut."""
    import csv

    from grader import course
    from grader.grading import demo
    from grader.grading.batch import autograde

    def flood(notebook):
        for _ in range(6):
            demo.add_cell(notebook, FLOOD, "model_inputs")
        return notebook

    handed_in = ["01_model_inputs", "02_generator"]
    demo.write_submission(tmp_path / "submitted", "student", demo.reference_answers(), notebooks=handed_in,
                          edits={"01_model_inputs": flood})
    autograde(tmp_path / "submitted", tmp_path / "out", workers=1, timeout=60, notebook_limit=200, memory_mb=1500,
              skip_ungraded=True, log=lambda *args: None)
    autograded = tmp_path / "out" / "autograded" / "student" / course.ASSIGNMENT
    feedback = tmp_path / "out" / "feedback" / "student" / course.ASSIGNMENT
    release = course.release_dir() / course.ASSIGNMENT / "01_model_inputs.ipynb"
    notebook_bytes = (autograded / "01_model_inputs.ipynb").stat().st_size
    page_bytes = (feedback / "01_model_inputs.html").stat().st_size
    assert notebook_bytes <= release.stat().st_size + NOTEBOOK_CAP + 100_000, (
        f"expected the autograded 01 within its sources and the {NOTEBOOK_CAP}-byte cap, found {notebook_bytes}")
    assert page_bytes <= notebook_bytes + 4 * MB, f"expected the page within the notebook and 4 MB, found {page_bytes}"
    executed = nbformat.read(str(autograded / "01_model_inputs.ipynb"), as_version=4)
    said = [notes(cell.outputs) for cell in executed.cells if cell.source.strip() == FLOOD.strip()]
    assert len(said) == 6 and all(len(texts) == 1 for texts in said), f"expected one note per flooding cell: {said}"
    assert "88.0 MB over the 2 MB cap of a cell" in said[0][0] and "cap of the notebook" in said[-1][0], said
    honest = nbformat.read(str(autograded / "02_generator.ipynb"), as_version=4)
    assert not [cell for cell in honest.cells if cell.cell_type == "code" and notes(cell.outputs)]
    with open(tmp_path / "out" / "grades.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row["notebook_id"] == "01_model_inputs"]
    scored = sum(float(row["score"]) for row in rows)
    assert rows and scored == sum(float(row["max_score"]) for row in rows), (
        f"expected full marks on 01 despite the cut (a cut must not fail a test), found {rows}")
