"""Unit tests of the code scan that flags submissions for a human look (grader.grading.integrity)."""
from grader.grading.integrity import scan_source


def test_integrity_scan_flags_patches_and_frame_walking():
    assert scan_source("checks.model_opt_adam_steps = None")
    assert scan_source("import sys\nframe = sys._getframe(1)")
    assert not scan_source("def generator(z):\n    return tf.tanh(z)")


def test_code_under_a_cell_magic_is_still_scanned():
    assert scan_source("%%capture\nimport ctypes\n") == ["imports ctypes"]


def test_code_in_another_languages_cell_magic_is_read_too():
    assert scan_source("%%script python3\nimport ctypes\n") == ["imports ctypes"]
    assert scan_source("%%bash\nls -l\n") == []
