#!/usr/bin/env python3
"""Strip notebooks for commit: keep only the outputs nbval checks.

Every code cell loses its outputs and execution count, except cells whose source holds the
marker ``# NBVAL_CHECK_OUTPUT``: those keep their outputs (the sample case's right answers,
which ``make test`` compares with ``pytest --nbval-lax``). Execution metadata (papermill,
timings) is removed; tags (``parameters``) are kept. Output is deterministic, so running the
script twice changes nothing.

Usage::

    python scripts/strip_notebooks.py notebooks/*.ipynb            # strip in place
    python scripts/strip_notebooks.py --check notebooks/*.ipynb    # exit 1 if any would change
    python scripts/strip_notebooks.py --execute notebooks/*.ipynb  # run (in order, on the sample
                                                                   # case of their parameters), then strip

``--execute`` refreshes the checked outputs from the code as it is: review the diff before
committing, since those outputs are the right answers nbval holds the code to.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

MARKER = "# NBVAL_CHECK_OUTPUT"
KEEP_CELL_METADATA = ("tags",)
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
#: output metadata/keys that vary between runs and are not compared
VOLATILE_OUTPUT_KEYS = ("execution_count",)


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata = nbformat.NotebookNode({k: nb.metadata[k] for k in KEEP_NOTEBOOK_METADATA if k in nb.metadata})
    if "language_info" in nb.metadata:  # only the name: the version differs between machines
        nb.metadata["language_info"] = nbformat.NotebookNode({"name": nb.metadata["language_info"].get("name", "python")})
    number = 0
    for cell in nb.cells:
        cell.metadata = nbformat.NotebookNode({k: cell.metadata[k] for k in KEEP_CELL_METADATA if k in cell.metadata})
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        number += 1
        cell.execution_count = None
        if MARKER in cell.source and cell.outputs:
            # nbval compares only cells that ran ("Unrun reference cell has outputs" otherwise):
            # a deterministic count, the cell's position among the code cells.
            cell.execution_count = number
            kept = []
            for out in cell.outputs:
                for key in VOLATILE_OUTPUT_KEYS:
                    out.pop(key, None)
                out.pop("metadata", None) if out.get("output_type") == "stream" else None
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = number
                kept.append(out)
            cell.outputs = kept
        else:
            cell.outputs = []
    return nb


def execute(path: Path, *, timeout: int = 600) -> None:
    """Run ``path`` in place with its own folder as working directory (as nbval and Jupyter do)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report notebooks that are not stripped; change nothing")
    parser.add_argument("--execute", action="store_true", help="execute each notebook in place first (in the order given)")
    args = parser.parse_args(argv)
    if args.execute and args.check:
        parser.error("--execute and --check exclude each other")
    if args.execute:
        for path in args.notebooks:
            print(f"executing: {path}", flush=True)
            execute(path)
    dirty = []
    for path in args.notebooks:
        before = path.read_text(encoding="utf-8")
        nb = strip(nbformat.reads(before, as_version=4))
        after = nbformat.writes(nb) + "\n"
        if after != before:
            dirty.append(path)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    for path in dirty:
        print(f"{'not stripped' if args.check else 'stripped'}: {path}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
