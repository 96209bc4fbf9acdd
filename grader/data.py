"""MNIST from the copy shipped in ``data/mnist``, checksum-verified on every load.

    images, labels = load_mnist("train")   # images: float32 (60000, 784) in [-1, 1]

The data set is by Y. LeCun, C. Cortes and C. J. C. Burges (CC BY-SA 3.0); see data/mnist/README.md.
"""
import functools
import gzip
import hashlib
from pathlib import Path

import numpy as np

from grader import course

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
RESTORE_HINT = "Restore the shipped copy with: git checkout -- data/mnist"


class MnistDataError(RuntimeError):
    """A data file is missing, altered or not in the idx format."""


def data_dir():
    """Where the idx files are: $GAN_COURSE_MNIST if set, else the course's data/mnist
    (see :func:`grader.course.mnist_dir`)."""
    return course.mnist_dir()


def expected_checksums(directory):
    sums_file = directory / "SHA256SUMS"
    if not sums_file.is_file():
        raise MnistDataError(f"{sums_file} is missing: it lists the SHA-256 of each MNIST file. {RESTORE_HINT}")
    sums = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name.lstrip("*")] = digest
    return sums


def verified_bytes(path):
    """The file's bytes, after checking them against SHA256SUMS in the same folder."""
    path = Path(path)
    expected = expected_checksums(path.parent).get(path.name)
    if expected is None:
        raise MnistDataError(f"{path.name} is not listed in {path.parent / 'SHA256SUMS'}.")
    if not path.is_file():
        raise MnistDataError(f"MNIST file {path} is missing. {RESTORE_HINT}")
    raw = path.read_bytes()
    found = hashlib.sha256(raw).hexdigest()
    if found != expected:
        raise MnistDataError(
            f"MNIST file {path} is corrupt or altered: its SHA-256 is {found}, expected {expected} "
            f"(from SHA256SUMS; {len(raw)} bytes read). {RESTORE_HINT}"
        )
    return raw


def parse_idx(raw, expected_magic, name="idx file"):
    """Decode a gzip-compressed idx file (the MNIST format) into a uint8 array."""
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError) as error:
        raise MnistDataError(f"{name} is not a valid gzip file ({error}).") from error
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise MnistDataError(f"{name}: idx magic number is {magic}, expected {expected_magic}.")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise MnistDataError(f"{name}: header promises {dims} values, file holds {body.size}.")
    return body.reshape(dims)


@functools.lru_cache(maxsize=4)
def load_raw(split):
    """(images uint8 (n, 28, 28), labels uint8 (n,)) for split 'train' or 'test'."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = data_dir()
    image_file, label_file = (directory / name for name in FILES[split])
    images = parse_idx(verified_bytes(image_file), IMAGE_MAGIC, image_file.name)
    labels = parse_idx(verified_bytes(label_file), LABEL_MAGIC, label_file.name)
    if len(images) != len(labels):
        raise MnistDataError(f"{split}: {len(images)} images but {len(labels)} labels.")
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def to_tanh_range(pixels):
    """uint8 pixels 0..255 -> float32 in [-1, 1], the range of the generator's tanh output."""
    return (pixels.astype(np.float32) / 127.5) - 1.0


def load_mnist(split="train", flatten=True):
    """Images as float32 in [-1, 1] ((n, 784), or (n, 28, 28) with flatten=False) and int64 labels."""
    images, labels = load_raw(split)
    scaled = to_tanh_range(images)
    if flatten:
        scaled = scaled.reshape(len(scaled), -1)
    return scaled, labels.astype(np.int64)
