"""Subcommands of the trained models: ``train``, ``train-adain``, ``stylize``, ``models`` and ``export``.

Registered into the ``painterly`` parser by :func:`register`. Imports nothing
heavy at module level: ``painterly stylize`` with an ONNX model never imports
torch (the stylizer is chosen by :func:`painterly.fast.stylize.load_stylizer`
from the model file's suffix), so it starts in a fraction of a second.

Like the rest of the CLI, the commands return exit codes and print; errors
are raised as :class:`~painterly.errors.PainterlyError` and turned into one
line by ``painterly.cli.main.main``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..config import AdaINTrainConfig, StylizeConfig, TrainConfig, arbitrary_fields, config_fields
from ..errors import OutputError, UsageError
from ..jobs.run import JobSpec, plan_job, run_job
from .progressbar import format_duration
from .streams import STREAM_FORMATS, paint_stream, uses_streams
from .options import add_config_options, build_config, config_from_args, given_options, load_config_file

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130



def _warn(message: str) -> None:
    print(f"painterly: warning: {message}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"painterly: {message}", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


def _add_traceback(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's default must not overwrite a global --traceback.
    parser.add_argument(
        "--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full stack trace on errors"
    )


def _add_training_io(parser: argparse.ArgumentParser, output_help: str) -> None:
    """The options every training command shares: -o, --config, -q and --traceback."""
    parser.add_argument("-o", "--output", metavar="MODEL", help=output_help)
    parser.add_argument("--config", metavar="JSON", help="start from settings saved in a JSON file (options override them)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    _add_traceback(parser)


# -- train -------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    base = load_config_file(TrainConfig, args.config) if args.config else None
    cfg = config_from_args(TrainConfig, args, base)
    given: Dict[str, Any] = {}
    if args.style:
        given["styles"] = tuple(args.style)
    if args.data is not None:
        given["data"] = args.data
    if args.output is not None:
        given["output"] = args.output
    cfg = cfg.replace(**given)
    missing = [flag for flag, value in (("--style", cfg.styles), ("--data", cfg.data), ("-o", cfg.output)) if not value]
    if missing:
        raise UsageError(f"train needs {', '.join(missing)} (see 'painterly train --help')")
    from ..fast.train import train

    return _train_with_bar(train, cfg, args.quiet, lambda r: f"{', '.join(r.style_names)}; {cfg.architecture}")


def _train_with_bar(train_fn: Any, cfg: Any, quiet: bool, describe: Any) -> int:
    """Run a training function with a progress bar and report its outcome in one line.

    ``describe(result)`` names what was trained, for the final line.
    """
    from ..errors import Cancelled
    from ..jobs.api import set_threads
    from .progressbar import TrainProgressBar
    from .stop import cancel_on_signals

    set_threads(cfg.threads)
    bar = None if quiet else TrainProgressBar(sys.stderr)
    try:
        with cancel_on_signals(announce=not quiet) as cancel:
            result = train_fn(cfg, callback=bar, cancel=cancel)
    except Cancelled as stopped:
        result = stopped.result
    finally:
        if bar is not None:
            bar.close()
    for path in result.unreadable_files:
        _warn(f"skipped unreadable training image {path}")
    losses = ", ".join(f"{k} {v:.3g}" for k, v in result.losses.items())
    if result.interrupted:
        _note(
            f"interrupted at iteration {result.iterations}/{cfg.iterations}; the checkpoint "
            f"{result.checkpoint_path} holds the state: rerun with --resume to continue"
        )
        return EXIT_INTERRUPTED
    print(
        f"wrote {result.model_path} ({describe(result)}) after {result.iterations} iterations in "
        f"{result.elapsed:.0f} s ({result.seconds_per_iteration:.2f} s/it)" + (f"; {losses}" if losses else "")
    )
    return EXIT_OK


# -- stylize -----------------------------------------------------------------------


def cmd_stylize(args: argparse.Namespace) -> int:
    from ..fast.stylize import parse_style_weights, style_weight_vector
    from ..jobs.api import set_threads
    from ..jobs.painters import make_painter, paint_lanes

    base = load_config_file(StylizeConfig, args.config) if args.config else None
    style_images = tuple(args.style_image) if args.style_image else (base.style_images if base else ())
    if style_images:
        values = given_options(args)
        values["style_images"] = tuple(style_images)
        if args.style_weights is not None:
            values["style_weights"] = parse_style_weights(args.style_weights, [Path(p).stem for p in style_images])
        cfg = build_config(StylizeConfig, values, base)
        method = "arbitrary"
    else:
        given = sorted(k for k in given_options(args) if k in _ADAIN_ONLY)
        if given:
            _warn(f"{', '.join('--' + k.replace('_', '-') for k in given)} apply only with --style-image; ignored")
        cfg = config_from_args(StylizeConfig, args, base)
        method = "stylize"
    spec = JobSpec(method, tuple(args.inputs), args.output, cfg, quality=args.quality,
                   save_config=bool(getattr(args, "save_config", False)))
    streams = uses_streams(args.inputs, args.output)
    # Bad inputs or output names fail here, before the model loads.
    total = 1 if streams else len(plan_job(spec)[0])
    # Reads the model and style images: bad ones fail here.
    painter = make_painter(method, cfg, lanes=paint_lanes(method, cfg, total))
    if painter.stylizer.backend == "torch":  # (onnxruntime sessions take cfg.threads themselves)
        set_threads(cfg.threads)
    if method == "stylize" and args.style_weights is not None:
        styles = painter.stylizer.info.styles
        painter.config = cfg = cfg.replace(style_weights=parse_style_weights(args.style_weights, styles))
        style_weight_vector(cfg.style_weights, styles)  # wrong count: fail before any work
    if streams:
        paint_stream(painter, args.inputs[0], args.output, args.format, args.quality)
        return EXIT_OK
    return _report_job(args, dataclasses.replace(spec, config=cfg), painter, total)


#: StylizeConfig fields that only the AdaIN path reads (warned about without --style-image).
_ADAIN_ONLY = tuple(n for n in arbitrary_fields() if n not in ("style_images", "mask"))


def _report_job(args: argparse.Namespace, spec: Any, painter: Any, total: int) -> int:
    """Run a one-pass job, print a line per image and a summary; unreadable inputs are skipped with a warning."""
    from .stop import cancel_on_signals

    as_json = bool(getattr(args, "json", False))
    started = time.perf_counter()
    count = {"seen": 0}

    def report(item: Any) -> None:
        # One line per input as it finishes, with the job's rate and time left.
        count["seen"] += 1
        if as_json:
            return
        if item.status == "failed":
            _warn(f"skipped {item.input}: {item.error}")
        elif item.status == "done" and not args.quiet:
            w, h = item.size
            detail = f", {item.detail}" if item.detail else ""
            progress = ""
            if total > 1:
                elapsed = time.perf_counter() - started
                left = elapsed / count["seen"] * (total - count["seen"])
                progress = f"  [{count['seen']}/{total}, ETA {format_duration(left)}]"
            print(f"wrote {item.output} ({w}x{h}) in {item.seconds:.2f} s{detail}{progress}", flush=True)

    with cancel_on_signals(announce=not args.quiet) as cancel:
        result = run_job(spec, painter=painter, cancel=cancel, on_item=report)
    for note in result.notes:
        _warn(note)
    if as_json:
        import json

        print(json.dumps({
            "painter": result.painter, "seconds": round(result.seconds, 3), "cancelled": result.cancelled,
            "items": [item.to_dict() for item in result.items],
        }))
        return EXIT_INTERRUPTED if result.cancelled else (EXIT_ERROR if result.count("failed") else EXIT_OK)
    failed = result.count("failed")
    done = result.count("done")
    if result.cancelled:
        _note(f"interrupted: stylized {done} of {len(result.items)} images")
        return EXIT_INTERRUPTED
    if result.to_folder or failed:
        where = f" into {args.output}" if result.to_folder else ""
        summary = (f"stylized {done} of {len(result.items)} images{where} with {result.painter} "
                   f"in {result.seconds:.1f} s")
        if failed:
            _note(summary + f"; {failed} failed")
        elif not args.quiet:
            print(summary)
    return EXIT_ERROR if failed else EXIT_OK


# -- train-adain -------------------------------------------------------------------


def cmd_train_adain(args: argparse.Namespace) -> int:
    base = load_config_file(AdaINTrainConfig, args.config) if args.config else None
    given = given_options(args)
    for name in ("content", "style", "output"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    cfg = build_config(AdaINTrainConfig, given, base)
    missing = [flag for flag, value in (("--content", cfg.content), ("--style", cfg.style), ("-o", cfg.output)) if not value]
    if missing:
        raise UsageError(f"train-adain needs {', '.join(missing)} (see 'painterly train-adain --help')")
    from ..arbitrary.train import train_adain

    return _train_with_bar(train_adain, cfg, args.quiet, lambda r: "AdaIN decoder")


# -- models and export -------------------------------------------------------------


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> List[str]:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return lines


def cmd_models(args: argparse.Namespace) -> int:
    from ..models.checkpoints import list_models, models_dirs

    problems: List[Tuple[Path, str]] = []
    models = list_models(errors=problems)
    for path, message in problems:
        _warn(f"skipped {path}: {_one_line(message)}")
    if not models:
        folders = " or ".join(str(d) for d in models_dirs())
        print(f"no models found in {folders}; train one with 'painterly train' or pass a file to --model")
        return EXIT_OK
    rows = [
        (m.name, ",".join(m.styles) or "(any image)", m.architecture or "?", _human_size(m.size_bytes), str(m.path))
        for m in models
    ]
    for line in format_table(rows, ("NAME", "STYLES", "ARCHITECTURE", "SIZE", "PATH")):
        print(line)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from ..fast.onnx_export import export_onnx
    from ..models.checkpoints import find_model, read_model_info, user_models_dir

    source = find_model(args.model, prefer=(".safetensors",))
    if source.suffix.lower() == ".safetensors" and read_model_info(source).kind == "adain":
        from ..arbitrary.onnx_export import export_adain_onnx

        def export_onnx(model: Path, out: Path) -> Path:
            return export_adain_onnx(model, out, int8=not args.fp32)
    elif args.fp32:
        raise UsageError("--fp32 is for AdaIN models; feed-forward models are always exported in float32")
    if args.output:
        target = Path(args.output).expanduser()
    else:
        folder = user_models_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create models folder {folder}: {exc.strerror or exc}") from None
        target = folder / f"{source.stem}.onnx"
    path = export_onnx(source, target)
    hint = "--style-image PAINTING " if read_model_info(path).kind == "adain" else ""
    print(f"wrote {path} ({_human_size(path.stat().st_size)}); run it with 'painterly stylize {hint}--model {path}'")
    return EXIT_OK


# -- parser ------------------------------------------------------------------------


def register(subparsers: Any, parser_class: Optional[Callable[..., argparse.ArgumentParser]] = None) -> None:
    """Add ``train``, ``train-adain``, ``stylize``, ``models`` and ``export`` to ``subparsers``.

    Args:
        subparsers: the object ``ArgumentParser.add_subparsers`` returned.
        parser_class: unused (the subparsers object already carries the
            parser class); accepted for symmetry with the main parser.
    """
    t = subparsers.add_parser(
        "train",
        help="train a feed-forward network on one or more styles (then stylize in a blink)",
        description="Train a feed-forward style network (Johnson et al. 2016; several styles with "
        "conditional instance norm, Dumoulin et al. 2017) on a folder of photos. Writes the model "
        "(.safetensors), a checkpoint to --resume from, preview images and a loss curve beside -o.",
    )
    t.add_argument("--style", action="append", metavar="IMAGE",
                   help="a style image; repeat for several styles in one network")
    t.add_argument("--data", metavar="FOLDER", help="folder of content photos (searched recursively)")
    _add_training_io(t, "model file to write (NAME.safetensors)")
    add_config_options(t, TrainConfig, title="training settings", exclude=("styles", "data", "output"))
    t.set_defaults(func=cmd_train)

    a = subparsers.add_parser(
        "train-adain",
        help="train an arbitrary-style (AdaIN) decoder: then any image is a style",
        description="Train the decoder of AdaIN (Huang & Belongie 2017) on a folder of photos and a folder "
        "of paintings. Then 'painterly stylize PHOTO --style-image PAINTING' paints with any style in one "
        "pass. Writes the model (.safetensors), a checkpoint to --resume from, preview images and a loss "
        "curve beside -o. The paper's 160000 iterations need a GPU (hours); on a CPU an iteration takes "
        "about half a minute at 256 px, seconds with the CPU recipe of docs/models.md. --resume may change "
        "the crop size, batch size, learning rate, identity and distribution weights and colour jitter (a "
        "curriculum; each change is recorded in the model).",
    )
    a.add_argument("--content", metavar="FOLDER", help="folder of content photos (searched recursively)")
    a.add_argument("--style", metavar="FOLDER", help="folder of style images, e.g. paintings (searched recursively)")
    _add_training_io(a, "model file to write (NAME.safetensors; name it adain to make it the default of --style-image)")
    add_config_options(a, AdaINTrainConfig, title="training settings", exclude=("content", "style", "output"))
    a.set_defaults(func=cmd_train_adain)

    s = subparsers.add_parser(
        "stylize",
        help="paint photos with a trained model (files or folders)",
        description="Stylize images with a trained feed-forward model: one network pass per image, "
        "large photos in tiles. With --style-image, paint in the style of any image instead, with an "
        "arbitrary-style (AdaIN) model (default: the one named 'adain'; train it with 'painterly "
        "train-adain'). Several inputs or a folder go to the output folder -o (created if "
        "missing); unreadable inputs are skipped with a warning and make the exit code 1.",
    )
    s.add_argument("inputs", metavar="INPUT", nargs="+", help="image files and/or folders of images ('-': standard input)")
    s.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output image for one input file, else an output folder ('-': standard output)")
    s.add_argument("--format", choices=STREAM_FORMATS, default=None,
                   help="format of an image written to standard output (-o -; default: png)")
    s.add_argument("-m", "--model", dest="cfg_model", metavar="NAME|PATH",
                   help="model name (see 'painterly models') or a .safetensors/.onnx file "
                   "(with --style-image: an AdaIN model, default 'adain')")
    s.add_argument("--style-image", action="append", metavar="IMAGE",
                   help="paint in the style of this image (any painting) with an AdaIN model; repeat to "
                   "blend several (--style-weights) or, with --mask, to paint two regions")
    s.add_argument("--style-weights", metavar="SPEC",
                   help="blend of the model's styles (or of the --style-image images): "
                   "'starry:0.7,wave:0.3' (by name) or '0.7,0.3' (in order)")
    s.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality 1-100 (default: 95)")
    s.add_argument("--config", metavar="JSON", help="start from settings saved in a JSON file (options override them)")
    s.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    s.add_argument("--save-config", action="store_true",
                   help="write the settings as JSON beside each output (OUT.json; read back with --config)")
    s.add_argument("--json", action="store_true",
                   help="print the results as one JSON object on stdout (one entry per input) instead of lines")
    _add_traceback(s)
    only_arbitrary = arbitrary_fields()
    add_config_options(s, StylizeConfig, title="stylize settings (both methods)",
                       exclude=("model", "style_weights", *only_arbitrary))
    add_config_options(s, StylizeConfig, title="any-painting settings (with --style-image)",
                       exclude=tuple(n for n in config_fields(StylizeConfig) if n not in only_arbitrary or n == "style_images"))
    s.set_defaults(func=cmd_stylize)

    m = subparsers.add_parser(
        "models", help="list the installed models",
        description="List the models found by name: the user's folder ($PAINTERLY_MODELS, else "
        "~/.local/share/painterly/models), then the bundled ones.",
    )
    _add_traceback(m)
    m.set_defaults(func=cmd_models)

    e = subparsers.add_parser(
        "export", help="export a model to ONNX (runs without torch)",
        description="Export a .safetensors model to ONNX for onnxruntime: 'painterly stylize' then "
        "starts without importing torch. Without -o the file goes to the user's models folder, so "
        "the model's name picks it.",
    )
    e.add_argument("model", metavar="MODEL", help="model name or .safetensors file")
    e.add_argument("-o", "--output", metavar="OUT.onnx", help="ONNX file to write (default: NAME.onnx in the models folder)")
    e.add_argument(
        "--fp32", action="store_true",
        help="AdaIN models: keep the encoder in float32 (default: int8 convolutions, ReLUs and max-pools, several times faster on CPU; "
        "use --fp32 for onnxruntime on a GPU, where int8 convolutions fall back to the CPU)",
    )
    _add_traceback(e)
    e.set_defaults(func=cmd_export)


__all__ = ["register", "cmd_export", "cmd_models", "cmd_stylize", "cmd_train", "cmd_train_adain", "format_table"]
