"""Colour-space conversions and colour transfer on image tensors.

Every function takes RGB float tensors of shape (B, 3, H, W) with values in
[0, 1] and returns new tensors on the same device and dtype; no argument is
modified in place. Used to preserve the content image's colours in style
transfer (Gatys, Bethge, Hertzmann & Shechtman 2016, "Preserving Color in
Neural Artistic Style Transfer", arXiv:1606.05897): either luminance-only
transfer (:func:`match_luminance` then :func:`combine_luminance`) or colour
histogram matching of the style image (:func:`match_histogram`).
"""

from __future__ import annotations

import torch

from painterly.errors import ImageError, UsageError, did_you_mean
from painterly.imaging.array_color import HISTOGRAM_MODES, RGB_TO_YIQ, YIQ_TO_RGB

# The numpy module holds the one copy of the matrices (the one-pass path must not import torch).
_RGB_TO_YIQ = torch.from_numpy(RGB_TO_YIQ)
_YIQ_TO_RGB = torch.from_numpy(YIQ_TO_RGB)


def _check_rgb(image: torch.Tensor, name: str) -> None:
    if image.dim() != 4 or image.shape[1] != 3 or not image.is_floating_point():
        raise ImageError(
            f"{name} must be a float RGB tensor of shape (B, 3, H, W), "
            f"got {tuple(image.shape)} {image.dtype}"
        )


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """Convert RGB to NTSC YIQ.

    Args:
        image: (B, 3, H, W) RGB, nominally in [0, 1] (not enforced).

    Returns:
        (B, 3, H, W) with channels Y in [0, 1], I in about [-0.596, 0.596]
        and Q in about [-0.523, 0.523]. Gamma-encoded values are used as they
        are, as in Gatys et al. (a linear-light luma would be more exact but
        the paper's results are defined on these values).
    """
    _check_rgb(image, "image")
    return _apply_matrix(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """Convert NTSC YIQ back to RGB; the exact inverse of :func:`rgb_to_yiq`.

    Args:
        image: (B, 3, H, W) with channels Y, I, Q.

    Returns:
        (B, 3, H, W) RGB, not clamped (YIQ values mixed from different
        images can fall outside the RGB cube; callers clamp).
    """
    _check_rgb(image, "image")
    return _apply_matrix(_YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y (luma) channel of an RGB image.

    Args:
        image: (B, 3, H, W) RGB in [0, 1].

    Returns:
        (B, 1, H, W) luma in [0, 1]: ``0.299 R + 0.587 G + 0.114 B``.
    """
    _check_rgb(image, "image")
    weights = _RGB_TO_YIQ[0].to(image).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def _mean_std(channel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Per image statistics, shaped (B, 1, 1, 1) to broadcast over pixels.
    mean = channel.mean(dim=(1, 2, 3), keepdim=True)
    std = channel.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
    return mean, std


def _check_batches(source: torch.Tensor, target: torch.Tensor) -> None:
    if target.shape[0] not in (1, source.shape[0]):
        raise ImageError(
            f"target batch size {target.shape[0]} must be 1 or equal the "
            f"source batch size {source.shape[0]}"
        )


def match_luminance(
    source: torch.Tensor, target: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Gray version of ``source`` whose luma statistics match ``target``'s.

    Preprocessing for luminance-only transfer (Gatys et al. 2016, section
    2.2): the style image's luma is shifted and scaled so its mean and
    standard deviation equal the content image's, then style transfer runs on
    luma only, and :func:`combine_luminance` puts the content colours back.

    Args:
        source: (B, 3, H, W) RGB in [0, 1] whose luma is kept (the style).
        target: (B, 3, H', W') or (1, 3, H', W') RGB in [0, 1] giving the
            statistics (the content); its size may differ from ``source``'s.
        eps: Added to ``source``'s standard deviation so a flat image does
            not divide by zero.

    Returns:
        (B, 3, H, W) gray image (three equal channels) in [0, 1]. Its luma
        mean/std equal ``target``'s except where clamping to [0, 1] clips
        (the paper does not clamp; we do, to keep the result an image).
    """
    _check_rgb(source, "source")
    _check_rgb(target, "target")
    _check_batches(source, target)
    y_src = luminance(source)
    mean_s, std_s = _mean_std(y_src)
    mean_t, std_t = _mean_std(luminance(target))
    y = (y_src - mean_s) * (std_t / (std_s + eps)) + mean_t
    return y.clamp(0.0, 1.0).repeat(1, 3, 1, 1)


def combine_luminance(luma_image: torch.Tensor, color_image: torch.Tensor) -> torch.Tensor:
    """Join the luma of one image with the chroma (I, Q) of another.

    Postprocessing for luminance-only transfer: ``luma_image`` is the
    stylised gray result and ``color_image`` the content image.

    Args:
        luma_image: (B, 3, H, W) RGB in [0, 1] whose Y is kept, or
            (B, 1, H, W) taken as Y directly.
        color_image: (B, 3, H, W) or (1, 3, H, W) RGB in [0, 1] whose I and Q
            are kept; same H and W as ``luma_image``.

    Returns:
        (B, 3, H, W) RGB clamped to [0, 1].

    Raises:
        ImageError: Shapes are not as above or the sizes differ.
    """
    if luma_image.dim() == 4 and luma_image.shape[1] == 1 and luma_image.is_floating_point():
        y = luma_image
    else:
        _check_rgb(luma_image, "luma_image")
        y = luminance(luma_image)
    _check_rgb(color_image, "color_image")
    _check_batches(y, color_image)
    if y.shape[-2:] != color_image.shape[-2:]:
        raise ImageError(
            f"luma_image is {y.shape[-1]}x{y.shape[-2]} but color_image is "
            f"{color_image.shape[-1]}x{color_image.shape[-2]}; resize one first"
        )
    iq = rgb_to_yiq(color_image)[:, 1:].to(y)
    iq = iq.expand(y.shape[0], -1, -1, -1)
    return yiq_to_rgb(torch.cat([y, iq], dim=1)).clamp(0.0, 1.0)


def _sqrtm(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric square root of an SPD matrix and its inverse, via eigh."""
    vals, vecs = torch.linalg.eigh(cov)
    # eps in the covariance keeps vals > 0; clamp guards against round-off.
    vals = vals.clamp_min(torch.finfo(vals.dtype).tiny)
    root = vecs @ torch.diag(vals.sqrt()) @ vecs.T
    inv_root = vecs @ torch.diag(vals.rsqrt()) @ vecs.T
    return root, inv_root


def _color_transform(cov_s: torch.Tensor, cov_t: torch.Tensor, mode: str) -> torch.Tensor:
    """Matrix A with ``A @ cov_s @ A.T == cov_t``."""
    if mode == "chol":
        l_s = torch.linalg.cholesky(cov_s)
        l_t = torch.linalg.cholesky(cov_t)
        return l_t @ torch.linalg.inv(l_s)
    if mode == "pca":
        root_t, _ = _sqrtm(cov_t)
        _, inv_root_s = _sqrtm(cov_s)
        return root_t @ inv_root_s
    # "sym": the symmetric solution, which is the optimal-transport (Monge)
    # map between the two Gaussians, so it moves colours the least.
    root_s, inv_root_s = _sqrtm(cov_s)
    middle, _ = _sqrtm(root_s @ cov_t @ root_s)
    return inv_root_s @ middle @ inv_root_s


def match_histogram(
    source: torch.Tensor, target: torch.Tensor, mode: str = "pca", eps: float = 1e-5
) -> torch.Tensor:
    """Recolour ``source`` so its colour mean and covariance equal ``target``'s.

    A linear colour transfer ``x -> A (x - mu_s) + mu_t`` per image, with
    ``A Cov_s A^T = Cov_t`` (Gatys et al. 2016, section 2.1; used on the style
    image with the content image as target to keep the content's colours).
    The three modes are three choices of ``A`` that all match the first two
    moments: ``"chol"`` from Cholesky factors (``L_t L_s^-1``; the paper's
    choice), ``"pca"`` from symmetric square roots via eigh
    (``Cov_t^1/2 Cov_s^-1/2``; the paper's alternative) and ``"sym"`` the
    symmetric solution (``Cov_s^-1/2 (Cov_s^1/2 Cov_t Cov_s^1/2)^1/2
    Cov_s^-1/2``), which changes colours least.

    Args:
        source: (B, 3, H, W) RGB in [0, 1] to recolour.
        target: (B, 3, H', W') or (1, 3, H', W') RGB in [0, 1]; its size may
            differ from ``source``'s.
        mode: One of :data:`HISTOGRAM_MODES`.
        eps: Added to the diagonal of both covariances so flat or
            single-colour images still have an invertible covariance.

    Returns:
        (B, 3, H, W) RGB clamped to [0, 1]. Its colour mean/covariance equal
        ``target``'s (up to ``eps``) except where clamping clips.

    Raises:
        UsageError: Unknown ``mode``.
        ImageError: Not (B, 3, H, W) tensors or mismatched batch sizes.
    """
    if mode not in HISTOGRAM_MODES:
        raise UsageError(
            f"unknown colour matching mode {mode!r}; use one of "
            f"{', '.join(HISTOGRAM_MODES)}" + did_you_mean(mode, HISTOGRAM_MODES)
        )
    _check_rgb(source, "source")
    _check_rgb(target, "target")
    _check_batches(source, target)
    # float64 because the covariance of a nearly flat image is close to
    # singular and float32 eigh/cholesky then lose most of their digits.
    eye = torch.eye(3, dtype=torch.float64, device=source.device) * eps
    outputs = []
    for i in range(source.shape[0]):
        src = source[i].reshape(3, -1).to(torch.float64)
        tgt = target[i if target.shape[0] > 1 else 0].reshape(3, -1).to(torch.float64)
        tgt = tgt.to(source.device)
        mu_s = src.mean(dim=1, keepdim=True)
        mu_t = tgt.mean(dim=1, keepdim=True)
        cov_s = torch.cov(src, correction=0) + eye
        cov_t = torch.cov(tgt, correction=0) + eye
        matrix = _color_transform(cov_s, cov_t, mode)
        outputs.append((matrix @ (src - mu_s) + mu_t).reshape(source.shape[1:]))
    return torch.stack(outputs).to(source.dtype).clamp(0.0, 1.0)
