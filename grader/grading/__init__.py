"""The instructor's engine behind ``python -m grader`` (generate, validate, autograde, export, merge, demo).

- ``cli``: the command line, thin commands over the modules below.
- ``batch``: ``autograde`` a class in parallel and write OUT; ``merge`` shards.
- ``worker``: grade one student in a pool process (nbgrader, then the clean room).
- ``records``: typed settings, jobs and results passed between them.
- ``gradebook``: nbgrader gradebooks, ``grades.csv`` and the grade sheet.
- ``nbgrader_bridge``: nbgrader's config, course directories and converters; the student version.
- ``integrity``: flags code that looks like an attempt to fool the grader.
- ``demo``: a synthetic class, graded end to end.
- ``feedback``: how a feedback page shows the graded notebook (hidden tests summarised).
- ``isolation``: where student code runs: the sandbox, the kernel launcher, warm kernels and
  the clean room.

Nothing here is imported by the notebooks; importing the command line, the batch or the
sandbox does not import TensorFlow (tests/test_layout.py checks both).
"""
