"""Write an issue's files so that a crash never leaves a half-written one.

Each file is written to a temporary name in the same folder, flushed to disk,
and renamed over the old one: readers see the old file or the new one, never
a torn mix of bytes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_issue(folder: Path, files: Mapping[str, bytes]) -> tuple[Path, ...]:
    """Write every file of the issue; the data file last, since it says the issue is whole."""
    order = sorted(files, key=lambda name: (name == "digest.json", name))
    paths = []
    for name in order:
        path = folder / name
        write_atomic(path, files[name])
        paths.append(path)
    return tuple(sorted(paths))
