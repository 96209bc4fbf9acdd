"""The shipped MNIST loads, is verified, and bad files give errors that say which file and what is wrong."""
import gzip
import hashlib
import shutil

import numpy as np
import pytest

from grader import data
from grader.data import MnistDataError, load_mnist


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of data/mnist that a test may damage; the loader is pointed at it."""
    folder = tmp_path / "mnist"
    shutil.copytree(data.data_dir(), folder)
    monkeypatch.setenv("GAN_COURSE_MNIST", str(folder))
    data.load_raw.cache_clear()
    yield folder
    data.load_raw.cache_clear()


def test_training_set_is_scaled_to_tanh_range():
    images, labels = load_mnist("train")
    assert images.shape == (60000, 784) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs((images.mean() + 1) / 2 - 0.1307) < 1e-3


def test_test_set_unflattened():
    images, labels = load_mnist("test", flatten=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)


def test_unknown_split():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist("validation")


def test_attribution_ships_with_the_data():
    readme = (data.data_dir() / "README.md").read_text()
    for name in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0"):
        assert name in readme


def test_missing_file_is_named(data_copy):
    (data_copy / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistDataError, match=r"train-labels-idx1-ubyte\.gz is missing"):
        load_mnist("train")


def test_corrupt_file_is_named_with_both_checksums(data_copy):
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[1000] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(MnistDataError) as error:
        load_mnist("test")
    message = str(error.value)
    assert "t10k-images-idx3-ubyte.gz is corrupt" in message
    assert hashlib.sha256(bytes(raw)).hexdigest() in message and "expected 1a1a05ea" in message


def test_truncated_file(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(MnistDataError, match="corrupt"):
        load_mnist("test")


def test_missing_checksum_list(data_copy):
    (data_copy / "SHA256SUMS").unlink()
    with pytest.raises(MnistDataError, match="SHA256SUMS is missing"):
        load_mnist("test")


def test_wrong_format_with_a_matching_checksum(data_copy):
    """A file that passes its checksum but is not an idx image file is still refused, by name."""
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    fake = gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03")
    path.write_bytes(fake)
    sums = (data_copy / "SHA256SUMS").read_text().splitlines()
    sums = [f"{hashlib.sha256(fake).hexdigest()}  {path.name}" if line.endswith(path.name) else line for line in sums]
    (data_copy / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    with pytest.raises(MnistDataError, match="t10k-images-idx3-ubyte.gz: idx magic number is 2049, expected 2051"):
        load_mnist("test")
