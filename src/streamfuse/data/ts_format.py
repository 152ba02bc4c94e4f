"""A small reader for the ``.ts`` time-series format of the UEA/UCR archives (sktime, aeon).

Format (one file per split)::

    # comment lines
    @problemName BasicMotions
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    0.07,0.07,-0.90,...:0.39,...:...:Standing      <- dims separated by ':', label last

Header tags are case-insensitive; unknown tags are ignored. ``?`` marks a missing value and is
read as NaN. Only what a dense array can hold is supported: equal-length series without
timestamps, with class labels. Anything else, or any malformed line, raises ``DataError`` naming
the file and line number.

``read_ts(path) -> (X, labels)``: X float32 ``(N, dims, length)``, labels ``list[str]`` (N,).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamfuse.data.base import DataError


def _bool(value: str, where: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise DataError(f"{where}: got {value!r}; expected 'true' or 'false'.")
    return value.lower() == "true"


def _int(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{where}: got {value!r}; expected an integer.") from None


def _parse_header(tag: str, rest: str, where: str, header: dict) -> None:
    """Record one ``@tag rest`` header line in ``header``."""
    if tag == "timestamps" and _bool(rest, where):
        raise DataError(f"{where}: @timeStamps true is not supported; expected plain values.")
    if tag == "equallength" and not _bool(rest, where):
        raise DataError(f"{where}: @equalLength false is not supported; expected equal lengths.")
    if tag in ("dimensions", "dimension", "serieslength"):
        header[tag.rstrip("s")] = _int(rest, where)
    elif tag == "classlabel":
        flag, *names = rest.split() or [""]
        if flag.lower() != "true" or not names:
            raise DataError(f"{where}: got '@classLabel {rest}'; expected class labels "
                            f"('@classLabel true A B ...').")  # fmt: skip
        header["classes"] = names
    elif tag == "targetlabel" and _bool(rest, where):
        raise DataError(f"{where}: regression targets are not supported; expected class labels.")


def _parse_row(line: str, where: str, n_dims: int | None) -> tuple[list[np.ndarray], str]:
    *fields, label = line.split(":")
    if not fields:
        raise DataError(f"{where}: got no ':' separator; expected 'values:...:label'.")
    if n_dims is not None and len(fields) != n_dims:
        raise DataError(f"{where}: got {len(fields)} dimensions; expected {n_dims}.")
    dims = []
    for d, field in enumerate(fields):
        tokens = field.replace("?", "nan").split(",")
        try:
            dims.append(np.array(tokens, dtype=np.float64))
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise DataError(f"{where}: dimension {d} holds {bad!r}; expected a number.") from None
    return dims, label.strip()


def _is_float(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def read_ts(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read an equal-length, labelled ``.ts`` file -> (X float32 (N, dims, length), labels)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read .ts file ({e}).") from None
    header: dict = {}
    rows: list[list[np.ndarray]] = []
    labels: list[str] = []
    in_data = False
    for number, raw in enumerate(lines, start=1):
        line, where = raw.strip(), f"{path}, line {number}"
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(f"{where}: got {line[:40]!r} before @data; expected '@tag value'.")
            tag, _, rest = line[1:].partition(" ")
            if tag.lower() == "data":
                in_data = True
            else:
                _parse_header(tag.lower(), rest.strip(), where, header)
            continue
        n_dims = header.get("dimension", len(rows[0]) if rows else None)
        dims, label = _parse_row(line, where, n_dims)
        length = header.get("serieslength", len(rows[0][0]) if rows else len(dims[0]))
        if any(len(d) != length for d in dims):
            got = sorted({len(d) for d in dims})
            raise DataError(f"{where}: series length {got}; expected {length} for every dimension.")
        if "classes" in header and label not in header["classes"]:
            raise DataError(f"{where}: label {label!r} is not among the declared classes "
                            f"{header['classes']}.")  # fmt: skip
        rows.append(dims)
        labels.append(label)
    if not in_data:
        raise DataError(f"{path}: no @data line; expected a header ending in @data.")
    if not rows:
        raise DataError(f"{path}: no series after @data; expected at least one.")
    return np.asarray(rows, dtype=np.float32), labels
