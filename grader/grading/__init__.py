"""The instructor's engine behind ``python -m grader`` (generate, validate, autograde, export, merge, demo).

- ``cli``: the command line, thin commands over the modules below.
- ``batch``: ``autograde`` a class in parallel and write OUT; ``merge`` shards.
- ``cluster``: the same batch as tasks on a Dask cluster (``autograde --scheduler``).
- ``worker``: grade one student in a process of its own (nbgrader, then the trusted re-check).
- ``scoring``: the scoring rule, one pure function.
- ``checker``: the trusted checker, a process that runs the tests and no student code; ``wire``
  (the messages between it and the sandbox) and ``graphs`` (the graph both sides hold, and the
  operation allowlist).
- ``magics``: a cell's IPython syntax as the Python IPython would run.
- ``hidden_seeds``: the course secret and each student's seeds for the hidden tests' inputs.
- ``records``: typed settings, jobs and results passed between them.
- ``gradebook``: nbgrader gradebooks, ``grades.csv`` and the grade sheet.
- ``nbgrader_bridge``: nbgrader's config, course directories and converters; the student version.
- ``integrity``: flags code that looks like an attempt to fool the grader.
- ``demo``: a synthetic class, graded end to end.
- ``feedback``: how a feedback page shows the graded notebook (hidden tests summarised), made safe
  to open (student HTML cleaned, the page audited, a Content-Security-Policy).
- ``outputs``: outputs capped in bytes, per cell and per notebook, while the kernel runs and after.
- ``isolation``: where student code runs: the bubblewrap sandbox, its zygote, the kernel
  launcher, the builder and the cgroups.

Nothing here is imported by the notebooks; importing the command line, the batch or the
sandbox does not import TensorFlow (tests/test_layout.py checks both).
"""
import sys

# jsonschema (under nbformat) imports rfc3987_syntax, when installed, only to check the "iri"
# string format, and that import builds dozens of Lark parsers: seconds of CPU in every
# process that reads a notebook, so in every student's grading process
# (https://github.com/python-jsonschema/jsonschema/issues/1428). No notebook schema uses that
# format; without the module, jsonschema simply does not register the check.
sys.modules.setdefault("rfc3987_syntax", None)
