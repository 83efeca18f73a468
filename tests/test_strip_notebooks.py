"""scripts/strip_notebooks.py keeps only the outputs nbval checks, deterministically."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "strip_notebooks.py"
spec = importlib.util.spec_from_file_location("strip_notebooks", SCRIPT)
strip_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(strip_notebooks)


def _nb(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    keep = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(55)", execution_count=3)
    keep.outputs = [nbformat.v4.new_output("stream", name="stdout", text="55\n")]
    drop = nbformat.v4.new_code_cell("x", execution_count=4)
    drop.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "0x7f00"}, execution_count=4)]
    drop.metadata["papermill"] = {"duration": 1.2}
    drop.metadata["tags"] = ["parameters"]
    nb.cells = [keep, drop]
    nb.metadata["papermill"] = {"start_time": "now"}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_strip_keeps_checked_outputs_only(tmp_path):
    path = tmp_path / "a.ipynb"
    _nb(path)
    assert strip_notebooks.main(["--check", str(path)]) == 1
    assert strip_notebooks.main([str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "55\n"
    assert nb.cells[0].execution_count == 1  # nbval skips "unrun" reference cells
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert nb.cells[1].metadata == {"tags": ["parameters"]}
    assert "papermill" not in nb.metadata
    before = path.read_text()
    assert strip_notebooks.main(["--check", str(path)]) == 0
    assert path.read_text() == before


def test_committed_notebooks_are_stripped():
    books = sorted((SCRIPT.parents[1] / "notebooks").glob("*.ipynb"))
    assert books
    assert strip_notebooks.main(["--check", *map(str, books)]) == 0
