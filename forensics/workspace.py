"""The output folder of a run (``OUT/``) and the intermediate tables the notebooks share.

Each notebook of the series computes its part once and leaves its tables in ``OUT/tables/`` as
Parquet; later notebooks load them instead of recomputing. A table is tied to the evidence it
was computed from by a key (the SHA-256 digests of the case's inputs, from the manifest), so a
changed case is never answered from stale tables.

Layout (the run's outputs plus the tables)::

    OUT/manifest.json  findings.json  report.html  timeline.jsonl
    OUT/charts/*.svg *.png
    OUT/notebooks/*.ipynb
    OUT/tables/*.parquet  tables/*.json
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from forensics.cards import mask_frame, mask_json, register_manifest_digests

__all__ = ["Workspace", "notebook_dir", "resolve_path", "json_default"]


def notebook_dir() -> Path:
    """Folder of the running notebook, whatever folder Jupyter was started in.

    JupyterLab (jupyter-server >= 2) tells the kernel its notebook in ``JPY_SESSION_NAME``;
    papermill and nbval start the kernel in the notebook's folder. Outside a notebook: the cwd.
    """
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        p = Path(session)
        if p.suffix == ".ipynb" and p.is_absolute() and p.parent.is_dir():
            return p.parent
    return Path.cwd()


def resolve_path(path: str | os.PathLike, base: str | os.PathLike | None = None) -> Path:
    """``path`` made absolute: relative paths are taken from ``base`` (default: the notebook's folder)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base) if base is not None else notebook_dir()
        p = p / Path(path).expanduser()
    return p.resolve()


def json_default(value):
    """``json.dumps(default=...)`` for datetimes, dates, paths and sets."""
    import datetime as dt

    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _key_token(key: str | None) -> str | None:
    """How a key is stored beside a table: a base32 digest, letters and the digits 2-7, so a stored
    key never holds a digit run that passes for a card number (hex keys do, by chance)."""
    if key is None:
        return None
    import base64
    import hashlib

    return base64.b32encode(hashlib.sha256(key.encode("utf-8")).digest()).decode("ascii").rstrip("=").lower()


class Workspace:
    """``OUT/`` of one case: paths of every output, and Parquet/JSON tables shared by notebooks.

    Examples
    --------
    >>> ws = Workspace("/tmp/out-example")
    >>> ws.save_table("demo", pl.DataFrame({"n": [1, 2]})).name
    'demo.parquet'
    >>> ws.load_table("demo")["n"].to_list()
    [1, 2]
    """

    def __init__(self, root: str | os.PathLike, *, key: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.key = key
        for d in (self.root, self.tables_dir, self.charts_dir):
            d.mkdir(parents=True, exist_ok=True)
        register_manifest_digests(self.root / "manifest.json")  # masking keeps our own digests whole

    # -- paths -----------------------------------------------------------------------------------
    @property
    def tables_dir(self) -> Path:
        return self.root / "tables"

    @property
    def charts_dir(self) -> Path:
        return self.root / "charts"

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def findings_path(self) -> Path:
        return self.root / "findings.json"

    @property
    def report_path(self) -> Path:
        return self.root / "report.html"

    @property
    def timeline_path(self) -> Path:
        return self.root / "timeline.jsonl"

    def table_path(self, name: str) -> Path:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"bad table name {name!r}")
        return self.tables_dir / f"{name}.parquet"

    def json_path(self, name: str) -> Path:
        self.table_path(name)  # same name rules
        return self.tables_dir / f"{name}.json"

    # -- tables ----------------------------------------------------------------------------------
    # One small key file per table (not one shared index): notebooks run in parallel write
    # different tables without a read-modify-write race.
    def _key_path(self, name: str) -> Path:
        return self.tables_dir / f".{name}.key"

    def _stamp(self, name: str) -> None:
        _atomic_write(self._key_path(name), json.dumps(_key_token(self.key)))

    def has(self, name: str) -> bool:
        """A table or JSON object of this name exists and was computed from the same evidence."""
        exists = self.table_path(name).is_file() or self.json_path(name).is_file()
        kp = self._key_path(name)
        return exists and kp.is_file() and json.loads(kp.read_text(encoding="utf-8")) == _key_token(self.key)

    def save_table(self, name: str, frame: pl.DataFrame | pl.LazyFrame) -> Path:
        df = mask_frame(frame.collect() if isinstance(frame, pl.LazyFrame) else frame)
        path = self.table_path(name)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        df.write_parquet(tmp)
        tmp.replace(path)
        self._stamp(name)
        return path

    def load_table(self, name: str) -> pl.DataFrame:
        path = self.table_path(name)
        if not path.is_file():
            raise FileNotFoundError(f"table {name!r} not in {self.tables_dir} (run the notebook that makes it)")
        return pl.read_parquet(path)

    def save_json(self, name: str, obj: object) -> Path:
        path = self.json_path(name)
        text = json.dumps(obj, ensure_ascii=False, indent=1, default=json_default)
        _atomic_write(path, json.dumps(mask_json(json.loads(text)), ensure_ascii=False, indent=1))
        self._stamp(name)
        return path

    def load_json(self, name: str):
        return json.loads(self.json_path(name).read_text(encoding="utf-8"))

    def table(self, name: str, compute: Callable[[], pl.DataFrame | pl.LazyFrame]) -> pl.DataFrame:
        """Load table ``name`` if it is current, else compute, save and return it."""
        if self.has(name) and self.table_path(name).is_file():
            return self.load_table(name)
        frame = compute()
        self.save_table(name, frame)
        return self.load_table(name)

    def tables(self, names: list[str], compute: Callable[[], Mapping[str, pl.DataFrame | pl.LazyFrame]]) -> dict:
        """Several tables computed together: loaded if all are current, else computed and saved."""
        if all(self.has(n) for n in names):
            return {n: self.load_table(n) for n in names}
        frames = compute()
        for n in names:
            self.save_table(n, frames[n])
        return {n: self.load_table(n) for n in names}
