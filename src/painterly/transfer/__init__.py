"""Optimization-based neural style transfer (Gatys et al. 2015)."""

from .run import TransferResult, run_transfer, transfer

__all__ = ["TransferResult", "run_transfer", "transfer"]
