"""The batch's shared files are verified before use: the template gradebook is copied for each
student, and merged into OUT/gradebook.db, only while it still has the checksum it was built with."""
import hashlib

import pytest

from grader.grading.records import CourseTemplate


def template_in(tmp_path, data=b"SQLite format 3\0the template"):
    path = tmp_path / "template" / "gradebook.db"
    path.parent.mkdir()
    path.write_bytes(data)
    return CourseTemplate(gradebook=str(path), release=str(tmp_path / "release"),
                          sha256=hashlib.sha256(data).hexdigest())


def test_an_unchanged_template_is_copied(tmp_path):
    template = template_in(tmp_path)
    template.copy_gradebook(tmp_path / "copy.db")
    copied = (tmp_path / "copy.db").read_bytes()
    assert isinstance(copied, bytes) and copied == b"SQLite format 3\0the template", copied[:40]


def test_a_template_changed_by_a_student_is_refused_before_any_copy(tmp_path):
    template = template_in(tmp_path)
    with open(template.gradebook, "wb") as handle:  # what a symlink-following root write did
        handle.write(b'{"transport": "ipc", "key": "..."}')
    with pytest.raises(RuntimeError) as raised:
        template.copy_gradebook(tmp_path / "copy.db")
    assert "changed after it was built" in str(raised.value), str(raised.value)
    assert not (tmp_path / "copy.db").exists(), "a copy of the tampered template was written"
    with pytest.raises(RuntimeError):
        template.verified_gradebook()
