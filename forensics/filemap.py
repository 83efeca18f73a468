"""Read-only memory maps of windows of an evidence file, as Arrow buffers (no copy of a byte).

A plain (not compressed) log is read faster mapped than copied: reading a 500 MB file into fresh
``bytes`` blocks costs more than the whole single-column read of ``pl.scan_csv``, which maps it
too. :func:`map_window` maps ``length`` bytes from ``offset`` of an open file descriptor, read only
and private, and returns them as a ``pyarrow.Buffer`` whose memory stays mapped exactly as long as
something holds the buffer (or a slice of it, or an Arrow string view into it): the last reference
gone, the window is unmapped. The descriptor itself can be closed at once: a mapping does not need
it, so a load holding windows of many files holds no open files.

The mapping is made with the descriptor given, so a descriptor opened with ``O_NOATIME``
(:func:`forensics.evidence.open_readonly`) leaves the file's access time alone here too.

Evidence is expected not to change while it is read (it is a copy, opened read only). A mapped
file that shrinks under the reader makes the operating system end the process (SIGBUS) when the
missing bytes are touched, as for any reader that maps files.

Where the C library's ``mmap`` is not available (Windows), :func:`map_window` returns None and the
caller reads the bytes instead.
"""

from __future__ import annotations

import ctypes
import mmap
import os

import pyarrow as pa

#: Windows start at a multiple of this (the system's mapping granularity).
GRANULARITY = mmap.ALLOCATIONGRANULARITY


def _libc():
    if os.name != "posix":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int64]
        libc.munmap.restype = ctypes.c_int
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()
_FAILED = ctypes.c_void_p(-1).value


class _Mapping:
    """Owner of one mapped window: unmapped when the last buffer over it is released."""

    __slots__ = ("address", "length")

    def __init__(self, address: int, length: int):
        self.address = address
        self.length = length

    def __del__(self):
        if _LIBC is not None and self.address:
            _LIBC.munmap(self.address, self.length)
            self.address = 0


def map_window(fd: int, offset: int, length: int) -> pa.Buffer | None:
    """Bytes ``offset .. offset + length`` of the file open as ``fd``, mapped read only.

    ``offset`` must be a multiple of :data:`GRANULARITY` and the window must lie inside the file.
    Returns None (read the bytes instead) where mapping is not available or the file system
    refuses it."""
    if _LIBC is None or length <= 0:
        return None
    if offset % GRANULARITY:
        raise ValueError(f"window offset {offset} is not a multiple of {GRANULARITY}")
    address = _LIBC.mmap(None, length, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, offset)
    if address is None or address == _FAILED:
        return None
    return pa.foreign_buffer(address, length, base=_Mapping(address, length))


def available() -> bool:
    """True where :func:`map_window` maps (a POSIX C library)."""
    return _LIBC is not None
