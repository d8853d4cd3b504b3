"""The ``painterly`` command: argv -> config -> run -> files, and exit codes.

This is the only place in the package that prints or exits. :func:`main`
returns the exit code instead of calling ``sys.exit`` so tests can run the CLI
in-process; the console script and ``python -m painterly`` wrap it.

Exit codes: 0 success, 1 error, 2 usage error (bad option or value),
130 interrupted (Ctrl-C). Errors are one line on stderr,
``painterly: error: <message>``; ``--traceback`` adds the stack.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, List, NoReturn, Optional, Sequence

from ..config import TransferConfig
from ..errors import Cancelled, ConfigError, PainterlyError
from ..layers import BLOCK_CONVS, LAYER_NAMES
from .batch_cmd import register as register_batch
from .fast_commands import register as register_fast_commands
from .serve_cmd import register as register_serve
from .sheet_cmd import register as register_sheet
from .video_cmd import register as register_video
from .options import add_config_options, config_from_args, load_config_file, number
from .progressbar import ProgressBar
from .streams import STREAM_FORMATS, paint_stream, uses_streams

PROG = "painterly"

#: Bundled demo images (in ``painterly/data``).
DEMO_CONTENT = "chelsea.jpg"
DEMO_STYLE = "starry_night.jpg"
DEMO_OUTPUT = "painterly-demo.png"
DEMO_SIZE = 256

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class ArgumentError(Exception):
    """An argparse usage error, raised instead of argparse's print-and-exit."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises :class:`ArgumentError` so main() owns the output."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise ArgumentError(message, self.prog)


def version() -> str:
    """The installed version of painterly."""
    try:
        from .. import __version__  # type: ignore[attr-defined]

        return str(__version__)
    except ImportError:
        pass
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version

        return dist_version("painterly")
    except (ImportError, PackageNotFoundError):
        return "unknown"


def _err(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


def _data_file(name: str) -> Path:
    import importlib.resources

    return Path(str(importlib.resources.files("painterly") / "data" / name))


# -- commands ---------------------------------------------------------------


def _snapshot_saver(output: Path, every: int) -> Callable[[Any], None]:
    """Callback writing ``<stem>_0010<suffix>`` beside ``output`` every ``every`` steps."""
    from ..imaging import save_image

    def save(event: Any) -> None:
        if event.step % every or event.snapshot is None:
            return
        save_image(event.snapshot(), output.with_name(f"{output.stem}_{event.step:04d}{output.suffix}"))

    return save


def _summary(shown: str, item: Any) -> str:
    w, h = item.size
    losses = ", ".join(f"{k} {v:.3g}" for k, v in item.losses.items())
    text = f"wrote {shown} ({w}x{h}) in {item.seconds:.1f} s, {item.iterations} iterations"
    return text + (f"; {losses}" if losses else "")


def _run(
    content: Any,
    styles: List[Any],
    output: str,
    cfg: TransferConfig,
    *,
    mask: Optional[str] = None,
    save_every: int = 0,
    save_config: bool = False,
    quiet: bool = False,
    shown: Optional[str] = None,
    fmt: Optional[str] = None,
) -> int:
    """Shared body of ``transfer`` and ``demo``: one optimization job, its bar and its report."""
    from ..jobs.api import set_threads
    from ..jobs.run import JobSpec, run_job
    from .stop import cancel_on_signals

    from ..models.device import torch_device

    try:
        torch_device(cfg.device)  # refuse an unusable device now, not deep in torch
    except ConfigError as exc:
        raise ConfigError(f"--{exc}", field="device", value=cfg.device) from None
    set_threads(cfg.threads)
    callbacks: List[Callable[[Any], None]] = []
    bar = None if quiet else ProgressBar(sys.stderr)
    if bar is not None:
        callbacks.append(bar)
    if save_every:
        callbacks.append(_snapshot_saver(Path(output), save_every))

    def callback(event: Any) -> None:
        if event.kind == "transfer":
            for cb in callbacks:
                cb(event)

    spec = JobSpec("transfer", (str(content),), str(output), cfg, styles=tuple(styles), mask=mask or None,
                   save_config=save_config)
    if uses_streams([str(content)], str(output)):
        from ..jobs.painters import make_painter

        painter = make_painter("transfer", cfg, styles=tuple(styles), mask=mask or None)
        try:
            with cancel_on_signals(announce=not quiet) as cancel:
                paint_stream(painter, str(content), str(output), fmt, 95, callback, cancel)
        finally:
            if bar is not None:
                bar.close()
        return EXIT_OK
    try:
        with cancel_on_signals(announce=not quiet) as cancel:
            result = run_job(spec, on_progress=callback, cancel=cancel)
    finally:
        if bar is not None:
            bar.close()
    item = result.items[0]
    shown = shown or str(output)
    if item.status == "failed":
        raise item.exception or PainterlyError(item.error)
    if item.status == "cancelled":
        if item.output is None:
            _err("interrupted")
        else:
            _err(f"interrupted after {item.iterations} iterations; saved the best image so far to {shown}")
        return EXIT_INTERRUPTED
    print(_summary(shown, item))
    return EXIT_OK


def cmd_transfer(args: argparse.Namespace) -> int:
    base = load_config_file(TransferConfig, args.config) if args.config else None
    cfg = config_from_args(TransferConfig, args, base)
    return _run(
        args.content,
        list(args.style),
        args.output,
        cfg,
        mask=args.mask,
        save_every=args.save_every,
        save_config=args.save_config,
        quiet=args.quiet,
        fmt=args.format,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    cfg = config_from_args(TransferConfig, args, TransferConfig(size=DEMO_SIZE))
    out = Path(args.output).expanduser().resolve()
    content, style = _data_file(DEMO_CONTENT), _data_file(DEMO_STYLE)
    if not args.quiet:
        _err(f"painting {DEMO_CONTENT} in the style of {DEMO_STYLE} at {cfg.size} px ...")
    return _run(content, [style], str(out), cfg, quiet=args.quiet, shown=str(out))


def cmd_layers(args: argparse.Namespace) -> int:
    from ..config import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS

    print("VGG19 layers, in network order:")
    for block in BLOCK_CONVS:
        names = [n for n in LAYER_NAMES if re.search(r"\d", n).group() == str(block)]  # type: ignore[union-attr]
        print(f"  block {block}: {' '.join(names)}")
    print(f"default content layers: {','.join(DEFAULT_CONTENT_LAYERS)}")
    print(f"default style layers:   {','.join(DEFAULT_STYLE_LAYERS)}")
    return EXIT_OK


# -- parser -----------------------------------------------------------------


def _add_traceback(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's default must not overwrite a global --traceback.
    parser.add_argument(
        "--traceback", action="store_true", default=argparse.SUPPRESS,
        help="show the full stack trace on errors",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``painterly`` argument parser with its subcommands."""
    parser = _Parser(
        prog=PROG,
        description="Neural style transfer: paint a photo in the style of a painting.",
        epilog="Run 'painterly COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    parser.add_argument("--traceback", action="store_true", default=False,
                        help="show the full stack trace on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "transfer",
        help="paint CONTENT in the style of one or more STYLE images",
        description="Optimization-based style transfer (Gatys et al.): paint CONTENT in the "
        "style of STYLE (several styles are blended, or assigned to regions with --mask).",
    )
    p.add_argument("content", metavar="CONTENT", help="content image (the photo; '-': standard input)")
    p.add_argument("style", metavar="STYLE", nargs="+", help="style image(s) (the paintings)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output image; the extension picks the format (.png, .jpg, .webp, .tif, .bmp); "
                   "'-': standard output")
    p.add_argument("--format", choices=STREAM_FORMATS, default=None,
                   help="format of an image written to standard output (-o -; default: png)")
    p.add_argument("--mask", metavar="MASK",
                   help="grayscale image assigning regions to styles (white = first style, black = last)")
    p.add_argument("--save-every", type=number(int, 1), default=0, metavar="N",
                   help="also write OUTSTEM_0010.EXT-style intermediate images every N iterations")
    p.add_argument("--save-config", action="store_true",
                   help="write the settings as JSON beside the output (OUT.json)")
    p.add_argument("--config", metavar="JSON",
                   help="start from settings saved by --save-config (options given here override them)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    _add_traceback(p)
    add_config_options(p, TransferConfig, title="transfer settings")
    p.set_defaults(func=cmd_transfer)

    d = sub.add_parser(
        "demo",
        help=f"paint the bundled cat photo in the style of Starry Night ({DEMO_OUTPUT})",
        description=f"Run the transfer on the bundled {DEMO_CONTENT} and {DEMO_STYLE} with the "
        "default settings and write the result in the current folder.",
    )
    d.add_argument("-o", "--output", default=DEMO_OUTPUT, metavar="OUT",
                   help=f"output image (default: {DEMO_OUTPUT})")
    d.add_argument("--size", dest="cfg_size", type=int, default=None, metavar="N",
                   help=f"long side of the output in pixels (default: {DEMO_SIZE})")
    d.add_argument("--iterations", dest="cfg_iterations", type=int, default=None, metavar="N",
                   help="optimizer iterations over all scales (default: 0 = automatic)")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    _add_traceback(d)
    d.set_defaults(func=cmd_demo)

    layers = sub.add_parser("layers", help="list the VGG19 layer names",
                            description="List the VGG19 layer names usable as content/style layers.")
    _add_traceback(layers)
    layers.set_defaults(func=cmd_layers)
    register_fast_commands(sub, _Parser)
    for register in (register_sheet, register_serve, register_video, register_batch):
        register(sub)
    return parser


# -- entry point ------------------------------------------------------------


def _wants_traceback(argv: Sequence[str]) -> bool:
    args = list(argv)
    if "--" in args:
        args = args[: args.index("--")]
    return "--traceback" in args


def _stop_on_sigterm() -> None:
    """Let SIGTERM stop a run the way Ctrl-C does (best image or checkpoint kept, exit 130).

    Cluster schedulers and ``kill`` send SIGTERM; a job started in the
    background of a non-interactive shell also ignores SIGINT, so SIGTERM is
    the only polite way to stop it.
    """
    import signal

    try:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:  # not the main thread: an embedding program owns the signals
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit code (never raises, never exits).

    Args:
        argv: arguments without the program name (default ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    _stop_on_sigterm()
    show_tb = _wants_traceback(argv)
    parser: Optional[argparse.ArgumentParser] = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        show_tb = bool(getattr(args, "traceback", show_tb))
        if getattr(args, "func", None) is None:
            _err("error: missing command; choose from transfer, demo, layers (see 'painterly --help')")
            return EXIT_USAGE
        from ..memory import reuse_freed_memory

        reuse_freed_memory()
        return int(args.func(args))
    except ArgumentError as exc:
        _err(f"error: {_one_line(str(exc))} (see '{exc.prog} --help')")
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    except Cancelled as exc:  # a stream run stopped by Ctrl-C/SIGTERM (its best image was written)
        _err(f"interrupted: {_one_line(str(exc))}")
        return EXIT_INTERRUPTED
    except PainterlyError as exc:
        if show_tb:
            traceback.print_exc()
        _err(f"error: {_one_line(str(exc))}")
        return int(getattr(exc, "exit_code", EXIT_ERROR))
    except KeyboardInterrupt:
        if show_tb:
            traceback.print_exc()
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `painterly layers | head -1`
        try:
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_ERROR
    except OSError as exc:  # disk full, permission denied, ...: not a bug in painterly
        if show_tb:
            traceback.print_exc()
        _err(f"error: {_one_line(str(exc))}")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into exit codes
        if show_tb:
            traceback.print_exc()
            _err(f"internal error: {type(exc).__name__}: {_one_line(str(exc))}")
        else:
            _err(
                f"internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                "(rerun with --traceback for details)"
            )
        return EXIT_ERROR


def run() -> NoReturn:
    """The ``painterly`` command's entry point: :func:`main`, then exit with its code.

    When ``main`` has returned and no other Python thread is alive, the process
    leaves through ``os._exit`` after running the ``atexit`` handlers (temporary
    folders, multiprocessing, loggers) and flushing the standard streams:
    tearing the interpreter down frees every module, array and the ONNX session
    one by one, a visible share of a one-image run (benchmarks/results/startup.txt),
    where the OS takes the whole process back at once. Every output is written and
    closed by then (atomic renames). With a thread still running (a server, a
    cluster client) it exits the normal way, which waits for it.
    """
    code = main()
    import threading

    if threading.active_count() > 1:
        raise SystemExit(code)
    import atexit
    import os

    try:
        atexit._run_exitfuncs()  # noqa: SLF001 - the documented handlers, run as a normal exit would
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except (OSError, ValueError):  # a closed or broken pipe: the exit code still stands
        pass
    os._exit(code)


__all__ = ["main", "build_parser", "run", "version"]
