"""What every process that runs student code imports first, before any student code exists.

The clean-room server fingerprints these modules right after importing them, and the warm
kernels' zygote forks kernels that already hold them (grader.grading.isolation.cleanroom and
.warmkernel). Importing them first is what makes the fingerprints trustworthy and the
forked kernels fast.
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
