"""Style losses on feature statistics: Gram (Gatys et al.), moments and Gaussian W2.

All return relative, size-independent scalars so layer weights of 1 are sensible.
"""

from __future__ import annotations

import torch

from .stats import FeatureStats


def gram_loss(stats: FeatureStats, target: FeatureStats) -> torch.Tensor:
    """||G - G_s||_F^2 / ||G_s||_F^2 (Gatys et al. eq. 4 with relative normalization)."""
    return (stats.gram - target.gram).square().sum() / target.gram_energy


def moment_loss(stats: FeatureStats, target: FeatureStats) -> torch.Tensor:
    """Match the feature distribution's mean and covariance.

    ``||mu - mu_s||^2 / tr(S_s) + ||S - S_s||_F^2 / ||S_s||_F^2``. Unlike the Gram
    matrix this separates the mean from the spread, which brings the output's
    feature histogram (and so its sliced Wasserstein distance) closer to the style's.
    """
    mean_term = (stats.mean - target.mean).square().sum() / target.cov_trace
    cov_term = (stats.cov - target.cov).square().sum() / target.cov_energy
    return mean_term + cov_term


def sqrtm_psd(matrix: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (... x C x C) via eigh."""
    vals, vecs = torch.linalg.eigh(matrix)
    return (vecs * vals.clamp_min(eps).sqrt().unsqueeze(-2)) @ vecs.transpose(-2, -1)


def w2_loss(stats: FeatureStats, target: FeatureStats, target_cov_sqrt: torch.Tensor) -> torch.Tensor:
    """Squared Wasserstein-2 distance between Gaussians fitted to the features.

    ``||mu - mu_s||^2 + tr(S) + tr(S_s) - 2 tr((S_s^1/2 S S_s^1/2)^1/2)``, divided by
    tr(S_s). Only eigenvalues enter the loss, so the eigh gradient is stable.

    Args:
        stats: statistics of the image being optimized.
        target: the style's statistics.
        target_cov_sqrt: ``sqrtm_psd(target.cov)``, precomputed once per style.
    """
    cov, tcov = stats.cov, target.cov
    inner = target_cov_sqrt @ cov @ target_cov_sqrt
    inner = (inner + inner.transpose(-2, -1)) / 2
    eig = torch.linalg.eigvalsh(inner).clamp_min(1e-8)
    tr = torch.diagonal(cov, dim1=-2, dim2=-1).sum()
    ttr = torch.diagonal(tcov, dim1=-2, dim2=-1).sum()
    mean_term = ((stats.mean - target.mean) ** 2).sum()
    dist = mean_term + tr + ttr - 2 * eig.sqrt().sum()
    return dist.clamp_min(0) / ttr.clamp_min(1e-12)
