"""The Gatys objective at one scale: content + style (+ TV) on VGG19 features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..config import TransferConfig
from ..losses import (
    FeatureStats,
    blend_stats,
    content_loss,
    feature_stats,
    gram_loss,
    moment_loss,
    sqrtm_psd,
    tv_loss,
)
from ..losses import w2_loss as _w2_loss
from ..models.device import compute_dtype
from ..models.vgg import VGG19


@dataclass(frozen=True)
class RegionTarget:
    """Style statistics one region of the output must match, per style layer."""

    stats: Dict[str, FeatureStats]
    cov_sqrt: Dict[str, torch.Tensor]
    mask: Optional[torch.Tensor]  # 1 x 1 x H x W weights at image resolution, or None
    area: float  # fraction of the image this region covers


def _layer_mask(mask: Optional[torch.Tensor], feat: torch.Tensor) -> Optional[torch.Tensor]:
    if mask is None:
        return None
    return F.adaptive_avg_pool2d(mask, feat.shape[-2:])


class Objective:
    """Callable computing the total loss of an image and its named parts.

    Args:
        vgg: the frozen feature extractor.
        cfg: weights, layers and loss terms.
        content: 1 x 3 x h x w RGB [0, 1] content image at this scale.
        styles: style images (1 x 3 x h' x w', any sizes) at this scale.
        blend: one weight per style (used when there is no mask).
        region_masks: optional R x 1 x h x w soft masks (R == len(styles)); region r
            of the output takes style r. Masks sum to 1 at every pixel.
        style_layers: the style layers of this scale (default ``cfg.style_layers``);
            their ``cfg.style_layer_weights`` are renormalized to sum to 1.
    """

    def __init__(
        self,
        vgg: VGG19,
        cfg: TransferConfig,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor],
        blend: Sequence[float],
        region_masks: Optional[torch.Tensor] = None,
        style_layers: Optional[Sequence[str]] = None,
    ) -> None:
        self.vgg = vgg
        self.cfg = cfg
        self.terms = cfg.style_loss.split("+")
        self.content_layers = list(cfg.content_layers) if cfg.content_weight > 0 else []
        named = dict(zip(cfg.style_layers, list(cfg.style_layer_weights) or [1.0] * len(cfg.style_layers)))
        self.style_layers = list(style_layers) if style_layers is not None else list(cfg.style_layers)
        # Weights renormalized over the layers this scale uses.
        total = sum(named.get(name, 1.0) for name in self.style_layers) or 1.0
        self.layer_weights = {name: named.get(name, 1.0) / total for name in self.style_layers}
        self.layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        # float32 when the precision is not reduced: it takes the channels-last path too.
        self.dtype = compute_dtype(content.device, cfg.precision) or torch.float32
        # The content target in float32 (bfloat16 cost 2% of content error); the style
        # targets in the iterate's dtype: at 256 px the 512 px style image's pass
        # was a fifth of the run in float32, and bfloat16 targets matched float32's
        # quality on all 7 benchmark pairs once the iterate's Gram was bfloat16 too.
        with torch.no_grad():
            # The iterate's float32 path (channels-last), so a float32 run that starts
            # at the content has content loss exactly 0.
            feats = self.vgg(content, self.content_layers, dtype=torch.float32)
            self.content_targets = {k: v.detach().float().clone() for k, v in feats.items()}
            per_style = [self._stats(s, None) for s in styles]
        self.regions: List[RegionTarget] = []
        if region_masks is None:
            stats = {
                name: blend_stats([s[name] for s in per_style], list(blend)) for name in self.style_layers
            }
            self.regions.append(self._region(stats, None, 1.0))
        else:
            areas = region_masks.mean(dim=(1, 2, 3))
            for r in range(region_masks.shape[0]):
                if float(areas[r]) <= 1e-4:
                    continue  # an empty region has no statistics to match
                self.regions.append(self._region(per_style[r], region_masks[r : r + 1], float(areas[r])))

    def _features(self, image: torch.Tensor, layers: Sequence[str]) -> Dict[str, torch.Tensor]:
        """VGG19 features of the iterate, computed (and returned) in :attr:`dtype`.

        In bfloat16 the network and its backward run on bfloat16 weights in
        channels-last memory; Gram matrices come back in float32 from
        :func:`feature_stats`, and the losses and the optimizer stay in float32.
        """
        return self.vgg(image, layers, dtype=self.dtype)

    @torch.no_grad()
    def _stats(self, image: torch.Tensor, mask: Optional[torch.Tensor]) -> Dict[str, FeatureStats]:
        feats = self.vgg(image, self.style_layers, dtype=self.dtype)
        return {name: feature_stats(f, _layer_mask(mask, f)) for name, f in feats.items()}

    def _region(self, stats: Dict[str, FeatureStats], mask: Optional[torch.Tensor], area: float) -> RegionTarget:
        cov_sqrt = {}
        if "w2" in self.terms:
            cov_sqrt = {name: sqrtm_psd(s.cov.double()).float() for name, s in stats.items()}
        return RegionTarget(stats=stats, cov_sqrt=cov_sqrt, mask=mask, area=area)

    def __call__(self, image: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, float]]:
        """Return (total loss, {"content", "style", "tv": float}) for 1 x 3 x h x w ``image``."""
        cfg = self.cfg
        feats = self._features(image, self.layers)
        parts: Dict[str, torch.Tensor] = {}
        total = image.new_zeros(())
        if self.content_layers:
            c = sum(content_loss(feats[k].float(), self.content_targets[k]) for k in self.content_layers)
            parts["content"] = c / len(self.content_layers)
            total = total + cfg.content_weight * parts["content"]
        style = image.new_zeros(())
        for region in self.regions:
            for name in self.style_layers:
                f = feats[name]
                stats = feature_stats(f, _layer_mask(region.mask, f))
                target = region.stats[name]
                term = image.new_zeros(())
                if "gram" in self.terms:
                    term = term + gram_loss(stats, target)
                if "moments" in self.terms:
                    term = term + moment_loss(stats, target)
                if "w2" in self.terms:
                    term = term + _w2_loss(stats, target, region.cov_sqrt[name])
                style = style + region.area * self.layer_weights[name] * term
        parts["style"] = style
        total = total + cfg.style_weight * style
        if cfg.tv_weight > 0:
            parts["tv"] = tv_loss(image)
            total = total + cfg.tv_weight * parts["tv"]
        return total, {k: float(v.detach()) for k, v in parts.items()}
