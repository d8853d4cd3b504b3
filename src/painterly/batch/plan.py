"""Which images a batch paints and where each result goes.

Local inputs and outputs are planned by the job layer's own functions, so a
batch names its outputs exactly as ``painterly stylize folder/ -o out/``
does; URIs get the same names. Only names travel to the workers: the driver
never reads an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ..errors import OutputError, UsageError
from ..jobs.plan import IMAGE_SUFFIXES, gather_inputs, output_name, plan_outputs
from .uris import basename, is_uri, join, list_images, local_path, make_folder


@dataclass(frozen=True)
class BatchTask:
    """One image of a batch.

    Attributes:
        index: position in the batch (input order).
        input: absolute path or URI of the photo.
        output: absolute path or URI of the result.
    """

    index: int
    input: str
    output: str


def gather(inputs: Sequence[str]) -> Tuple[List[str], List[str]]:
    """The image names of ``inputs`` (folders give their images, sorted) and notes (empty folders)."""
    names: List[str] = []
    notes: List[str] = []
    for text in inputs:
        text = str(text)
        if is_uri(text):
            found, is_folder = list_images(text, IMAGE_SUFFIXES)
            if is_folder and not found:
                notes.append(f"no images in folder {text} ({', '.join(IMAGE_SUFFIXES)})")
            names.extend(found)
        else:
            files, _, more = gather_inputs([str(local_path(text))])
            names.extend(str(f) for f in files)
            notes.extend(more)
    return names, notes


def _uri_outputs(names: Sequence[str], output: str, suffix: str) -> List[str]:
    from ..imaging.io import OUTPUT_FORMATS

    taken: Dict[str, int] = {}
    planned = []
    for name in names:
        out = output_name(Path(basename(name)), suffix)
        count = taken.get(out.lower(), 0)
        taken[out.lower()] = count + 1
        if count:
            out = f"{Path(out).stem}_{count}{Path(out).suffix}"
        if Path(out).suffix.lower() not in OUTPUT_FORMATS:
            raise OutputError(f"unsupported output format '{Path(out).suffix}' for {out}; use .png, .jpg, .webp, .tif or .bmp")
        planned.append(join(output, out))
    return planned


def plan_batch(inputs: Sequence[str], output: str, suffix: str = "") -> Tuple[List[BatchTask], List[str]]:
    """Plan a batch: one task per input image, the output folder created.

    Args:
        inputs: image files, folders, or URIs of either.
        output: the output folder (path or URI); always a folder, even for one input.
        suffix: output format (``.jpg``); default: the input's (PNG for others).

    Returns:
        ``(tasks, notes)``.

    Raises:
        UsageError: no inputs, or no images in them; an output that is a file.
        OutputError: an unknown output format or a folder that cannot be made.
    """
    if not inputs:
        raise UsageError("no inputs given")
    if not str(output).strip():
        raise UsageError("give an output folder with -o")
    names, notes = gather(inputs)
    if not names:
        raise UsageError("no input images found" + (f" ({notes[0]})" if notes else ""))
    if is_uri(output):
        make_folder(output)
        outputs = _uri_outputs(names, output, suffix)
    else:
        from ..imaging.io import check_output_path

        paths = plan_outputs([Path(basename(n)) for n in names], str(local_path(output)), True, suffix)
        for target in paths:
            check_output_path(target)
        outputs = [str(p) for p in paths]
    return [BatchTask(i, name, out) for i, (name, out) in enumerate(zip(names, outputs))], notes


def local_folder(output: str) -> Path | None:
    """The local folder behind ``output`` (a path or ``file://`` URI); None for remote stores."""
    if not is_uri(output):
        return local_path(output)
    if output.startswith("file://"):
        return Path(output[len("file://"):] or "/")
    return None


__all__ = ["BatchTask", "gather", "local_folder", "plan_batch"]
