"""How a feedback page shows the graded notebook.

nbgrader's generate_feedback renders the autograded notebook, in which the hidden tests were
put back. A student's feedback page shows each test cell's docstring and visible checks, with
one line in place of the hidden checks (their result still shows below the cell); the
instructor's ``OUT/autograded`` notebooks keep them in full.
"""
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from traitlets import Bool

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's delimiters
HIDDEN_NOTE = "# (hidden tests: they run only when the notebook is graded; their result is below)"


def summarise_hidden_tests(source, note=HIDDEN_NOTE):
    """``source`` with each hidden-test region, delimiters included, replaced by the one-line ``note``."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if HIDDEN_BEGIN in line:
            hidden = True
            lines.append(line[: len(line) - len(line.lstrip())] + note)
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


class HiddenTestsSummarised(Preprocessor):
    """Feedback shows one line where a test cell's hidden checks are."""

    enabled = Bool(True)  # nbconvert registers preprocessors disabled unless they say otherwise

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
            cell.source = summarise_hidden_tests(cell.source)
        return cell, resources


def feedback_preprocessors():
    """nbgrader's GenerateFeedback pipeline, with the hidden tests summarised before rendering."""
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HiddenTestsSummarised, CSSHTMLHeaderPreprocessor]
