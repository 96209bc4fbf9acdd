"""Where student code runs while it is graded.

- ``sandbox``: one bubblewrap sandbox per student (no network, own PID/IPC/UTS namespaces,
  read-only system view, capped home, own uid), and the watchdog outside it (memory and time,
  then SIGKILL).
- ``zygote``: the sandbox's first process; imports TensorFlow once per student and forks the
  kernels and the clean-room children.
- ``launcher``: the kernelspec through which nbgrader's kernels come from the student's zygote.
- ``cleanroom``: the authoritative re-check of each test against only the student's answers.
- ``preload``: what the zygote imports before any student code.
"""
