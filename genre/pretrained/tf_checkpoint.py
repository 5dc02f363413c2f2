"""Read a TensorFlow checkpoint (a "tensor bundle": ``PREFIX.index`` and
``PREFIX.data-00000-of-00001``) with NumPy alone, so that pretrained weights published as
TensorFlow checkpoints can be used without installing TensorFlow.

The ``.index`` file is a LevelDB-style table (TensorFlow's ``tsl/lib/io``): a 48-byte footer
points to an index block, whose entries point to data blocks; each block holds prefix-compressed
keys followed by restart offsets and ends in a trailer of a compression byte and a masked
CRC-32C. Its keys are the variable names (the empty key holds the ``BundleHeaderProto``) and its
values are ``BundleEntryProto`` messages locating each tensor's little-endian bytes in the data
file, with their masked CRC-32C, which is checked here as TensorFlow checks it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two block handles padded to 20 bytes each, then the 8-byte magic number
BLOCK_TRAILER_SIZE = 5  # compression type byte, masked CRC-32C of the block and that byte
CRC_MASK_DELTA = 0xA282EAD8
# TensorFlow's DataType enum (types.proto), for the types NumPy holds natively.
DTYPES = {
    1: np.float32,
    2: np.float64,
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    9: np.int64,
    10: np.bool_,
    17: np.uint16,
    19: np.float16,
    22: np.uint32,
    23: np.uint64,
}


class CheckpointError(ValueError):
    """The files are not a readable single-shard TensorFlow checkpoint."""


@dataclass(frozen=True)
class Entry:
    """Where one tensor lies in the data file (a ``BundleEntryProto``)."""

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    sliced: bool  # a partitioned variable, whose parts are stored under other keys


def read_checkpoint(index: bytes, data: bytes) -> dict[str, np.ndarray]:
    """Every tensor of a single-shard checkpoint, by variable name (optimizer slots and
    ``global_step`` included), each checked against its stored size and CRC-32C."""
    tensors = {}
    for name, entry in read_index(index).items():
        if entry.sliced:
            raise CheckpointError(f"{name} is a partitioned variable, which is not supported")
        if entry.dtype not in DTYPES:
            raise CheckpointError(f"{name} has TensorFlow dtype {entry.dtype}, not supported")
        dtype = np.dtype(DTYPES[entry.dtype]).newbyteorder("<")
        expected = int(np.prod(entry.shape, dtype=np.int64)) * dtype.itemsize
        if entry.shard_id != 0 or entry.size != expected:
            raise CheckpointError(
                f"{name}: {entry.size} bytes in shard {entry.shard_id}, expected {expected} "
                f"bytes of {dtype} {list(entry.shape)} in shard 0"
            )
        raw = data[entry.offset : entry.offset + entry.size]
        if len(raw) != entry.size:
            raise CheckpointError(f"{name} lies past the end of the data file (truncated)")
        if crc32c(raw) != unmask(entry.crc32c):
            raise CheckpointError(f"{name}: checksum mismatch in the data file")
        tensors[name] = np.frombuffer(raw, dtype).reshape(entry.shape).astype(DTYPES[entry.dtype])
    return tensors


def read_index(index: bytes) -> dict[str, Entry]:
    """The entries of an ``.index`` file by variable name, after checking its header."""
    if len(index) < FOOTER_SIZE:
        raise CheckpointError("the index file is too short to be a TensorFlow checkpoint")
    footer = index[-FOOTER_SIZE:]
    if struct.unpack("<Q", footer[-8:])[0] != TABLE_MAGIC:
        raise CheckpointError("the index file is not a TensorFlow table (bad magic number)")
    _metaindex, pos = _block_handle(footer, 0)
    index_block, _ = _block_handle(footer, pos)
    entries: dict[str, Entry] = {}
    header = None
    for _, handle in _block_entries(_read_block(index, *index_block)):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        for key, value in _block_entries(_read_block(index, offset, size)):
            if key == b"":
                header = _fields(value)
            else:
                entries[key.decode("utf-8")] = _entry(value)
    if header is None:
        raise CheckpointError("the index file has no bundle header")
    num_shards = header.get(1, [0])[-1]
    if num_shards != 1 or header.get(2, [0])[-1] != 0:
        raise CheckpointError(
            f"only little-endian single-shard checkpoints are supported (this one has "
            f"{num_shards} shards, endianness {header.get(2, [0])[-1]})"
        )
    return entries


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TensorFlow's ``crc32c::Value``.

    A byte-at-a-time loop in Python would take seconds for a checkpoint of megabytes, so the bytes
    are cut into equal lanes whose CRCs run side by side in NumPy from a zero register (the first
    from the initial one); the CRC update being linear over GF(2), each lane's register then
    shifts through the next lane's length of zeros and is xored with it.
    """
    buf = np.frombuffer(data, np.uint8)
    lanes = max(1, min(4096, len(buf) // 64))
    length = len(buf) // lanes
    state = np.zeros(lanes, np.uint32)
    state[0] = 0xFFFFFFFF
    for column in np.ascontiguousarray(buf[: lanes * length].reshape(lanes, length).T):
        state = _CRC_TABLE[(state ^ column) & 0xFF] ^ (state >> 8)
    # Where the 32 one-bit registers go through `length` zero bytes, tabulated per register byte.
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
    for _ in range(length):
        basis = _CRC_TABLE[basis & 0xFF] ^ (basis >> 8)
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1 == 1
    shift = [
        np.bitwise_xor.reduce(np.where(bits, basis[8 * k : 8 * k + 8], 0), axis=1).tolist()
        for k in range(4)
    ]
    t0, t1, t2, t3 = shift
    crc = int(state[0])
    for lane in state[1:].tolist():
        crc = t0[crc & 0xFF] ^ t1[(crc >> 8) & 0xFF] ^ t2[(crc >> 16) & 0xFF] ^ t3[crc >> 24] ^ lane
    table = _CRC_TABLE.tolist()
    for byte in buf[lanes * length :].tolist():
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def unmask(masked: int) -> int:
    """The CRC a TensorFlow file stores masked (``crc32c::Unmask``): rotated and offset, since a
    CRC of data that embeds CRCs is weak."""
    rot = (masked - CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    return table.astype(np.uint32)


_CRC_TABLE = _crc_table()


def _read_block(file: bytes, offset: int, size: int) -> bytes:
    block = file[offset : offset + size + BLOCK_TRAILER_SIZE]
    if len(block) != size + BLOCK_TRAILER_SIZE:
        raise CheckpointError("the index file is truncated")
    (stored,) = struct.unpack("<I", block[size + 1 :])
    if crc32c(block[: size + 1]) != unmask(stored):
        raise CheckpointError("the index file is corrupted (block checksum mismatch)")
    if block[size] != 0:
        raise CheckpointError(f"the index file uses block compression {block[size]}, unsupported")
    return block[:size]


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs of a table block: each key shares a prefix with the previous one;
    the restart array at the end only serves seeking, which a full read does not need."""
    if len(block) < 4:
        raise CheckpointError("the index file has a malformed block")
    (restarts,) = struct.unpack("<I", block[-4:])
    limit = len(block) - 4 * (restarts + 1)
    if limit < 0:
        raise CheckpointError("the index file has a malformed block")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_size, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_size > limit:
            raise CheckpointError("the index file has a malformed block entry")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_size]
        pos += value_size


def _block_handle(buf: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return (offset, size), pos


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise CheckpointError("the index file has a malformed varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _fields(message: bytes) -> dict[int, list[int | bytes]]:
    """A protobuf message's fields by number, each a list of its occurrences: integers for
    varint and fixed-size fields, bytes for length-delimited ones (strings, sub-messages)."""
    fields: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(message):
        tag, pos = _varint(message, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(message, pos)
        elif wire == 1:
            (value,), pos = struct.unpack_from("<Q", message, pos), pos + 8
        elif wire == 5:
            (value,), pos = struct.unpack_from("<I", message, pos), pos + 4
        elif wire == 2:
            size, pos = _varint(message, pos)
            value, pos = message[pos : pos + size], pos + size
        else:
            raise CheckpointError(f"the index file has a protobuf wire type {wire}, unsupported")
        if pos > len(message):
            raise CheckpointError("the index file has a truncated protobuf message")
        fields.setdefault(number, []).append(value)
    return fields


def _entry(message: bytes) -> Entry:
    fields = _fields(message)
    shape = tuple(
        _fields(dim).get(1, [0])[-1]
        for shape in fields.get(2, [])
        for dim in _fields(shape).get(2, [])
    )
    return Entry(
        dtype=fields.get(1, [0])[-1],
        shape=shape,
        shard_id=fields.get(3, [0])[-1],
        offset=fields.get(4, [0])[-1],
        size=fields.get(5, [0])[-1],
        crc32c=fields.get(6, [0])[-1],
        sliced=7 in fields,
    )
