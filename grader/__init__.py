"""Plumbing for the GAN course. Two audiences, two places:

- ``grader`` itself is what the notebooks import: ``tf1`` (TensorFlow's 1.x API, set up
  quietly), ``quiet``, ``checks`` (the test cells' logic), ``course`` (the course's constants
  and notebook metadata), ``data`` (MNIST), ``exercises`` (the student's functions from their
  notebooks), ``train``, ``evaluate`` and ``plots``.
- ``grader.grading`` is the instructor's engine behind ``python -m grader``: it may import
  anything in ``grader``, and nothing outside it imports ``grader.grading`` but the entry
  point ``grader/__main__.py``.

This file stays import-light on purpose: importing ``grader`` must not import TensorFlow.
"""
