"""``python -m painterly``: the same as the ``painterly`` command."""

from painterly.cli.main import run

if __name__ == "__main__":
    run()
