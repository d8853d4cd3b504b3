"""L-BFGS and Adam steps over one image tensor, without ``torch.optim``.

Why not ``torch.optim``: constructing any of its optimizers imports
``torch._dynamo`` (about 1.5-3 s on a 2-core machine, more than a 256 px
style transfer spends on its whole first scale). These two steppers do the
same arithmetic as ``torch.optim.LBFGS(lr=1, max_iter=1, history_size=m,
line_search_fn=None)`` and ``torch.optim.Adam`` for a single tensor (the
tests check both against torch, step by step), and nothing else.

Both take the gradient explicitly: ``step(x, grad)`` updates ``x`` in place
(``x``: any shape, float; ``grad``: same shape).
"""

from __future__ import annotations

from typing import List, Optional

import torch


class LBFGS:
    """Limited-memory BFGS with a fixed unit step and no line search.

    One loss evaluation per iteration, as in jcjohnson/neural-style. The
    first step is scaled to ``min(1, 1 / ||g||_1)`` (torch's rule), later
    steps use the two-loop recursion over the last ``history`` pairs with
    the initial Hessian ``s.y / y.y``. Pairs with ``s.y <= 1e-10`` (not
    positive definite) are skipped.
    """

    def __init__(self, history: int = 50, lr: float = 1.0) -> None:
        self.history = history
        self.lr = lr
        self._s: List[torch.Tensor] = []
        self._y: List[torch.Tensor] = []
        self._rho: List[float] = []
        self._step: Optional[torch.Tensor] = None  # last update s = t * d (flat)
        self._grad: Optional[torch.Tensor] = None  # gradient at the previous point (flat)
        self._h_diag = 1.0

    @torch.no_grad()
    def step(self, x: torch.Tensor, grad: torch.Tensor) -> None:
        """Move ``x`` (in place) along the L-BFGS direction for gradient ``grad`` at ``x``."""
        g = grad.reshape(-1).clone()
        if self._grad is None:
            d = -g
            t = min(1.0, 1.0 / float(g.abs().sum().clamp_min(1e-30))) * self.lr
        else:
            y = g - self._grad
            s = self._step
            ys = float(y.dot(s))
            if ys > 1e-10:
                if len(self._s) == self.history:
                    self._s.pop(0)
                    self._y.pop(0)
                    self._rho.pop(0)
                self._s.append(s)
                self._y.append(y)
                self._rho.append(1.0 / ys)
                self._h_diag = ys / float(y.dot(y))
            q = -g
            alphas = []
            for s_i, y_i, rho_i in zip(reversed(self._s), reversed(self._y), reversed(self._rho)):
                a = float(s_i.dot(q)) * rho_i
                alphas.append(a)
                q.add_(y_i, alpha=-a)
            d = q.mul_(self._h_diag)
            for s_i, y_i, rho_i, a in zip(self._s, self._y, self._rho, reversed(alphas)):
                b = float(y_i.dot(d)) * rho_i
                d.add_(s_i, alpha=a - b)
            t = self.lr
        self._grad = g
        self._step = d.mul(t)
        x.add_(self._step.view_as(x).to(x.dtype))


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction, for one tensor."""

    def __init__(self, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self._m: Optional[torch.Tensor] = None
        self._v: Optional[torch.Tensor] = None
        self._t = 0

    @torch.no_grad()
    def step(self, x: torch.Tensor, grad: torch.Tensor) -> None:
        """Update ``x`` in place with gradient ``grad`` (same shape)."""
        if self._m is None:
            self._m = torch.zeros_like(x)
            self._v = torch.zeros_like(x)
        self._t += 1
        self._m.lerp_(grad, 1 - self.beta1)
        self._v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias1 = 1 - self.beta1**self._t
        bias2 = 1 - self.beta2**self._t
        denom = (self._v.sqrt() / bias2**0.5).add_(self.eps)
        x.addcdiv_(self._m, denom, value=-self.lr / bias1)


__all__ = ["Adam", "LBFGS"]
