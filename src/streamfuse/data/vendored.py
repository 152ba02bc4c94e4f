"""Read the datasets shipped inside the package (``_vendored/*.npz``), checking they are intact.

The files are built by ``scripts/vendor_data.py`` (sources and licences in
``_vendored/LICENSES.txt``) and their sha256 is recorded next to each loader. Any problem -- a
missing file, a checksum mismatch, a file numpy cannot read, a missing array or a wrong shape or
dtype -- raises ``DataError`` naming the file, what was found and what was expected, so a broken
install fails loudly instead of training on garbage.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from streamfuse.data.base import DataError

VENDORED_DIR = Path(__file__).resolve().parent / "_vendored"
_REBUILD = "reinstall streamfuse, or rebuild it with scripts/vendor_data.py"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Load every array of an .npz eagerly (numpy reads lazily, so errors surface here)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: holds a single .npy array; expected an .npz archive of "
                            f"named arrays (numpy.savez).")  # fmt: skip
        with loaded as archive:
            keys = list(archive.files)
            out = {}
            for key in keys:
                try:
                    out[key] = archive[key]
                except ValueError as e:  # object arrays need pickle, which we never allow
                    raise DataError(f"{path}: array {key!r} cannot be read ({e}); "
                                    f"expected a plain numeric array.") from None  # fmt: skip
            return out
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: file not found.") from None
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError) as e:
        raise DataError(
            f"{path}: not a readable .npz file ({type(e).__name__}: {e}); expected a zip archive "
            f"written by numpy.savez or numpy.savez_compressed."
        ) from None


def load_vendored(
    path: str | Path,
    sha256: str,
    expected: dict[str, tuple[str, tuple[int | None, ...]]],
    *,
    verify_checksum: bool = True,
) -> dict[str, np.ndarray]:
    """Read a vendored .npz and check it against ``sha256`` and ``expected``.

    ``expected`` maps array name -> (dtype kind: "f" float, "i" int, "b" bool, "U" str; shape with
    ``None`` for "any size"). Returns the arrays by name.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: vendored data file not found; {_REBUILD}.")
    if verify_checksum:
        got = sha256_of(path)
        if got != sha256:
            raise DataError(
                f"{path}: sha256 is {got}, expected {sha256}: the file is corrupt or was "
                f"modified; {_REBUILD}."
            )
    arrays = read_npz(path)
    for key, (kind, shape) in expected.items():
        if key not in arrays:
            got = ", ".join(arrays) or "none"
            raise DataError(f"{path}: array {key!r} is missing; expected arrays "
                            f"{', '.join(expected)}; got {got}.")  # fmt: skip
        a = arrays[key]
        shape_ok = a.ndim == len(shape) and all(e is None or e == g for e, g in zip(shape, a.shape))
        if a.dtype.kind != kind or not shape_ok:
            want = tuple("*" if e is None else e for e in shape)
            raise DataError(
                f"{path}: array {key!r} is {a.dtype} {a.shape}; expected dtype kind {kind!r} "
                f"with shape {want}."
            )
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed .npz with fixed timestamps, so the same arrays always give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, member.getvalue(), compresslevel=9)
    return buffer.getvalue()
