"""Read a folder tree, or a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive of one, in place.

`open_tree` lists every regular file (as a tuple of path parts relative to the root) and every
folder, and reads a file's bytes on request; nothing is ever extracted to disk. Archives come from
outside, so a member whose name is absolute or holds a ``..`` part is refused, as is a link or a
device (their targets could lie outside the tree); the whole archive is then refused, before any
image is read. A plain ``.tar`` is read in place (each member's bytes with ``os.pread`` at its
offset, safe from many threads); a compressed ``.tar.gz`` cannot seek, so its members' bytes are
read once, in order, into memory; a ``.zip`` is read through `zipfile` (thread-safe reads).
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

from noisylab.errors import NoisylabError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
#: Largest archive member read (no image file is this big; guards against zip bombs).
MAX_MEMBER_BYTES = 1 << 28

Parts = tuple[str, ...]


def _member_parts(name: str, archive: Path) -> Parts:
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise NoisylabError(f"{archive}: member {name!r} has an absolute path; refusing the "
                            "archive")
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if ".." in parts:
        raise NoisylabError(f"{archive}: member {name!r} escapes the archive's folder (..); "
                            "refusing the archive")
    return parts


def _check_size(size: int, name: str, archive: Path) -> None:
    if size > MAX_MEMBER_BYTES:
        raise NoisylabError(f"{archive}: member {name!r} is {size} bytes, more than the "
                            f"{MAX_MEMBER_BYTES} an image may have; refusing the archive")


class Tree:
    """The files and folders under one root.

    Attributes
    ----------
    root : Path
        The folder or archive.
    files : dict of tuple of str to object
        Every regular file, by its path parts relative to the root, in listing order.
    folders : set of tuple of str
        Every folder (including the parents of files).
    """

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[Parts, object] = {}
        self.folders: set[Parts] = set()

    def _add_file(self, parts: Parts, handle) -> None:
        self.files[parts] = handle
        self.folders.update(parts[:i] for i in range(1, len(parts)))

    def name(self, parts: Parts) -> str:
        """How a file is shown in messages: ``ROOT/a/b.png`` or ``ARCHIVE:a/b.png``."""
        inner = "/".join(parts)
        return str(self.root / inner) if self.root.is_dir() else f"{self.root}:{inner}"

    def read(self, parts: Parts) -> bytes:
        """The bytes of one file."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file handles."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FolderTree(Tree):
    def __init__(self, root: Path):
        super().__init__(root)
        for dirpath, dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root).parts
            dirnames.sort()
            self.folders.update(rel + (d,) for d in dirnames)
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                if path.is_file():     # follows a link to a file, as a folder user expects
                    self._add_file(rel + (filename,), path)

    def read(self, parts):
        try:
            return self.files[parts].read_bytes()
        except OSError as exc:
            raise NoisylabError(f"cannot read {self.name(parts)}: {exc.strerror}") from None


_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class TarTree(Tree):
    def __init__(self, root: Path):
        super().__init__(root)
        with root.open("rb") as fh:
            head = fh.read(6)
        # A compressed stream cannot seek cheaply: read each member's bytes as it comes.
        self._data: dict[Parts, bytes] | None = (
            {} if head.startswith(_COMPRESSED_MAGIC) else None)
        self._fd = None
        try:
            with tarfile.open(root, "r:*") as tar:
                for member in tar:
                    parts = _member_parts(member.name, root)
                    if member.isdir():
                        if parts:
                            self.folders.add(parts)
                        continue
                    if not member.isreg():
                        raise NoisylabError(
                            f"{root}: member {member.name!r} is a link or a device, not a "
                            "regular file; refusing the archive")
                    if not parts:
                        continue
                    _check_size(member.size, member.name, root)
                    self._add_file(parts, (member.offset_data, member.size))
                    if self._data is not None:
                        self._data[parts] = tar.extractfile(member).read()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise NoisylabError(f"{root}: truncated or corrupt tar archive ({exc})") from None
        if self._data is None:
            self._fd = os.open(root, os.O_RDONLY)

    def read(self, parts):
        if self._data is not None:
            return self._data[parts]
        offset, size = self.files[parts]
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise NoisylabError(f"{self.name(parts)}: the archive ends inside this member")
        return data

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ZipTree(Tree):
    def __init__(self, root: Path):
        super().__init__(root)
        try:
            self._zip = zipfile.ZipFile(root)
        except (zipfile.BadZipFile, OSError) as exc:
            raise NoisylabError(f"{root}: not a readable zip archive ({exc})") from None
        for info in self._zip.infolist():
            parts = _member_parts(info.filename, root)
            if info.is_dir():
                if parts:
                    self.folders.add(parts)
                continue
            mode = info.external_attr >> 16
            if mode and not stat.S_ISREG(mode):
                raise NoisylabError(f"{root}: member {info.filename!r} is a link or a device, "
                                    "not a regular file; refusing the archive")
            if parts:
                _check_size(info.file_size, info.filename, root)
                self._add_file(parts, info)

    def read(self, parts):
        try:
            return self._zip.read(self.files[parts])
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise NoisylabError(
                f"{self.name(parts)}: cannot read it from the zip ({exc})") from None

    def close(self):
        self._zip.close()


def open_tree(source) -> Tree:
    """A `Tree` for a folder or a ``.tar``/``.tar.gz``/``.tgz``/``.zip`` archive.

    Raises
    ------
    NoisylabError
        A missing source, another kind of file, a corrupt archive, or an archive member that
        escapes its folder, is a link or a device.
    """
    path = Path(source)
    if path.is_dir():
        return FolderTree(path)
    if not path.exists():
        raise NoisylabError(f"--source {path} does not exist")
    lower = path.name.lower()
    if lower.endswith(".zip"):
        return ZipTree(path)
    if lower.endswith((".tar", ".tar.gz", ".tgz")):
        return TarTree(path)
    raise NoisylabError(f"--source {path} must be a folder or a "
                        f"{', '.join(ARCHIVE_SUFFIXES)} archive")
