"""The model file format: one file per trained network, found by path or by name.

A model is ``NAME.safetensors``: the network's ``state_dict`` as float32
tensors, and in the safetensors header's ``__metadata__`` (a str -> str map):

* ``"painterly"``: JSON of the model's metadata::

    {"format": "painterly-model", "format_version": 1, "kind": "feedforward",
     "architecture": "fast", "options": {...}, "styles": ["starry_night", ...],
     "train": {...config, final losses, hardware, seconds...},
     "painterly_version": "0.1.0", "created": "2026-11-24T20:00:00+00:00"}

* ``"painterly_weights_sha256"``: SHA-256 of the tensor data (the bytes after
  the header), so a damaged file is refused instead of painting garbage.

An ONNX export carries the same JSON under the model's ``metadata_props`` key
``"painterly"``, so both kinds list and load by name alike.

Reading the metadata (:func:`read_model_info`, :func:`list_models`,
:func:`find_model`) never imports torch: the safetensors header is 8 bytes of
little-endian length followed by JSON, parsed here with ``struct`` and
``json``. Only :func:`save_model` and :func:`load_model` import torch, lazily.

Models are looked up by name in :func:`models_dirs`: the user's folder first
(``$PAINTERLY_MODELS``, else ``$XDG_DATA_HOME/painterly/models``, else
``~/.local/share/painterly/models``), then the package's bundled
``painterly/data/models``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ..errors import ConfigError, ModelError, UsageError, did_you_mean
from .kinds import KINDS, model_kind

if TYPE_CHECKING:  # pragma: no cover
    from .transformer import StyleNetwork

#: ``meta["format"]`` of every painterly model file.
FORMAT = "painterly-model"
#: The newest format this painterly reads and the one it writes.
FORMAT_VERSION = 1
#: Metadata keys in the safetensors header / ONNX metadata_props.
META_KEY = "painterly"
SHA_KEY = "painterly_weights_sha256"
#: File kinds a model may be stored as.
MODEL_SUFFIXES = (".safetensors", ".onnx")

# A real header is a few kB; refuse absurd lengths before allocating them.
_MAX_HEADER = 100 * 1024 * 1024
_REQUIRED = ("format", "format_version", "kind", "styles")

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself (read without loading the weights).

    Attributes:
        path: the file.
        name: the name it is found by (the file name without suffix).
        kind: ``"feedforward"``.
        architecture: ``"fast"`` or ``"johnson"`` (see models/transformer.py).
        options: the network's constructor options.
        styles: the style names, in conditioning order (index i = style i).
        size_bytes: size of the file.
        meta: the whole metadata dict (``train`` holds the training config,
            final losses, hardware and seconds).
    """

    path: Path
    name: str
    kind: str
    architecture: str
    options: Dict[str, Any]
    styles: List[str]
    size_bytes: int
    meta: Dict[str, Any] = field(repr=False)

    @property
    def format(self) -> str:
        """``"safetensors"`` or ``"onnx"``."""
        return self.path.suffix.lower().lstrip(".")


def _corrupt(path: Path, why: str) -> ModelError:
    return ModelError(f"model file {path} is corrupt or not a model file ({why})")


def _read_safetensors_header(path: Path) -> Tuple[Dict[str, Any], int, int]:
    """Return (header dict, header length, file size), checking the layout is whole."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise _corrupt(path, f"{size} bytes, too short for a safetensors header")
            (length,) = struct.unpack("<Q", head)
            if length < 2 or length > _MAX_HEADER or length > size - 8:
                raise _corrupt(path, "bad safetensors header length")
            raw = handle.read(length)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _corrupt(path, "the safetensors header is not JSON") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "the safetensors header is not a JSON object")
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            begin, stop = entry["data_offsets"]
            if not (0 <= int(begin) <= int(stop)):
                raise ValueError
            end = max(end, int(stop))
        except (TypeError, KeyError, ValueError):
            raise _corrupt(path, f"tensor '{key}' has no valid data offsets") from None
    if 8 + length + end != size:
        what = "truncated" if 8 + length + end > size else "trailing bytes after the tensors"
        raise _corrupt(path, what)
    return header, length, size


def _read_onnx_metadata(path: Path) -> Optional[str]:
    """The ``painterly`` metadata_props value of an ONNX file, or None."""
    try:
        import onnx  # lazy: only needed for .onnx files
    except ImportError:
        onnx = None  # type: ignore[assignment]
    if onnx is not None:
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds
            raise _corrupt(path, f"not a readable ONNX model: {type(exc).__name__}") from exc
        for prop in model.metadata_props:
            if prop.key == META_KEY:
                return prop.value
        return None
    from ..onnx_support import make_session

    try:
        session = make_session(path)
    except ModelError as exc:
        raise _corrupt(path, f"not a readable ONNX model ({exc})") from None
    return session.get_modelmeta().custom_metadata_map.get(META_KEY)


def parse_meta(text: Optional[str], path: Path) -> Dict[str, Any]:
    """Decode and check the ``painterly`` metadata JSON of ``path``.

    Raises:
        ModelError: missing (not a painterly model), not JSON, a newer or
            unknown format version, or required keys missing.
    """
    if text is None:
        raise ModelError(f"{path} is not a painterly model (it has no '{META_KEY}' metadata)")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError:
        raise _corrupt(path, "its painterly metadata is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{path} is not a painterly model (metadata format is not '{FORMAT}')")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _corrupt(path, f"format_version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        from .. import __version__

        raise ModelError(
            f"{path} was made by a newer painterly (model format version {version}; painterly "
            f"{__version__} reads up to {FORMAT_VERSION}): upgrade painterly to use it"
        )
    missing = [key for key in _REQUIRED if key not in meta]
    if meta.get("kind") in KINDS:
        missing += [key for key in ("architecture", "options") if key not in meta]
    if missing:
        raise _corrupt(path, f"its metadata lacks {', '.join(repr(k) for k in missing)}")
    styles = meta["styles"]
    # An AdaIN decoder takes its style from an image at run time: no styles.
    may_be_empty = meta.get("kind") in KINDS and not KINDS[meta["kind"]].needs_styles
    if not isinstance(styles, list) or not (styles or may_be_empty) or not all(isinstance(s, str) for s in styles):
        raise _corrupt(path, "its metadata 'styles' is not a non-empty list of names")
    if not isinstance(meta.get("options", {}), dict):
        raise _corrupt(path, "its metadata 'options' is not an object")
    return meta


def read_model_info(path: PathLike) -> ModelInfo:
    """Read a model file's metadata without loading its weights (and without torch).

    Args:
        path: a ``.safetensors`` or ``.onnx`` model file.

    Raises:
        ModelError: missing, unreadable, corrupt or truncated, not a painterly
            model, or of a newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        text = _read_onnx_metadata(path)
        size = path.stat().st_size
    elif suffix == ".safetensors":
        header, _, size = _read_safetensors_header(path)
        metadata = header.get("__metadata__")
        text = metadata.get(META_KEY) if isinstance(metadata, dict) else None
    else:
        raise ModelError(
            f"{path} is not a model file: models end in {' or '.join(MODEL_SUFFIXES)}"
        )
    meta = parse_meta(text, path)
    return ModelInfo(
        path=path,
        name=path.stem,
        kind=str(meta["kind"]),
        architecture=str(meta.get("architecture", "")),
        options=dict(meta.get("options", {})),
        styles=list(meta["styles"]),
        size_bytes=size,
        meta=meta,
    )


def make_meta(
    net: "StyleNetwork", styles: Sequence[str], train: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """The metadata dict of a model (see the module docstring); ``kind`` is ``net.kind`` (default feedforward)."""
    from .. import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": getattr(net, "kind", "feedforward"),
        "architecture": net.architecture,
        "options": dict(net.options),
        "styles": list(styles),
        "train": dict(train or {}),
        "painterly_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _data_sha256(blob: bytes) -> str:
    (length,) = struct.unpack("<Q", blob[:8])
    return hashlib.sha256(memoryview(blob)[8 + length :]).hexdigest()


def model_bytes(net: "StyleNetwork", meta: Dict[str, Any]) -> bytes:
    """Serialize ``net`` and ``meta`` to the bytes of a ``.safetensors`` model file."""
    import torch
    from safetensors.torch import save as st_save

    if len(meta.get("styles", [])) != net.n_styles:
        raise ModelError(
            f"the metadata names {len(meta.get('styles', []))} styles but the network holds {net.n_styles}"
        )
    tensors = {
        name: value.detach().to("cpu", torch.float32).contiguous() for name, value in net.state_dict().items()
    }
    full = dict(meta)
    full.update(architecture=net.architecture, options=dict(net.options))
    text = json.dumps(full, sort_keys=True)
    # The data bytes do not depend on the metadata, so hash them from a first
    # serialization and store the hash in the second.
    digest = _data_sha256(st_save(tensors, metadata={META_KEY: text}))
    return st_save(tensors, metadata={META_KEY: text, SHA_KEY: digest})


def save_model(path: PathLike, net: "StyleNetwork", meta: Dict[str, Any]) -> Path:
    """Write ``net`` as a model file, atomically (a reader never sees half a file).

    Args:
        path: destination ending in ``.safetensors``; its folder must exist.
        net: the network (any device; saved as float32 on the CPU).
        meta: metadata, usually from :func:`make_meta`; ``architecture`` and
            ``options`` are taken from ``net``.

    Raises:
        ModelError: wrong suffix or a style count that does not match the network.
        OutputError: the file cannot be written (the old one is then untouched).
    """
    from ..imaging.io import write_atomic

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise ModelError(f"model files end in .safetensors, not '{path.suffix or '(none)'}': {path}")
    return write_atomic(path, model_bytes(net, meta))


def load_model(name_or_path: PathLike, device: Any = "cpu", kind: str = "feedforward") -> Tuple[Any, ModelInfo]:
    """Load a model by path or by name (see :func:`find_model`).

    Args:
        name_or_path: a ``.safetensors`` file, or a model name.
        device: torch device for the network.
        kind: the kind wanted: ``"feedforward"`` gives a
            :class:`~painterly.models.transformer.StyleNetwork`, ``"adain"`` a
            :class:`~painterly.models.adain.Decoder`.

    Returns:
        ``(network in eval mode, info)``.

    Raises:
        ModelError: not found, corrupt (checksum or layout), not a
            model of ``kind``, an ONNX file (load those with onnxruntime),
            or weights that do not fit the architecture.
    """
    path = find_model(name_or_path, prefer=(".safetensors", ".onnx"))
    if path.suffix.lower() == ".onnx":
        raise ModelError(
            f"{path} is an ONNX model, which runs with onnxruntime; torch needs the .safetensors file"
        )
    info = read_model_info(path)
    if info.kind != kind:
        wanted = KINDS[kind].description if kind in KINDS else repr(kind)
        raise ModelError(f"{path} is a '{info.kind}' model, not {wanted}")
    from safetensors.torch import load as st_load

    blob = path.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    expected = json.loads(blob[8 : 8 + length]).get("__metadata__", {}).get(SHA_KEY)
    if expected is not None and _data_sha256(blob) != expected:
        raise _corrupt(path, "the weights do not match their checksum")
    try:
        state = st_load(blob)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own kinds
        raise _corrupt(path, f"cannot decode the tensors: {exc}") from exc
    try:
        net = model_kind(info.kind).build(info)
    except ConfigError as exc:
        raise ModelError(f"{path}: {exc} (made by a newer painterly?)") from exc
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"{path}: the weights do not fit a '{info.architecture}' network ({first})") from exc
    return net.to(device).eval(), info


def user_models_dir() -> Path:
    """The user's models folder (it need not exist)."""
    env = os.environ.get("PAINTERLY_MODELS")
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "painterly" / "models"


def bundled_models_dir() -> Path:
    """The models shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "models"


def models_dirs() -> List[Path]:
    """Folders searched for models by name, in order: the user's, then the bundled one."""
    return [user_models_dir(), bundled_models_dir()]


def _model_files(folder: Path) -> List[Path]:
    try:
        return sorted(
            p for p in folder.iterdir() if p.suffix.lower() in MODEL_SUFFIXES and p.is_file()
        )
    except OSError:
        return []


def model_names() -> List[str]:
    """Names of all model files in :func:`models_dirs` (sorted, unique)."""
    return sorted({p.stem for folder in models_dirs() for p in _model_files(folder)})


def find_model(name_or_path: PathLike, prefer: Sequence[str] = (".onnx", ".safetensors")) -> Path:
    """Resolve a model path or name to a file.

    Args:
        name_or_path: an existing file, or a name (``starry_night``, or
            ``starry_night.onnx`` for that kind only) looked up in
            :func:`models_dirs`, the user's folder first.
        prefer: suffixes to try for a bare name, in order.

    Raises:
        ModelError: a path that does not exist, or an unknown name (the
            message suggests the closest name and lists the available ones).
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a model file")
    if "/" in text or os.sep in text or not text.strip():
        raise ModelError(f"model file not found: {path}")
    suffix = path.suffix.lower()
    name, suffixes = (path.stem, (suffix,)) if suffix in MODEL_SUFFIXES else (text, tuple(prefer))
    for folder in models_dirs():
        for ext in suffixes:
            candidate = folder / (name + ext)
            if candidate.is_file():
                return candidate
    names = model_names()
    if names:
        hint = f"{did_you_mean(name, names)}; available: {', '.join(names)}"
    else:
        hint = f"; no models installed (in {user_models_dir()}): train one with 'painterly train' or give a file path"
    raise ModelError(f"unknown model '{text}'{hint}")


def list_models(
    prefer: Sequence[str] = (".onnx", ".safetensors"),
    errors: Optional[List[Tuple[Path, str]]] = None,
) -> List[ModelInfo]:
    """One :class:`ModelInfo` per model name in :func:`models_dirs`, sorted by name.

    A name in the user's folder hides the same name in the bundled folder;
    within a folder the file of the first suffix in ``prefer`` that reads
    cleanly is listed (the same one :func:`find_model` picks by name).

    Args:
        prefer: suffix order, as for :func:`find_model`.
        errors: if given, ``(path, message)`` is appended for every model
            file that could not be read (so callers can warn); else such
            files are skipped silently.
    """
    found: Dict[str, ModelInfo] = {}
    rank = {ext: i for i, ext in enumerate(prefer)}
    for folder in models_dirs():
        files = [p for p in _model_files(folder) if p.suffix.lower() in rank]
        files.sort(key=lambda p: (p.stem, rank[p.suffix.lower()]))
        for path in files:
            if path.stem in found:
                continue
            try:
                found[path.stem] = read_model_info(path)
            except ModelError as exc:
                if errors is not None:
                    errors.append((path, str(exc)))
    return [found[name] for name in sorted(found)]



def runtime_kind(path: Path, backend: str, export_command: str) -> str:
    """``"onnx"`` or ``"torch"``: the runtime a model file needs, checked against ``backend``.

    Args:
        path: a model file (``.onnx`` or ``.safetensors``).
        backend: ``"auto"``, ``"onnx"`` or ``"torch"``.
        export_command: the ``painterly export ...`` command suggested when an
            ONNX backend is asked to run a torch model.

    Raises:
        ModelError: not a model file suffix. UsageError: a backend that cannot run it.
    """
    kind = {".onnx": "onnx", ".safetensors": "torch"}.get(path.suffix.lower())
    if kind is None:
        raise ModelError(f"{path} is not a model file: models end in .safetensors or .onnx")
    if backend == "torch" and kind == "onnx":
        raise UsageError(f"{path} is an ONNX model, which the torch backend cannot run; use --backend onnx or auto")
    if backend == "onnx" and kind == "torch":
        raise UsageError(f"{path} is a torch model; export it first ('{export_command}') or use --backend torch")
    return kind

__all__ = [
    "runtime_kind",
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_SUFFIXES",
    "ModelInfo",
    "bundled_models_dir",
    "find_model",
    "list_models",
    "load_model",
    "make_meta",
    "model_bytes",
    "model_names",
    "models_dirs",
    "parse_meta",
    "read_model_info",
    "save_model",
    "user_models_dir",
]
