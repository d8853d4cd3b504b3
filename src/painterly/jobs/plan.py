"""Which files a job reads and where each result goes.

Planning happens before any painting, so a bad output name or an output that
would overwrite an input fails in a second, not after minutes of work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ..errors import OutputError, UsageError
from ..imaging.io import IMAGE_EXTENSIONS as IMAGE_SUFFIXES  # the one list, under the name planners use

#: Output formats kept from the input's extension (others become PNG).
KEEP_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")


def gather_inputs(inputs: Sequence[str]) -> Tuple[List[Path], bool, List[str]]:
    """The image files named by ``inputs`` (a folder gives its images, not recursively, sorted).

    Returns:
        ``(files, to_folder, notes)``: ``to_folder`` is True when the output
        must be a folder (several inputs, or a folder among them); ``notes``
        are warnings for the caller to show (an empty folder).
    """
    files: List[Path] = []
    notes: List[str] = []
    to_folder = len(inputs) > 1
    for text in inputs:
        path = Path(str(text)).expanduser()
        if path.is_dir():
            to_folder = True
            found = sorted(
                p for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                notes.append(f"no images in folder {path} ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        else:
            files.append(path)  # a missing file is reported when it is read, with the others going on
    return files, to_folder, notes


def output_name(source: Path, suffix: str = "") -> str:
    """File name of ``source``'s result in an output folder: same stem, same format where
    it is an output format (else PNG), or ``suffix`` (``.jpg``) when given."""
    if suffix:
        return source.stem + (suffix if suffix.startswith(".") else "." + suffix)
    keep = source.suffix.lower() in KEEP_SUFFIXES
    return source.stem + (source.suffix if keep else ".png")


def plan_outputs(files: Sequence[Path], output: str, to_folder: bool, suffix: str = "") -> List[Path]:
    """Where each input goes; creates the output folder when one is needed.

    Two inputs with one name (from different folders) get ``name_1``, ``name_2`` ...

    Raises:
        UsageError: several inputs but ``output`` is a file.
        OutputError: the folder cannot be created.
    """
    out = Path(str(output)).expanduser()
    if not to_folder and not out.is_dir() and not str(output).endswith(("/", os.sep)):
        return [out]
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {output}: several inputs need an output folder, but this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    taken: Dict[str, int] = {}
    planned = []
    for source in files:
        name = output_name(source, suffix)
        count = taken.get(name.lower(), 0)
        taken[name.lower()] = count + 1
        if count:
            name = f"{Path(name).stem}_{count}{Path(name).suffix}"
        planned.append(out / name)
    return planned


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name one existing file (writing ``b`` would destroy ``a``)."""
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


__all__ = ["IMAGE_SUFFIXES", "KEEP_SUFFIXES", "gather_inputs", "output_name", "plan_outputs", "same_file"]
