"""Unit tests of the clean room's answer filter (grader.grading.isolation.cleanroom)."""
from grader.grading.isolation.cleanroom import filter_answer


def test_filter_answer_keeps_definitions_and_library_calls():
    source = (
        "import numpy as np\n"
        "init = tf.random_normal_initializer(stddev=0.02)\n"
        "ALPHA = 0.2\n"
        "def generator(z):\n    return z\n"
        "generator(1)\n"
        "np.tanh = lambda x: x\n"
        "for i in range(3):\n    print(i)\n"
    )
    kept, dropped = filter_answer(source, {"tf", "checks"})
    assert "def generator" in kept and "init = tf.random" in kept and "ALPHA" in kept
    assert [line for line, _ in dropped] == [6, 7, 8]
    assert "np.tanh" not in kept and "print" not in kept


def test_filter_answer_blanks_magics_and_keeps_line_numbers():
    kept, dropped = filter_answer("%matplotlib inline\n!ls\ndef f():\n    return 1\n", set())
    assert kept.split("\n")[:3] == ["", "", "def f():"] and not dropped


def test_a_cell_magic_cell_is_not_python_and_runs_nothing():
    kept, dropped = filter_answer("%%bash\necho hi\n", set())
    assert kept == "" and not dropped
