"""Optimization-based neural style transfer (Gatys et al. 2015)."""

import sys
import types

from .run import TransferResult, run_transfer, transfer

__all__ = ["TransferResult", "run_transfer", "transfer"]


class _CallableModule(types.ModuleType):
    """This package shares its name with the public ``painterly.transfer()``
    function: once the package is imported, the import system binds
    ``painterly.transfer`` to it, so calling it must still run the transfer."""

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return transfer(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
