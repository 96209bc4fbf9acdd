"""Plumbing for the GAN course: quiet TF1 setup, MNIST, checks, plots and the instructor CLI.

Notebooks import what they need, e.g. ``from grader.tf1 import tf`` and ``from grader import checks``.
This file stays import-light on purpose: importing ``grader`` must not import TensorFlow.
"""
