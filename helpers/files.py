"""Files that are never half-written: atomic writes, stale temporaries, sha256, deterministic gzip.

The plumbing under checkpoints (04), the MNIST download cache and the shipped sample. A write goes
to a hidden temporary file beside its target, is flushed and fsynced, and is renamed over the
target in one step, so a crash, a kill or a full disk leaves the old file whole. A temporary
carries its writer's process id, so one left by a killed writer is recognised as stale and removed
later; a file that does not match that pattern exactly is never deleted.

Taught in 04_training (why a checkpoint is written this way).
"""

from __future__ import annotations

import errno
import glob
import gzip
import hashlib
import io
import os
import re
import secrets
from pathlib import Path

TEMPORARY_SUFFIX = ".partial"
WRITE_CHUNK_BYTES = 1 << 20


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(WRITE_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def require_file(path: str | Path, *, missing: str, empty: str) -> Path:
    """`path` as a Path if it is a file with bytes in it, else an error that ends with the advice.

    FileNotFoundError ``"{path}: {missing}"`` when there is no such file, ValueError
    ``"{path} is empty (0 bytes){empty}"`` when it has no bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {missing}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes){empty}")
    return path


def writer_is_gone(pid: int) -> bool:
    """True when no process `pid` runs on this machine (POSIX); False when unsure or elsewhere.

    On Windows `os.kill(pid, 0)` would end that process, so nothing is ever judged gone there.
    """
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False  # it exists but belongs to someone else, or the pid is out of range
    return False


def temporary_name(path: Path) -> Path:
    """Where `atomic_write` writes before renaming: ``.NAME.PID.TOKEN.partial`` beside `path`.

    Hidden, not ending in the target's suffix, and carrying the writer's process id, so a file
    left by a killed writer is never mistaken for the real one and can be recognised as stale.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")


def _is_stale_temporary(candidate: Path, path: Path) -> bool:
    """True for a temporary file of `path` whose writing process no longer runs."""
    suffix = re.escape(TEMPORARY_SUFFIX)
    pattern = rf"\.{re.escape(path.name)}\.([1-9][0-9]{{0,9}})\.[0-9a-f]{{8}}{suffix}"
    match = re.fullmatch(pattern, candidate.name)
    if match is None or not candidate.is_file() or candidate.is_symlink():
        return False
    return writer_is_gone(int(match.group(1)))


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files that killed writers left for `path`, and nothing else."""
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*{TEMPORARY_SUFFIX}"):
        if _is_stale_temporary(candidate, path):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def fsync_directory(folder: Path) -> None:
    """Flush a folder's entries to disk so a rename survives a power cut (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise  # some file systems cannot fsync a folder; that is not a failed write
    finally:
        os.close(descriptor)


def atomic_write(path: str | Path, payload: bytes | memoryview) -> Path:
    """Write `payload` to `path` so that readers see the old file or the new one, never half.

    The bytes go to `temporary_name(path)` (created exclusively), are fsynced, renamed over
    `path` with `os.replace`, and the folder is fsynced. On any error, Ctrl-C included, the
    temporary is removed and `path` is as it was; the OSError is raised unchanged for the caller
    to word. After a successful write, temporaries that killed writers left for `path` go.
    """
    path = Path(path)
    payload = memoryview(payload)
    partial = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            for start in range(0, len(payload), WRITE_CHUNK_BYTES):
                chunk = payload[start : start + WRITE_CHUNK_BYTES]
                while chunk:
                    chunk = chunk[os.write(descriptor, chunk) :]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(partial, path)
        fsync_directory(path.parent)
    finally:
        partial.unlink(missing_ok=True)  # this write's own temporary; gone already after a rename
    remove_stale_temporaries(path)
    return path


def write_gzip_deterministic(data: bytes, path: str | Path) -> Path:
    """Write gzip bytes that depend only on `data` (no timestamp, no file name), atomically.

    GzipFile rather than `gzip.compress`: the latter lets zlib write the header on some Python
    versions, with another operating-system byte, and the shipped sample's sha256 would change.
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as packed:
        packed.write(data)
    return atomic_write(path, buffer.getbuffer())
