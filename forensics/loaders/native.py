"""What the loaders' compiled kernels share: how numba compiles them, and the UTF-8 check.

Kernels are compiled once and cached next to the module that defines them (numba's on-disk
cache; ``make install`` compiles them), hold no GIL (worker threads run them side by side), and
run without numba's reference-counting runtime (``_nrt=False``): they allocate nothing, their
callers give them their buffers, and counting references on every array passed from function to
function (atomic operations) tripled the access-log scan's cost.
"""

from __future__ import annotations

from numba import njit

native = njit(nogil=True, cache=True, _nrt=False)
#: Inlined into its caller by numba: a call per byte or field cost about 40 % of the scan.
inline = njit(nogil=True, cache=True, _nrt=False, inline="always")


@native
def utf8_length(buf, i, end):
    """Length of the valid UTF-8 sequence starting with the byte >= 0x80 at ``i``, or 0 (no
    overlong forms, surrogates or code points above U+10FFFF: what Python's and polars' decoders
    accept)."""
    c = buf[i]
    if 0xC2 <= c <= 0xDF:
        k, lo, hi = 1, 0x80, 0xBF
    elif c == 0xE0:
        k, lo, hi = 2, 0xA0, 0xBF
    elif c == 0xED:
        k, lo, hi = 2, 0x80, 0x9F
    elif 0xE1 <= c <= 0xEF:
        k, lo, hi = 2, 0x80, 0xBF
    elif c == 0xF0:
        k, lo, hi = 3, 0x90, 0xBF
    elif c == 0xF4:
        k, lo, hi = 3, 0x80, 0x8F
    elif 0xF1 <= c <= 0xF3:
        k, lo, hi = 3, 0x80, 0xBF
    else:
        return 0
    if i + k >= end:
        return 0
    b = buf[i + 1]
    if b < lo or b > hi:
        return 0
    for j in range(2, k + 1):
        b = buf[i + j]
        if b < 0x80 or b > 0xBF:
            return 0
    return k + 1
