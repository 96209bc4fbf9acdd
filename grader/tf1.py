"""TensorFlow's classic 1.x graph API, imported once, quietly, the way the course needs it.

    from grader.tf1 import tf

gives ``tensorflow.compat.v1`` with v2 behaviour disabled, so ``tf.placeholder``,
``tf.variable_scope(..., reuse=...)``, ``tf.layers.dense``, ``tf.train.AdamOptimizer`` and
``tf.train.Saver`` work as in TF1 tutorials. Under Keras 3, ``tf.layers`` needs the
``tf_keras`` package and ``TF_USE_LEGACY_KERAS=1`` set *before* TensorFlow is first imported:
this module sets it, and says what to do if TensorFlow was already imported without it.
"""
import os
import sys
import warnings

from grader.quiet import quiet

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(
        "TensorFlow was imported before grader.tf1, without TF_USE_LEGACY_KERAS=1, so tf.layers "
        "will not work. Restart the kernel and run the notebook's first cell before any other "
        "TensorFlow import."
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

with quiet():
    try:
        import tf_keras  # noqa: F401  (tf.layers is implemented on top of it)
    except ImportError as error:
        raise ImportError(
            "The package tf_keras is missing, and tf.layers needs it under Keras 3. "
            "Install the course's requirements: pip install -r requirements.txt"
        ) from error
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    tf.get_logger().setLevel("ERROR")

# tf.layers.* still works but announces its deprecation on every call; the course uses it on purpose.
warnings.filterwarnings("ignore", message=r".*`tf\.layers\.\w+` is deprecated")


def session_config(inter_op_threads):
    """A session config with all cores for each op, ``inter_op_threads`` ops at once, on threads of
    the session's own: TensorFlow's shared pool of inter-op threads takes the size that the first
    session in the process asked for, whichever that was, so an evaluator loaded before training
    would otherwise slow the GAN down (measured in docs/training.md, "Benchmark")."""
    config = tf.ConfigProto(intra_op_parallelism_threads=os.cpu_count() or 1,
                            inter_op_parallelism_threads=inter_op_threads)
    config.use_per_session_threads = True
    return config


__all__ = ["tf", "session_config"]
