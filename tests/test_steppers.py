"""painterly's L-BFGS and Adam steppers do torch.optim's arithmetic, step by step."""

from __future__ import annotations

import subprocess
import sys

import torch

from painterly.gatys.steppers import LBFGS, Adam


def _loss(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    # A non-quadratic, badly conditioned objective so the curvature pairs matter.
    return ((a @ x.reshape(-1)) ** 2).sum() + (x**4).sum() + torch.sin(x).sum()


def _problem() -> tuple:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(12, 12, generator=gen, dtype=torch.float64) * torch.logspace(0, 1.5, 12, dtype=torch.float64)
    x0 = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    return a, x0


def test_lbfgs_matches_torch_optim_lbfgs() -> None:
    a, x0 = _problem()
    ref = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([ref], lr=1.0, max_iter=1, history_size=5, tolerance_grad=0.0, tolerance_change=0.0)
    mine = x0.clone().requires_grad_(True)
    stepper = LBFGS(history=5)  # a short history, so the oldest pairs get dropped too

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = _loss(ref, a)
        loss.backward()
        return loss

    losses = []
    for _ in range(25):
        opt.step(closure)
        mine.grad = None
        loss = _loss(mine, a)
        loss.backward()
        stepper.step(mine.data, mine.grad)
        losses.append(float(loss.detach()))
        torch.testing.assert_close(mine.detach(), ref.detach(), rtol=1e-9, atol=1e-11)
    assert losses[-1] < 0.5 * losses[0]


def test_adam_matches_torch_optim_adam() -> None:
    a, x0 = _problem()
    ref = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([ref], lr=0.05)
    mine = x0.clone().requires_grad_(True)
    stepper = Adam(lr=0.05)
    for _ in range(30):
        opt.zero_grad()
        _loss(ref, a).backward()
        opt.step()
        mine.grad = None
        _loss(mine, a).backward()
        stepper.step(mine.data, mine.grad)
        torch.testing.assert_close(mine.detach(), ref.detach(), rtol=1e-12, atol=1e-12)


def test_a_transfer_does_not_import_torch_optim_machinery() -> None:
    # torch.optim's optimizers import torch._dynamo (seconds of start-up): a
    # style transfer must not pay for it.
    code = (
        "import sys, torch\n"
        "from painterly.gatys.optimize import optimize_scale\n"
        "from painterly.config import TransferConfig\n"
        "x = torch.rand(1, 3, 8, 8)\n"
        "objective = lambda img: (((img - 0.5) ** 2).sum(), {})\n"
        "for opt in ('lbfgs', 'adam'):\n"
        "    r = optimize_scale(objective, x, 5, TransferConfig(optimizer=opt, tolerance=0))\n"
        "    assert r.loss < float(((x - 0.5) ** 2).sum()), opt\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
