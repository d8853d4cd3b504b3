"""``python -m painterly``: the same as the ``painterly`` command."""

from painterly.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
