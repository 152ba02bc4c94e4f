"""Files the training layer, bench and CLI write: atomic, umask-honouring, checked before work.

    atomic_write_bytes(path, write)   temp file next to ``path``, fsync, rename over it
    save_figure(fig, path)            a matplotlib figure as PNG, atomically
    check_writable_dir(folder, flag)  probe-write a folder (created if missing) before any work
    check_writable_file(path, flag)   the same for a file's folder; ``path`` must not be a folder
    FolderLock(folder)                an exclusive ``fcntl`` lock on ``folder/.streamfuse.lock``

Standard library only (no torch, no numpy), so every layer may use it.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import StreamFuseError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOCK_NAME = ".streamfuse.lock"


def _umask() -> int:
    """The process umask, read without changing it where ``/proc`` allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no portable getter: set and restore
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file)`` on a temp file next to ``path``, then rename it into place.

    An interrupted write never leaves a half-written ``path``; the file gets the permissions any
    new file gets here (``0o666`` less the umask), not the temp file's ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> None:
    """Write a matplotlib figure as PNG atomically (rendered in memory first) and close it."""
    import matplotlib.pyplot as plt  # the caller made ``fig``, so matplotlib is there

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, lambda fh: fh.write(buf.getvalue()))


def check_writable_dir(folder: str | os.PathLike[str], flag: str) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any work.

    Raises ``StreamFuseError`` naming ``flag`` when ``folder`` (or a parent) is a file, or the
    folder cannot be created or written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise StreamFuseError(f"{flag} {str(folder)!r} is a file, not a folder; choose a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".streamfuse-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StreamFuseError(f"{flag} {str(folder)!r} cannot be written ({exc.strerror or exc}); choose a writable folder") from None
    return folder


def check_writable_file(path: str | os.PathLike[str], flag: str) -> Path:
    """``path`` is a file that can be created: not a folder, its folder writable (made if missing)."""
    path = Path(path)
    if path.is_dir():
        raise StreamFuseError(f"{flag} {str(path)!r} is a folder; give a file path such as {str(path / 'model.pt')!r}")
    check_writable_dir(path.parent if str(path.parent) else Path("."), flag)
    return path


class FolderLock:
    """Exclusive lock on a results folder, held while a process writes there.

    ``with FolderLock(out):`` takes an ``fcntl.flock`` on ``out/.streamfuse.lock`` (which keeps
    the holder's pid) or raises ``StreamFuseError`` naming that pid. The kernel drops the lock
    when the process ends, however it ends, so a stale lock file never blocks anyone. Where
    ``fcntl`` does not exist (Windows) there is no lock.
    """

    def __init__(self, folder: str | os.PathLike[str], what: str = "streamfuse") -> None:
        self.path = Path(folder) / LOCK_NAME
        self.what = what
        self.fd: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not Linux/macOS
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StreamFuseError(
                f"{str(self.path.parent)!r} is in use by another {self.what} process (pid {holder}); nothing was "
                "written. Wait for it to finish, or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
