"""What every process that runs student code imports first, before any student code exists.

The student's zygote imports them once, fingerprints them for the clean room, and forks
kernels and clean-room children that already hold them (grader.grading.isolation.zygote and
.cleanroom). Importing them first is what makes the fingerprints trustworthy and the forked
kernels fast.
"""


def import_trusted_modules():
    """Import what tests use, before any student code, and load TF's lazy attributes."""
    import numpy  # noqa: F401

    from grader.quiet import quiet
    from grader.tf1 import tf

    with quiet():
        try:
            import grader.checks  # noqa: F401
        except ModuleNotFoundError as error:
            if error.name != "grader.checks":
                raise
        for module in (tf, tf.nn, tf.layers, tf.train, tf.math, tf.random, tf.losses):
            for name in dir(module):
                if not name.startswith("_"):
                    try:
                        getattr(module, name)
                    except Exception:
                        pass
