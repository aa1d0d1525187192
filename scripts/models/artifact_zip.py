"""The trained models' artifacts are zip files that must come out byte for byte the same when
retrained on the same data (the repository holds them; a rebuild must not show as a change)."""

from __future__ import annotations

import io
import zipfile

# A fixed timestamp keeps the zip byte-identical across rebuilds.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A deflated zip of `members` (name -> content), in their order, with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()
