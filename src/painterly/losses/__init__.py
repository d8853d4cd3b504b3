"""Loss functions: pure functions on feature tensors and their statistics."""

from .content import content_loss
from .stats import FeatureStats, blend_stats, feature_stats, gram_matrix
from .style import gram_loss, moment_loss, sqrtm_psd, w2_loss
from .tv import tv_loss

__all__ = [
    "FeatureStats",
    "blend_stats",
    "content_loss",
    "feature_stats",
    "gram_loss",
    "gram_matrix",
    "moment_loss",
    "sqrtm_psd",
    "tv_loss",
    "w2_loss",
]
