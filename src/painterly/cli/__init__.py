"""The ``painterly`` command line: argv -> config, progress display, exit codes.

The only part of the package that prints or exits; the library never imports it.
"""

from .main import main

__all__ = ["main"]
