"""Lazy public names for packages, so importing them stays cheap (no torch until used)."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List, MutableMapping, Sequence, Tuple


def lazy_exports(
    package: str, exports: Dict[str, str], namespace: MutableMapping[str, Any], public: Sequence[str]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """Module ``__getattr__`` and ``__dir__`` (PEP 562) for a package's lazy exports.

    Args:
        package: the package's ``__name__`` (for error messages).
        exports: public name -> module that defines it.
        namespace: the package's ``globals()``: a resolved name is cached there.
        public: the package's ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> List[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
