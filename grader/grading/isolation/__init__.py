"""Where student code runs while it is graded.

- ``sandbox``: one bubblewrap sandbox per student (no network, own PID/IPC/UTS namespaces,
  read-only system view, capped home, own uid), and the watchdog outside it (memory and time,
  then SIGKILL).
- ``zygote``: the sandbox's first process; imports TensorFlow once per student and forks the
  kernels and the trusted checker's builders.
- ``launcher``: the kernelspec through which nbgrader's kernels come from the student's zygote.
- ``builder``: runs a notebook's answer cells and calls the student's functions for the trusted
  checker (grader.grading.checker, which runs outside the sandbox).
- ``cgroups``: the memory, pids and freezer cgroups of a batch and its students.
- ``preload``: what the zygote imports before any student code.
"""
