"""Planted bugs: how notebook 8's "find the bugs" cell reaches students with its bugs in place.

nbgrader turns every solution region into ``raise NotImplementedError()``. For a debugging
exercise the student must instead start from the broken code, so the source cell holds the
fixed code in solution regions, each region listing the broken lines it replaces:

    ### BEGIN SOLUTION
    ### PLANTED: h = tf.layers.conv2d(images, 128, 5, strides=2, padding="same")
    h = tf.layers.conv2d(h, 128, 5, strides=2, padding="same")
    ### END SOLUTION

:class:`PlantBugs` replaces nbgrader's ClearSolutions in generate_assignment (``nbgrader_config.py``
installs it, so ``nbgrader generate_assignment`` and ``python -m grader generate`` agree): in a
solution cell with ``### PLANTED:`` lines each region becomes its planted lines (a region with
none is left out); every other cell goes through ClearSolutions unchanged.
"""
import re

from nbgrader.preprocessors import ClearSolutions

PLANTED = "### PLANTED:"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PLANTED_LINE = re.compile(r"^([ \t]*)### PLANTED: ?(.*)$")


def has_planted_bugs(source):
    return any(line.strip().startswith(PLANTED) for line in source.splitlines())


def plant_bugs(source):
    """The student's version of a cell: each solution region replaced by its ``### PLANTED:`` lines."""
    lines, region, planted = [], False, []
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if region:
                raise ValueError("a solution region opens inside another one")
            region, planted = True, []
        elif marker == END:
            if not region:
                raise ValueError("### END SOLUTION without ### BEGIN SOLUTION")
            region = False
            lines.extend(planted)
        elif region:
            match = PLANTED_LINE.match(line)
            if match:
                planted.append(match.group(1) + match.group(2))
        elif marker.startswith(PLANTED):
            raise ValueError(f"a ### PLANTED: line outside a solution region: {line.strip()}")
        else:
            lines.append(line)
    if region:
        raise ValueError("a solution region is never closed")
    return "\n".join(lines)


def fixed_version(source):
    """The reference version of a cell without markers: what the book shows, the bugs named in comments."""
    shown = []
    for line in source.splitlines():
        match = PLANTED_LINE.match(line)
        if match:
            shown.append(f"{match.group(1)}# planted bug, fixed below: {match.group(2)}")
        elif line.strip() not in (BEGIN, END):
            shown.append(line)
    return "\n".join(shown)


class PlantBugs(ClearSolutions):
    """ClearSolutions, except that a solution cell with planted bugs gets its broken version."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution") and \
                has_planted_bugs(cell.source):
            cell.source = plant_bugs(cell.source)
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)


def generate_assignment_preprocessors():
    """nbgrader's generate_assignment preprocessors with ClearSolutions replaced by PlantBugs."""
    from nbgrader.converters import GenerateAssignment

    defaults = GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default()
    if ClearSolutions not in defaults:
        raise RuntimeError("nbgrader's generate_assignment no longer runs ClearSolutions: "
                           "update grader.grading.planted")
    return [PlantBugs if step is ClearSolutions else step for step in defaults]
