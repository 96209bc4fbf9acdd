"""The wire between a student's sandbox and the trusted checker, in one place.

Messages are length-prefixed JSON over a stream socket; nothing is ever pickled. Values travel
as JSON with tagged objects: NumPy arrays as their raw bytes with dtype and shape, tuples and
dicts with non-string keys tagged, TensorFlow objects as the *names* of nodes in a graph that
both sides hold (see grader.grading.graphs). Every read has a size cap and a deadline.
"""
import base64
import json
import struct
import time

import numpy as np

MAX_MESSAGE_BYTES = 64 * 2**20
HEADER = struct.Struct("!I")
TAG = "$"
PLAIN_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64", "complex64", "complex128"}


class WireError(Exception):
    """The other side sent something that is not a valid message, or nothing in time."""


def send(connection, message):
    data = json.dumps(message, allow_nan=True).encode()
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"a message of {len(data)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
    connection.sendall(HEADER.pack(len(data)) + data)


def _read_exactly(connection, size, deadline):
    chunks, remaining = [], size
    while remaining:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time")
        connection.settimeout(left)
        try:
            chunk = connection.recv(min(remaining, 2**20))
        except TimeoutError as error:
            raise TimeoutError("no answer in time") from error
        if not chunk:
            raise WireError("the connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(connection, timeout, limit=MAX_MESSAGE_BYTES):
    """The next message, or TimeoutError after ``timeout`` seconds, or WireError."""
    deadline = time.monotonic() + timeout
    (size,) = HEADER.unpack(_read_exactly(connection, HEADER.size, deadline))
    if size > limit:
        raise WireError(f"a message of {size} bytes is over the {limit}-byte limit")
    try:
        message = json.loads(_read_exactly(connection, size, deadline))
    except ValueError as error:
        raise WireError(f"not JSON: {error}") from error
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


# ---------------------------------------------------------------------- values
def encode(value, reference=None):
    """JSON for ``value``; ``reference(value)`` returns a tagged dict for objects that travel by
    name (TensorFlow tensors, operations, variables) or None. Raises TypeError for anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, np.integer):
        return value
    if isinstance(value, float) and type(value) is float:
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.name not in PLAIN_DTYPES:
            raise TypeError(f"arrays of dtype {array.dtype} cannot travel")
        data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()
        return {TAG: "array", "dtype": array.dtype.name, "shape": list(array.shape),
                "scalar": isinstance(value, np.generic), "data": data}
    if isinstance(value, (list, tuple)):
        return {TAG: type(value).__name__ if type(value) in (list, tuple) else "tuple",
                "items": [encode(item, reference) for item in value]}
    if isinstance(value, dict):
        return {TAG: "dict", "items": [[encode(k, reference), encode(v, reference)] for k, v in value.items()]}
    tagged = reference(value) if reference is not None else None
    if tagged is not None:
        return tagged
    raise TypeError(f"a {type(value).__module__}.{type(value).__qualname__} cannot travel to or from the sandbox")


def decode(data, resolve=None):
    """The value that :func:`encode` wrote; ``resolve(tagged)`` turns a by-name object back."""
    if not isinstance(data, dict):
        if isinstance(data, list):
            raise WireError("a bare list is not a value on the wire")
        return data
    tag = data.get(TAG)
    if tag == "array":
        dtype = str(data["dtype"])
        if dtype not in PLAIN_DTYPES:
            raise WireError(f"dtype {dtype!r} is not allowed")
        shape = tuple(int(n) for n in data["shape"])
        raw = base64.b64decode(data["data"])
        if len(raw) != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
            raise WireError("an array's bytes do not match its shape")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return array[()] if data.get("scalar") else array
    if tag in ("list", "tuple"):
        items = [decode(item, resolve) for item in data["items"]]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        return {_hashable(decode(k, resolve)): decode(v, resolve) for k, v in data["items"]}
    if resolve is not None:
        return resolve(data)
    raise WireError(f"unknown value tag {tag!r}")


def _hashable(key):
    try:
        hash(key)
    except TypeError as error:
        raise WireError("a dict key must be hashable") from error
    return key
