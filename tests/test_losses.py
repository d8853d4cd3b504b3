"""Known values and float64 gradient checks for painterly.losses."""

from __future__ import annotations

import math

import pytest
import torch

from painterly.losses import (
    FeatureStats,
    blend_stats,
    content_loss,
    feature_stats,
    gram_loss,
    gram_matrix,
    moment_loss,
    sqrtm_psd,
    tv_loss,
    w2_loss,
)


def _feats(seed: int, c: int = 3, h: int = 3, w: int = 4, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, c, h, w, generator=g, dtype=torch.float64) + shift


def _stats_from_moments(mean: torch.Tensor, cov: torch.Tensor) -> FeatureStats:
    """FeatureStats with the given channel mean (C) and covariance (C x C), B = 1."""
    c = mean.shape[0]
    gram = (cov + torch.outer(mean, mean)) / c  # gram = E[f f^T] / C
    return FeatureStats(gram=gram.unsqueeze(0), mean=mean.unsqueeze(0), count=1.0)


# ------------------------------------------------------------ known values

# A 1 x 2 x 1 x 2 feature map: channel 0 = (1, 2), channel 1 = (3, 4).
F_SMALL = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]], dtype=torch.float64)


def test_gram_matrix_known_value_divides_by_c_h_w():
    # F F^T = [[5, 11], [11, 25]]; C * H * W = 2 * 1 * 2 = 4.
    expected = torch.tensor([[[1.25, 2.75], [2.75, 6.25]]], dtype=torch.float64)
    torch.testing.assert_close(gram_matrix(F_SMALL), expected)


def test_feature_stats_known_values():
    s = feature_stats(F_SMALL)
    torch.testing.assert_close(s.gram, gram_matrix(F_SMALL))
    torch.testing.assert_close(s.mean, torch.tensor([[1.5, 3.5]], dtype=torch.float64))
    assert s.count == pytest.approx(2.0)
    # Population covariance: each channel has variance 0.25 and they move together.
    torch.testing.assert_close(s.cov, torch.full((1, 2, 2), 0.25, dtype=torch.float64))


def test_feature_stats_cov_matches_torch_cov():
    f = _feats(1, c=5, h=4, w=6)
    s = feature_stats(f)
    expected = torch.cov(f.reshape(5, -1), correction=0)
    torch.testing.assert_close(s.cov[0], expected)
    torch.testing.assert_close(s.mean[0], f.reshape(5, -1).mean(dim=1))


def test_gram_matrix_shapes_and_batches_are_independent():
    f = _feats(2, c=4, h=2, w=3).repeat(2, 1, 1, 1)
    f[1] *= 2
    g = gram_matrix(f)
    assert g.shape == (2, 4, 4)
    torch.testing.assert_close(g[1], 4 * g[0])
    torch.testing.assert_close(g, g.transpose(1, 2))


def test_gram_loss_zero_for_identical_stats_and_relative_otherwise():
    s = feature_stats(F_SMALL)
    assert float(gram_loss(s, s)) == 0.0
    doubled = feature_stats(2 * F_SMALL)  # Gram scales by 4
    # ||4G - G||^2 / ||G||^2 = 9
    assert float(gram_loss(doubled, s)) == pytest.approx(9.0)
    # relative: scaling both by the same factor leaves the loss unchanged
    assert float(gram_loss(feature_stats(3 * F_SMALL), feature_stats(1.5 * F_SMALL))) == pytest.approx(9.0)
    assert float(gram_loss(feature_stats(_feats(3)), feature_stats(_feats(4)))) > 0


def test_moment_loss_matches_definition():
    f, t = _feats(5, c=4), _feats(6, c=4, shift=0.7)
    a, b = feature_stats(f), feature_stats(t)
    mu, mu_s = f.reshape(4, -1).mean(1), t.reshape(4, -1).mean(1)
    cov, cov_s = torch.cov(f.reshape(4, -1), correction=0), torch.cov(t.reshape(4, -1), correction=0)
    expected = ((mu - mu_s) ** 2).sum() / torch.trace(cov_s) + ((cov - cov_s) ** 2).sum() / (cov_s**2).sum()
    torch.testing.assert_close(moment_loss(a, b), expected)
    assert float(moment_loss(b, b)) == pytest.approx(0.0, abs=1e-12)


def test_moment_loss_sees_a_mean_shift_that_keeps_the_covariance():
    f = _feats(7)
    loss = moment_loss(feature_stats(f + 1.0), feature_stats(f))
    # covariance unchanged, so the whole loss is ||1||^2 / tr(cov) = C / tr(cov)
    cov = torch.cov(f.reshape(3, -1), correction=0)
    assert float(loss) == pytest.approx(3.0 / float(torch.trace(cov)), rel=1e-9)


def test_sqrtm_psd_squares_back():
    a = _feats(8, c=1, h=5, w=7).reshape(5, 7)
    m = a @ a.T  # 5 x 5, PSD, full rank
    r = sqrtm_psd(m)
    torch.testing.assert_close(r, r.T)
    torch.testing.assert_close(r @ r, m, rtol=1e-9, atol=1e-9)
    assert torch.linalg.eigvalsh(r).min() > 0
    # rank deficient (rank 2 of 4): still squares back to within the eps clamp
    b = _feats(9, c=1, h=4, w=2).reshape(4, 2)
    m2 = b @ b.T
    r2 = sqrtm_psd(m2)
    torch.testing.assert_close(r2 @ r2, m2, rtol=0, atol=1e-6)
    # batched
    batch = torch.stack([m, 2 * m])
    torch.testing.assert_close(sqrtm_psd(batch)[1], math.sqrt(2) * r)


def test_w2_loss_zero_for_identical_gaussians():
    s = feature_stats(_feats(10, c=4, h=5, w=5))
    loss = w2_loss(s, s, sqrtm_psd(s.cov[0]))
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_w2_loss_closed_form_for_diagonal_covariances():
    mu1 = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    mu2 = torch.tensor([0.0, 1.0, 1.5], dtype=torch.float64)
    var1 = torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64)
    var2 = torch.tensor([1.0, 9.0, 0.25], dtype=torch.float64)
    a = _stats_from_moments(mu1, torch.diag(var1))
    b = _stats_from_moments(mu2, torch.diag(var2))
    torch.testing.assert_close(a.cov[0], torch.diag(var1))
    # W2^2 = ||mu1 - mu2||^2 + sum (sqrt(v1) - sqrt(v2))^2 = 4.5 + (1 + 4 + 0) = 9.5
    w2_sq = ((mu1 - mu2) ** 2).sum() + ((var1.sqrt() - var2.sqrt()) ** 2).sum()
    assert float(w2_sq) == pytest.approx(9.5)
    loss = w2_loss(a, b, sqrtm_psd(b.cov[0]))
    assert float(loss) == pytest.approx(9.5 / float(var2.sum()), rel=1e-7)


def test_w2_loss_is_symmetric_in_the_distance():
    a, b = feature_stats(_feats(11, c=3, h=4, w=4)), feature_stats(_feats(12, c=3, h=4, w=4, shift=0.3))
    ab = w2_loss(a, b, sqrtm_psd(b.cov[0])) * torch.trace(b.cov[0])
    ba = w2_loss(b, a, sqrtm_psd(a.cov[0])) * torch.trace(a.cov[0])
    assert float(ab) == pytest.approx(float(ba), rel=1e-6)
    assert float(ab) > 0


def test_content_loss_known_values():
    t = _feats(13)
    assert float(content_loss(t, t)) == 0.0
    assert float(content_loss(2 * t, t)) == pytest.approx(1.0)  # ||T||^2 / ||T||^2
    assert float(content_loss(torch.zeros_like(t), t)) == pytest.approx(1.0)
    assert float(content_loss(t + 1, t)) == pytest.approx(t.numel() / float((t**2).sum()))


def test_tv_loss_known_values():
    # columns alternate 0 / 1: every horizontal step is 1, vertical steps are 0
    img = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]], dtype=torch.float64)
    assert float(tv_loss(img)) == pytest.approx(1.0)
    assert float(tv_loss(img.transpose(-1, -2))) == pytest.approx(1.0)
    # a ramp 0, 0.5, 1 along x (2 rows): dx = 0.5 everywhere, dy = 0 -> 0.25
    ramp = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64).expand(1, 3, 2, 3)
    assert float(tv_loss(ramp)) == pytest.approx(0.25)
    assert float(tv_loss(torch.full((1, 3, 5, 4), 0.3))) == 0.0
    # size independent: a mean, not a sum
    big = torch.tensor([0.0, 1.0]).repeat(8).expand(1, 3, 16, 16)
    assert float(tv_loss(big)) == pytest.approx(1.0)


def test_losses_do_not_modify_their_arguments():
    f, t = _feats(14), _feats(15)
    f0, t0 = f.clone(), t.clone()
    a, b = feature_stats(f), feature_stats(t)
    gram_loss(a, b), moment_loss(a, b), content_loss(f, t), tv_loss(f)
    w2_loss(a, b, sqrtm_psd(b.cov[0]))
    assert torch.equal(f, f0) and torch.equal(t, t0)


# -------------------------------------------------------------- masked stats


def test_binary_mask_stats_equal_stats_of_the_selected_pixels():
    f = _feats(16, c=4, h=5, w=6)
    mask = torch.zeros(1, 1, 5, 6, dtype=torch.float64)
    mask[..., 1:4, 2:5] = 1
    mask[..., 0, 0] = 1
    sel = mask.reshape(-1).bool()
    picked = f.reshape(1, 4, -1)[:, :, sel].reshape(1, 4, 1, -1)
    masked, plain = feature_stats(f, mask), feature_stats(picked)
    assert masked.count == pytest.approx(float(sel.sum()))
    torch.testing.assert_close(masked.mean, plain.mean)
    torch.testing.assert_close(masked.gram, plain.gram)
    torch.testing.assert_close(masked.cov, plain.cov)


def test_all_ones_mask_equals_no_mask_and_soft_mask_weights_positions():
    f = _feats(17, c=3, h=4, w=4)
    ones = feature_stats(f, torch.ones(1, 1, 4, 4, dtype=torch.float64))
    plain = feature_stats(f)
    torch.testing.assert_close(ones.gram, plain.gram)
    torch.testing.assert_close(ones.mean, plain.mean)
    # a constant soft mask of 0.5 weights every position equally: same statistics
    half = feature_stats(f, torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64))
    torch.testing.assert_close(half.gram, plain.gram)
    torch.testing.assert_close(half.mean, plain.mean)
    assert half.count == pytest.approx(8.0)


# -------------------------------------------------------------- blend_stats


def test_blend_stats_weighted_average():
    a, b = feature_stats(_feats(18)), feature_stats(_feats(19, shift=1.0))
    mixed = blend_stats([a, b], [3.0, 1.0])  # weights normalized to 0.75 / 0.25
    torch.testing.assert_close(mixed.gram, 0.75 * a.gram + 0.25 * b.gram)
    torch.testing.assert_close(mixed.mean, 0.75 * a.mean + 0.25 * b.mean)
    only_a = blend_stats([a, b], [1.0, 0.0])
    assert torch.equal(only_a.gram, a.gram) and torch.equal(only_a.mean, a.mean)
    torch.testing.assert_close(blend_stats([a], [5.0]).gram, a.gram)


def test_blend_stats_refuses_zero_weights():
    a = feature_stats(_feats(20))
    with pytest.raises(ValueError, match="positive"):
        blend_stats([a, a], [0.0, 0.0])


# ---------------------------------------------------------- gradient checks


def _check(fn, x: torch.Tensor) -> None:
    x = x.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradcheck_gram_loss():
    target = feature_stats(_feats(21))
    _check(lambda f: gram_loss(feature_stats(f), target), _feats(22))


def test_gradcheck_gram_loss_masked():
    target = feature_stats(_feats(23))
    mask = torch.rand(1, 1, 3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    _check(lambda f: gram_loss(feature_stats(f, mask), target), _feats(24))


def test_gradcheck_moment_loss():
    target = feature_stats(_feats(25, shift=0.5))
    _check(lambda f: moment_loss(feature_stats(f), target), _feats(26))


def test_gradcheck_content_loss():
    target = _feats(27)
    _check(lambda f: content_loss(f, target), _feats(28))


def test_gradcheck_tv_loss():
    g = torch.Generator().manual_seed(1)
    _check(tv_loss, torch.rand(1, 3, 4, 5, generator=g, dtype=torch.float64))


def test_gradcheck_w2_loss():
    target = feature_stats(_feats(29, c=3, h=4, w=4, shift=0.4))
    root = sqrtm_psd(target.cov[0])
    _check(lambda f: w2_loss(feature_stats(f), target, root), _feats(30, c=3, h=4, w=4))


def test_feature_stats_of_channels_last_features_equal_contiguous_ones():
    f = _feats(7, c=5, h=6, w=7)
    cl = f.contiguous(memory_format=torch.channels_last)
    mask = torch.rand(1, 1, 6, 7, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for m in (None, mask):
        a, b = feature_stats(f, m), feature_stats(cl, m)
        torch.testing.assert_close(a.gram, b.gram)
        torch.testing.assert_close(a.mean, b.mean)
        assert a.count == pytest.approx(b.count)


def test_bfloat16_feature_stats_come_back_in_float32_close_to_exact():
    f = _feats(8, c=16, h=12, w=10).float().abs()
    exact = feature_stats(f)
    low = feature_stats(f.bfloat16().contiguous(memory_format=torch.channels_last))
    assert low.gram.dtype == torch.float32 and low.mean.dtype == torch.float32
    assert gram_loss(low, exact) < 1e-4  # bfloat16 inputs: about 3 significant digits per entry


def test_target_statistics_are_cached_and_right():
    t = feature_stats(_feats(9, c=4))
    assert t.cov is t.cov and t.gram_energy is t.gram_energy
    torch.testing.assert_close(t.gram_energy, (t.gram**2).sum())
    torch.testing.assert_close(t.cov_energy, (t.cov**2).sum())
    torch.testing.assert_close(t.cov_trace, torch.diagonal(t.cov, dim1=-2, dim2=-1).sum())


def test_sliced_wasserstein_loss_zero_for_the_same_positions_in_any_order():
    from painterly.losses.sliced import random_directions, sliced_wasserstein_loss

    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 8, 5, 6, generator=g)
    shuffled = f.flatten(2)[:, :, torch.randperm(30, generator=g)].reshape(2, 8, 5, 6)
    d = random_directions(8, 16, generator=g)
    assert d.shape == (8, 16) and torch.allclose(d.norm(dim=0), torch.ones(16))
    assert float(sliced_wasserstein_loss(f, shuffled, d)) == pytest.approx(0.0, abs=1e-10)


def test_sliced_wasserstein_loss_sees_what_mean_and_spread_miss():
    # Two channels: independent in one set, perfectly correlated in the other. Channel means and
    # spreads are equal; the distributions are not, and projections on diagonals see it.
    from painterly.losses.moments import mean_std_loss
    from painterly.losses.sliced import random_directions, sliced_wasserstein_loss

    g = torch.Generator().manual_seed(1)
    a = torch.randn(1, 2, 64, 64, generator=g)
    b = a.clone()
    b[:, 1] = b[:, 0]
    assert float(mean_std_loss(b, a)) < 1e-3
    d = random_directions(2, 32, generator=g)
    assert float(sliced_wasserstein_loss(b, a, d)) > 0.05


def test_sliced_wasserstein_loss_resamples_a_target_of_another_size_and_has_gradients():
    from painterly.losses.sliced import random_directions, sliced_wasserstein_loss

    g = torch.Generator().manual_seed(2)
    target = torch.randn(1, 4, 16, 16, generator=g) * 2 + 1
    d = random_directions(4, 8, generator=g)
    # Same distribution, 4x fewer positions: small; a shifted copy: large.
    same = target[:, :, ::2, ::2].clone().requires_grad_(True)
    shifted = (target[:, :, ::2, ::2] + 3).requires_grad_(True)
    near = sliced_wasserstein_loss(same, target, d)
    far = sliced_wasserstein_loss(shifted, target, d)
    assert float(near) < 0.1 < 1.0 < float(far)
    far.backward()
    assert shifted.grad is not None and float(shifted.grad.abs().sum()) > 0
    # A batch against one target: sums over the batch over the target's energy counted per element.
    batch = torch.cat([target, target + 3])
    assert float(sliced_wasserstein_loss(batch, target, d)) == pytest.approx(
        0.5 * float(sliced_wasserstein_loss(target + 3, target, d)), rel=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_gram_gradient_of_the_one_product_backward_is_exact(channels_last):
    # feature_stats' product has its own backward ((g + g^T) F): gradcheck it in float64 in both
    # layouts, through the Gram and the mean as the losses use them.
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    weights = torch.randn(2, 4, 4, dtype=torch.float64, generator=g)  # not symmetric on purpose

    def f(t):
        s = feature_stats(t)
        return (s.gram * weights).sum() + s.mean.square().sum()

    assert torch.autograd.gradcheck(f, (x,))
    mask = torch.rand(1, 1, 3, 5, dtype=torch.float64, generator=g)
    assert torch.autograd.gradcheck(lambda t: (feature_stats(t, mask).gram * weights).sum(), (x,))


def test_bfloat16_gram_gradient_is_close_to_float32():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(1, 16, 12, 12, generator=g).contiguous(memory_format=torch.channels_last)
    target = feature_stats(torch.rand(1, 16, 12, 12, generator=g))
    grads = []
    for dtype in (torch.float32, torch.bfloat16):
        xi = x.to(dtype).detach().requires_grad_(True)
        gram_loss(feature_stats(xi), target).backward()
        assert xi.grad.dtype == dtype
        grads.append(xi.grad.float())
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 0.02


def _photo_crops(size: int = 128) -> torch.Tensor:
    """Four real photo crops (the bundled cat), B x 3 x size x size in 0..1."""
    from pathlib import Path

    import painterly
    from painterly.imaging.io import load_image

    a = load_image(Path(painterly.__file__).parent / "data" / "chelsea.jpg")[0]
    return torch.stack([a[:, y : y + size, x : x + size] for y in (0, 100) for x in (0, 170)])


def test_grid_loss_sees_a_lattice_locked_grid_and_not_a_photo():
    from painterly.losses.grid import grid_loss, lattice_energy

    photo = _photo_crops()
    plain = lattice_energy(photo)
    assert (plain < 5).all(), plain  # unrelated tiles: a few times 1 at most
    gridded = photo.clone()
    gridded[:, :, 3::4, :] -= 12 / 255  # a faint line every 4 px, as a decoder might paint
    assert (lattice_energy(gridded) > 5 * plain).all()
    assert grid_loss(gridded, photo) > 10
    assert abs(float(grid_loss(photo, photo))) < 1e-6
    # The same lines off the lattice's period (every 5 px) are texture, not a grid.
    off = photo.clone()
    off[:, :, 3::5, :] -= 12 / 255
    assert grid_loss(off, photo) < 2


def test_grid_loss_gradient_removes_the_grid():
    from painterly.losses.grid import grid_loss, lattice_energy

    photo = _photo_crops()
    x = photo.clone()
    x[:, :, ::8, ::2] += 20 / 255
    x.requires_grad_(True)
    start = float(lattice_energy(x.detach()).mean())
    opt = torch.optim.Adam([x], lr=2e-3)
    for _ in range(30):
        opt.zero_grad()
        grid_loss(x, photo).backward()
        opt.step()
    assert float(lattice_energy(x.detach()).mean()) < start / 4


def test_grid_loss_refuses_shapes_off_the_lattice():
    from painterly.losses.grid import lattice_energy

    with pytest.raises(ValueError, match="multiples of 8"):
        lattice_energy(torch.rand(1, 3, 30, 32))
    with pytest.raises(ValueError, match="B x 3"):
        lattice_energy(torch.rand(1, 1, 32, 32))
