"""Where student code runs while it is graded.

- ``sandbox``: turn a process into a sandboxed one (own uid, hidden folders, limits) and
  watch it from outside (memory and time, then SIGKILL).
- ``launcher``: the kernelspec through which nbgrader's kernels enter the sandbox.
- ``warmkernel``: a zygote that forks kernels with TensorFlow already imported.
- ``cleanroom``: the authoritative re-check of each test against only the student's answers.
- ``preload``: what the zygote and the clean room import before any student code.
"""
