r"""Scan kernels specialised to one format: the program's instructions written out as straight code.

:func:`forensics.loaders.access_scan.scan_format` runs a format's program by interpreting it: for
every line, a loop over the instructions, each looked up and its operands read from arrays, the
fields' bounds kept in an array. For the formats most logs are written in (the named formats:
Apache's ``combined``, ``common`` and ``vhost_combined``, which nginx's default shares) that
interpretation is a good part of a line's cost. :func:`kernel_of` gives those programs a kernel of
their own: a line reader whose instructions are written out one after the other with their
operands as constants (literals compared as integers, the fields' bounds in local variables),
generated as Python source and compiled by numba.

The generated kernel is the interpreter's pass (:func:`forensics.loaders.access_scan._scan`, its
source taken as it is) with this line reader in place of the interpreting one, with the same
arguments and the same outputs, so it vouches for exactly the lines the interpreter vouches for
(the tests compare the two on random and hostile lines of each named format).

The source is written once to a folder of generated kernels (the package's ``__pycache__`` when it
is writable, else ``~/.cache/forensics``), and numba keeps the compiled code beside it, so a
kernel is compiled once per install (``make install`` compiles the named formats'), not per run.
A file whose text differs from what this module generates now (it, or the scanner it builds on,
changed) is written afresh, which makes numba compile it again. Other formats keep the
interpreter: a kernel costs seconds to compile, worth it for the formats read again and again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from forensics.loaders import access_scan, native
from forensics.loaders.access_scan import (
    CLF_TIME, DIGITS, HOST, ISO, LITERAL, LOWER, METHOD, QUOTE, SECONDS, SIZE, STATUS, TOKEN, TOKEN0, Program,
    program_of,
)
from forensics.loaders.logformat import ALIASES, NAMED_FORMATS, compile_format

#: What the generated line reader calls or reads from the scanner's module.
_HELPERS = ("np", "_load8", "_find", "_run", "_is_digit", "_integer", "_view", "_clf_time", "_iso_time", "_SPACES",
            "_COLONS", "_QUOTES", "_BACKSLASHES", "DIGITS", "METHOD", "LOWER")


def program_key(program: Program) -> str:
    """A name for what ``program`` does (its instructions, operands, literals and slots): equal
    programs of differently named formats share it."""
    h = hashlib.sha256()
    for part in (program.ops, program.args, program.literals, program.literal_at, program.number_of):
        h.update(np.ascontiguousarray(part).tobytes())
        h.update(b"|")
    h.update(repr((program.slots, program.time_slot, program.client_slot, program.numbers)).encode())
    return h.hexdigest()[:20]


def _mask(n: int) -> int:
    return (1 << (8 * n)) - 1 if n < 8 else (1 << 64) - 1


def _piece_lines(program: Program, i: int) -> list[str]:
    """The code reading piece ``i`` (indented for the body of the reading loop: ``break`` leaves
    the line to the regex)."""
    op, arg = int(program.ops[i]), int(program.args[i])
    if op == LITERAL:
        a, b = int(program.literal_at[arg]), int(program.literal_at[arg + 1])
        text = bytes(program.literals[a:b])
        out = [f"if c + {len(text)} > e:", "    break"]
        if len(text) <= 3:
            out += [f"if {' or '.join(f'buf[c + {j}] != {byte}' for j, byte in enumerate(text))}:", "    break"]
        else:
            for k in range(0, len(text), 8):
                chunk = text[k:k + 8]
                word = int.from_bytes(chunk, "little")
                out += [f"if (_load8(buf, words, c + {k}) & np.uint64({_mask(len(chunk))})) != np.uint64({word}):",
                        "    break"]
        return [*out, f"c += {len(text)}"]
    s, e = f"s{arg}", f"e{arg}"
    out = [f"{s} = c"]
    if op == QUOTE:
        out += [
            "if known and (c == p or buf[c - 1] != 92):  # one opening after a backslash is searched",
            "    while qi < nq and q[qi] < c:",
            "        qi += 1",
            "    c = q[qi] if qi < nq else e",
            "else:",
            "    dangling = False",
            "    while True:",
            "        c = _find(buf, words, c, e, _QUOTES, _BACKSLASHES)",
            "        if c >= e or buf[c] == 34:",
            "            break",
            "        if c + 1 < e and (buf[c + 1] == 34 or buf[c + 1] == 92):",
            "            esc = True  # an escape the value's reading undoes",
            "        c += 2  # a backslash: it and the byte after it are the value's",
            "        if c > e:  # a backslash escapes nothing: the regex's reading differs",
            "            dangling = True",
            "            break",
            "    if dangling:",
            "        break",
        ]
    elif op == STATUS:
        out += ["if not (c + 3 <= e and _is_digit(buf[c]) and _is_digit(buf[c + 1]) and _is_digit(buf[c + 2])):",
                "    break", "c += 3"]
    elif op in (SIZE, SECONDS):
        out += ["c = _run(buf, c, e, DIGITS)", f"if c == {s}:", "    if c < e and buf[c] == 45:", "        c += 1",
                "    else:", "        break"]
        if op == SECONDS:
            out += ["elif c + 1 < e and buf[c] == 46 and _is_digit(buf[c + 1]):", "    c = _run(buf, c + 1, e, DIGITS)"]
    elif op == CLF_TIME:
        k = 0 if arg == program.time_slot else 2
        out += [f"if not _clf_time(buf, words, c, e, months, month_days, clock, {k}):", "    break", "c += 26"]
    elif op == ISO:
        k = 0 if arg == program.time_slot else 2
        out += [f"c = _iso_time(buf, c, e, month_days, clock, {k})", "if c < 0:", "    break"]
    elif op in (TOKEN, TOKEN0) and arg == program.client_slot:  # whether it holds a colon, found on the way
        out += ["c = _find(buf, words, c, e, _SPACES, _COLONS)", "if c < e and buf[c] == 58:", "    colon = True",
                "    c = _find(buf, words, c, e, _SPACES, _SPACES)"]
        if op == TOKEN:
            out += [f"if c == {s}:", "    break"]
    elif op in (TOKEN, TOKEN0):  # a one-byte token (a "-" for no value, mostly) without a word search
        out += ["if c + 1 < e and buf[c + 1] == 32 and buf[c] != 32:", "    c += 1", "else:",
                "    c = _find(buf, words, c, e, _SPACES, _SPACES)"]
        if op == TOKEN:
            out += [f"if c == {s}:", "    break"]
    elif op == HOST:
        out += ["c = _find(buf, words, c, e, _SPACES, _COLONS)", f"if c == {s}:", "    break"]
    elif op in (DIGITS, METHOD, LOWER):
        name = {DIGITS: "DIGITS", METHOD: "METHOD", LOWER: "LOWER"}[op]
        out += [f"c = _run(buf, c, e, {name})", f"if c == {s}:", "    break"]
    else:  # pragma: no cover - program_of makes no other instruction
        raise ValueError(f"no code for instruction {op}")
    return [*out, f"{e} = c"]


def _line_source(program: Program) -> str:
    """The line reader of ``program``: :func:`forensics.loaders.access_scan._line`'s arguments
    and effects, its instructions written out."""
    nslots = len(program.slots)
    body = [
        "e = stop - 1 if stop > p and buf[stop - 1] == 13 else stop  # a \"\\r\" before the newline is not the line's",
        "c = p",
        "esc = escapes",
        "known = nq <= q.size  # a quoted field ends at the next quote of q",
        "qi = 0",
        "clock[0] = 0",
        "clock[1] = 0",
        *(f"s{k} = e{k} = 0" for k in range(nslots)),
        "colon = False",
        "ok = False",
        "while True:  # the pieces in order; a break leaves the line to the regex",
        *("    " + line for i in range(len(program.ops)) for line in _piece_lines(program, i)),
        "    ok = True",
        "    break",
        "if ok:",
        "    fast[row] = 1",
        "    bits = 1 if esc else 0",
    ]
    cs = program.client_slot
    client_op = next((int(op) for op, arg in zip(program.ops, program.args, strict=True) if op != LITERAL and arg == cs), -1)
    if client_op in (TOKEN, TOKEN0):  # seen while reading it
        body += ["    if colon:", "        bits |= 2"]
    elif cs >= 0:
        body += [f"    if _find(buf, words, s{cs}, e{cs}, _COLONS, _COLONS) < e{cs}:", "        bits |= 2"]
    body += ["    flags[row] = bits", "    local[row] = clock[0]", "    offset[row] = clock[1]"]
    for f in range(nslots):
        k = int(program.number_of[f])
        if k >= 0:  # an integer (-1: "-", or too large)
            body += [f"    v = _integer(buf, s{f}, e{f})", f"    numbers[{k}, row] = max(v, 0)",
                     f"    has_number[{k}, row] = 1 if v >= 0 else 0"]
        elif f != program.time_slot:  # the time is kept typed (local, offset), not as text
            body += [f"    _view(views[{f}], row, buf, words, s{f}, e{f}, data_buffer)"]
    body += [
        f"    _view(views[{nslots}], row, buf, words, c, e, data_buffer)  # rest",
        "    line_view[row, 0] = 0  # null (an empty view)",
        "    line_view[row, 1] = 0",
        "else:",
        "    fast[row] = 0",
        "    flags[row] = 0",
        "    local[row] = 0",
        "    offset[row] = 0",
        *(f"    views[{f}, row, {j}] = 0" for f in range(nslots + 1) for j in (0, 1)),
        *(f"    {array}[{k}, row] = 0" for k in range(len(program.numbers)) for array in ("numbers", "has_number")),
        "    _view(line_view, row, buf, words, p, e, data_buffer)",
    ]
    head = ("@inline\ndef _line(buf, words, data_buffer, row, p, stop, q, nq, escapes, ops, args, literals, literal_at,"
            " literal_words, time_slot, client_slot, views, line_view, local, offset, fast, flags, bounds, clock, months,"
            " month_days, number_of, numbers, has_number):\n")
    return head + "".join(f"    {line}\n" for line in body)


def _scan_source() -> str:
    import inspect

    return inspect.getsource(access_scan._scan.py_func)


def _generated_by() -> str:
    """A digest of the code a generated kernel is built from (this module and the scanner's):
    part of the kernel's text, so a change to either makes the kernel be written and compiled
    again."""
    h = hashlib.sha256()
    for module in (access_scan, native):
        h.update(Path(module.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:20]


def kernel_source(program: Program) -> str:
    """The text of ``program``'s kernel module: its line reader, then the scanner's pass."""
    names = set(_HELPERS) | {n for n in access_scan._scan.py_func.__code__.co_names if n in vars(access_scan)}
    names -= {"_line", "np", "inline", "native"}
    return "\n".join([
        f'"""Scan kernel of one access-log format program ({program_key(program)}), generated by',
        f'forensics.loaders.scan_kernels from code {_generated_by()}: do not edit."""',
        "",
        "import numpy as np",
        "",
        f"from forensics.loaders.access_scan import {', '.join(sorted(names))}",
        "from forensics.loaders.native import inline, native",
        "",
        "",
        _line_source(program),
        "",
        _scan_source(),
    ])


def _folder() -> Path:
    """Where generated kernels are written: the package's ``__pycache__`` when it can be written,
    else the user's cache folder."""
    here = Path(__file__).parent / "__pycache__" / "format_kernels"
    try:
        here.mkdir(parents=True, exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "forensics" / "format_kernels"
    home.mkdir(parents=True, exist_ok=True)
    return home


def _written(path: Path, text: str) -> None:
    """``path`` holds ``text``: written (atomically, beside it) only when it does not already."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


_lock = threading.Lock()
_kernels: dict[str, Callable] = {}


def specialised_kernel(program: Program) -> Callable:
    """``program``'s own scan kernel (written and imported once per process; compiled once per
    install, numba's cache holding it beside its source): called as the interpreter's ``_scan``."""
    key = program_key(program)
    with _lock:
        if key not in _kernels:
            path = _folder() / f"scan_{key}.py"
            _written(path, kernel_source(program))
            name = f"forensics_format_kernel_{key}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # numba's cache names the module its kernel comes from
            spec.loader.exec_module(module)
            _kernels[key] = module._scan
        return _kernels[key]


def _named_keys() -> frozenset[str]:
    programs = (program_of(compile_format(name)) for name in (*NAMED_FORMATS, *ALIASES))
    return frozenset(program_key(p) for p in programs if p is not None)


_NAMED = _named_keys()


def kernel_of(program: Program) -> Callable:
    """The kernel that scans ``program``'s lines: its own for the program of a named format
    (:func:`specialised_kernel`), else the interpreter (:func:`forensics.loaders.access_scan._scan`)."""
    return specialised_kernel(program) if program_key(program) in _NAMED else access_scan._scan


def warm_up() -> None:
    """Write and compile (or load from numba's cache) the named formats' kernels."""
    for name in NAMED_FORMATS:
        program = program_of(compile_format(name))
        if program is not None:
            access_scan.warm_up(program, specialised_kernel(program))
