"""Outputs capped in bytes: per cell and per notebook, every output type, while the kernel runs and after.

nbgrader's LimitOutput counts lines of stream output only, so one long line, a big display_data or
a huge traceback went into the autograded notebook and its feedback page whole, and nbclient kept
all of it in the grading process's memory while the kernel ran. Here:

- :class:`CappedExecute` (nbgrader's Execute) keeps at most :data:`CELL_CAP` bytes of outputs per
  cell and :data:`NOTEBOOK_CAP` for the notebook while the kernel runs: what arrives past the cap
  is dropped as it arrives, so memory stays bounded however long a cell prints;
- :class:`CapOutputs`, after execution and before nbgrader reads the scores, applies the same caps
  to the executed notebook (what arrived otherwise: the error nbgrader adds from an execute reply,
  display updates).

Where anything is cut, a line of plain text says so: "[autograder] output cut: 31.4 MB over the
2 MB cap of a cell" (a text/plain display_data, not a stream, which LimitOutput, run next, could
drop). A cut never changes a score: nbgrader scores a test cell by its first error, stderr or
execute_result output (0 for an error or stderr, a partial grade for a number), so that output is
always kept, shortened if needed, with its type, its stream and its number; the note scores nothing.

The caps keep an honest notebook whole: the course's biggest figure, an epoch grid of noise-like
early samples as PNG, is well under a cell's cap, and notebook 07, the one with most figures, is
well under a notebook's. So the autograded notebook holds at most its sources plus
:data:`NOTEBOOK_CAP` of outputs (and one short note per cut cell), and its feedback page that plus
the inlined MathJax and CSS (docs/instructors.md gives the sizes).
"""
import re

from nbgrader.preprocessors import Execute, LimitOutput, NbGraderPreprocessor
from traitlets import Bool, Integer

MB = 10**6
CELL_CAP = 2 * MB
NOTEBOOK_CAP = 10 * MB
NOTE = "[autograder] output cut: {cut} over the {cap} cap of {scope}\n"
NOTE_LINE = re.compile(r"\[autograder\] output cut: [\d.]+ (MB|bytes) over the \d+ MB cap of (a cell|the notebook)\n")
SHORT = 1000  # characters kept of an error's value and traceback lines, when one must be shortened


def size(value):
    """Bytes of an output (or any part of one) as a notebook stores it: its strings, UTF-8."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, dict):
        return sum(size(key) + size(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return sum(size(item) for item in value)
    return 8  # a number, a bool, None


def megabytes(count):
    if count < MB // 10:
        return f"{count} bytes"
    return f"{count / MB:.1f} MB" if count % MB else f"{count // MB} MB"


def is_decisive(output):
    """Whether nbgrader's determine_grade stops at this output (an error, stderr, or a result)."""
    kind = output.get("output_type")
    return kind in ("error", "execute_result") or (kind == "stream" and output.get("name") == "stderr")


def cut_text(text, room):
    """The first ``room`` bytes of ``text`` (whole characters)."""
    return text.encode("utf-8", "surrogatepass")[:max(room, 0)].decode("utf-8", "ignore")


def shortened(output, room):
    """``output`` cut to about ``room`` bytes, keeping what nbgrader scores by: its type, a stream's
    name, an error's name, a result's number (partial credit). None for a display_data with no room."""
    kind = output.get("output_type")
    if kind == "stream":
        text = cut_text(output.get("text", ""), room - size({**output, "text": ""}))
        if not text and output.get("name") != "stderr":
            return None
        return {**output, "text": text or "[autograder] (cut)\n"}
    if kind == "error":
        traceback = [line[:SHORT] for line in output.get("traceback", [])[:2]] + ["[autograder] (traceback cut)"]
        return {**output, "ename": str(output.get("ename", ""))[:SHORT],
                "evalue": str(output.get("evalue", ""))[:SHORT], "traceback": traceback}
    if kind == "execute_result":
        return {**output, "data": {"text/plain": result_value(output)}, "metadata": {}}
    return None


def result_value(output):
    """A short text/plain for a cut result that grades as the whole one: its number if it was one."""
    text = output.get("data", {}).get("text/plain", "")
    text = text[0] if isinstance(text, list) and len(text) == 1 else text
    try:
        return repr(float(text))
    except (TypeError, ValueError):
        return "[autograder] (result cut)"


class Budget:
    """The bytes of outputs one cell may still hold, within what the notebook may still hold."""

    def __init__(self, notebook_left, cell_cap=CELL_CAP, notebook_cap=NOTEBOOK_CAP):
        self.cell_cap, self.notebook_cap = cell_cap, notebook_cap
        self.cell_left, self.notebook_left = cell_cap, notebook_left
        self.cut = 0
        self.by_notebook = False
        self.decisive_kept = False

    def take(self, output):
        """What of ``output`` to keep (itself, a shortened copy, or None), counting its bytes."""
        count = size(output)
        room = min(self.cell_left, self.notebook_left)
        kept = output
        if count > room:
            self.by_notebook = self.by_notebook or self.notebook_left < self.cell_left
            kept = shortened(output, room)
            if kept is None and is_decisive(output) and not self.decisive_kept:
                kept = shortened(output, 0)
            elif kept is not None and is_decisive(output) and self.decisive_kept and room <= 0:
                kept = None  # nbgrader's score is settled by the decisive output already kept
            kept_count = size(kept) if kept is not None else 0
            self.cut += max(count - kept_count, 0)
            count = kept_count
        if kept is not None:
            self.decisive_kept = self.decisive_kept or is_decisive(kept)
            self.cell_left -= count
            self.notebook_left -= count
        return kept

    def note(self):
        """The line saying what was cut (None if nothing was)."""
        if not self.cut:
            return None
        cap, scope = ((self.notebook_cap, "the notebook") if self.by_notebook else (self.cell_cap, "a cell"))
        return {"output_type": "display_data", "metadata": {},
                "data": {"text/plain": NOTE.format(cut=megabytes(self.cut), cap=megabytes(cap), scope=scope)}}


def is_note(output):
    """Whether ``output`` is a cut note (as the last output of a cell, where the running kernel's cap puts it)."""
    return (isinstance(output, dict) and output.get("output_type") == "display_data"
            and set(output.get("data", {})) == {"text/plain"} and not output.get("metadata")
            and NOTE_LINE.fullmatch(str(output["data"]["text/plain"])) is not None)


def cap_outputs(outputs, notebook_left, cell_cap=CELL_CAP, notebook_cap=NOTEBOOK_CAP):
    """(the outputs of one cell within the caps, with the note if anything was cut; bytes they hold).
    A note already last (from the running kernel's cap) stays, uncounted; a cut here adds its own."""
    outputs = list(outputs)
    earlier = [outputs.pop()] if outputs and is_note(outputs[-1]) else []
    budget = Budget(notebook_left, cell_cap, notebook_cap)
    kept = [output for output in (budget.take(output) for output in outputs) if output is not None]
    note = budget.note()
    return kept + earlier + ([note] if note else []), notebook_left - budget.notebook_left


def as_node(output):
    from nbformat import from_dict

    return from_dict(output)


class CapOutputs(NbGraderPreprocessor):
    """The executed notebook's outputs within the caps, before nbgrader reads its scores."""

    cell_cap = Integer(CELL_CAP, help="most bytes of outputs a cell keeps").tag(config=True)
    notebook_cap = Integer(NOTEBOOK_CAP, help="most bytes of outputs a notebook keeps").tag(config=True)

    def preprocess(self, nb, resources):
        left = self.notebook_cap
        for cell in nb.cells:
            if cell.get("cell_type") != "code" or not cell.get("outputs"):
                continue
            if size(cell.outputs) <= min(self.cell_cap, left):
                left -= size(cell.outputs)
                continue
            outputs, used = cap_outputs(cell.outputs, left, self.cell_cap, self.notebook_cap)
            cell.outputs = [as_node(output) for output in outputs]
            left -= used
        return nb, resources


class CappedExecute(Execute):
    """nbgrader's Execute, holding at most the caps of outputs while the kernel runs: an output past
    them is shortened or dropped as it arrives, a display update past them is replaced by a line, and
    the cell ends with the note."""

    cell_cap = Integer(CELL_CAP, help="most bytes of outputs a cell keeps").tag(config=True)
    notebook_cap = Integer(NOTEBOOK_CAP, help="most bytes of outputs a notebook keeps").tag(config=True)
    # Widget state (and an Output widget's captured outputs) would be kept outside the caps; a feedback
    # page runs no widget, so none is kept and what an Output widget shows goes to its cell, capped.
    store_widget_state = Bool(False)

    def on_comm_open_jupyter_widget(self, msg):
        return None

    def preprocess(self, nb, resources=None, km=None):
        self._budgets, self._counts = {}, {}  # per cell index: its Budget, and how many outputs it held
        return super().preprocess(nb, resources, km)

    def _held(self, cell_index):
        budget = self._budgets.get(cell_index)
        return budget.cell_cap - budget.cell_left if budget else 0

    def _budget(self, outs, cell_index):
        """The cell's budget, made again when its outputs were cleared (clear_output frees their bytes)."""
        budget = self._budgets.get(cell_index)
        if budget is None or len(outs) < self._counts.get(cell_index, 0):
            others = sum(self._held(index) for index in self._budgets if index != cell_index)
            fresh = Budget(self.notebook_cap - others, self.cell_cap, self.notebook_cap)
            fresh.cut, fresh.by_notebook = (budget.cut, budget.by_notebook) if budget else (0, False)
            for output in outs:
                fresh.take(output)
            self._budgets[cell_index] = budget = fresh
        return budget

    def output(self, outs, msg, display_id, cell_index):
        budget = self._budget(outs, cell_index)
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and outs and outs[-1] is out:
            kept = budget.take(out)
            if kept is None:
                outs.pop()
                if display_id:  # nbclient noted where this display is; it is not there
                    self._display_id_map[display_id][cell_index].remove(len(outs))
            elif kept is not out:
                outs[-1] = as_node(kept)
            out = outs[-1] if kept is not None else None
        self._counts[cell_index] = len(outs)
        return out

    def _update_display_id(self, display_id, msg):
        """A display update replaces the data of every output with its id: past the caps, with a line."""
        content = msg.get("content", {})
        new = size(content.get("data", {})) + size(content.get("metadata", {}))
        growth = {}
        for cell_index, indices in self._display_id_map.get(display_id, {}).items():
            outputs = self.nb["cells"][cell_index]["outputs"]
            growth[cell_index] = sum(new - size(outputs[index].get("data", {})) - size(
                outputs[index].get("metadata", {})) for index in indices)
        over = [index for index, grows in growth.items() if grows > 0 and (
            index not in self._budgets or grows > min(self._budgets[index].cell_left,
                                                      self._budgets[index].notebook_left))]
        if over:
            msg = {**msg, "content": {**content, "metadata": {},
                                      "data": {"text/plain": "[autograder] (a display update cut)"}}}
            for index in over:
                if index in self._budgets:
                    self._budgets[index].cut += growth[index]
        super()._update_display_id(display_id, msg)
        for cell_index, grows in growth.items():
            budget = self._budgets.get(cell_index)
            if budget is not None and not over:
                budget.cell_left -= grows
                budget.notebook_left -= grows

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        budget = self._budgets.get(index)
        note = budget.note() if budget else None
        if note:
            cell.outputs.append(as_node(note))
            budget.cut = 0
        return cell, resources


def autograde_preprocessors(defaults=None, before_execute=()):
    """nbgrader's ``Autograde.autograde_preprocessors`` (or ``defaults``) with Execute capped, the caps
    applied after LimitOutput (before SaveAutoGrades reads the scores), and ``before_execute`` first."""
    if defaults is None:
        from nbgrader.converters import Autograde

        defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    chosen = []
    for preprocessor in defaults:
        if preprocessor is Execute:
            chosen.extend(before_execute)
        chosen.append(CappedExecute if preprocessor is Execute else preprocessor)
        if preprocessor is LimitOutput:
            chosen.append(CapOutputs)
    if CappedExecute not in chosen or CapOutputs not in chosen:
        raise RuntimeError(f"nbgrader's autograde preprocessors have no Execute or LimitOutput: {defaults}")
    return chosen
