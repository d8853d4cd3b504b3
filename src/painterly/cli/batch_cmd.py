"""The ``painterly batch`` subcommand: many images, a local worker pool or a Ray cluster.

``painterly stylize folder/ -o out/`` becomes ``painterly batch folder/ -o out/
--model wave``, and runs on a cluster by adding ``--ray``. Progress over the
whole batch goes to stderr; ``--json`` prints the results on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Dict

from ..config import StylizeConfig, TransferConfig
from ..errors import UsageError
from .options import add_config_options, build_config, given_options, load_config_file, number
from .progressbar import ProgressBar, format_duration

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130

#: Config fields both methods have: one option each, given to whichever method runs.
_SHARED = tuple(
    sorted(set(StylizeConfig.__dataclass_fields__) & set(TransferConfig.__dataclass_fields__))
)
_STYLIZE_ONLY = tuple(sorted(set(StylizeConfig.__dataclass_fields__) - set(TransferConfig.__dataclass_fields__)))
_TRANSFER_ONLY = tuple(sorted(set(TransferConfig.__dataclass_fields__) - set(StylizeConfig.__dataclass_fields__)))


def _warn(message: str) -> None:
    print(f"painterly: warning: {message}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"painterly: {message}", file=sys.stderr)


class BatchBar(ProgressBar):
    """The progress display of a batch (:class:`~painterly.batch.tracker.BatchProgress` events)::

        [####......] 10/24  done 9  failed 1  running 2  1.85 img/s  ETA 0:07
    """

    def _update_rate(self, event: Any, now: float) -> None:
        self._rate = float(getattr(event, "rate", 0.0) or 0.0)

    def format(self, event: Any, bar: bool = True) -> str:  # type: ignore[override]
        total = max(event.total, 1)
        parts = [self._count(event, bar), f"done {event.done}"]
        if event.failed:
            parts.append(f"failed {event.failed}")
        if event.cancelled:
            parts.append(f"cancelled {event.cancelled}")
        parts.append(f"running {len(event.running)}")
        if event.skipped:
            parts.append(f"skipped {event.skipped}")
        if event.retried:
            parts.append(f"retried {event.retried}")
        rate = event.rate
        if rate > 0 and math.isfinite(rate):
            parts.append(f"{rate:.2f} img/s" if rate >= 0.1 else f"{1 / rate:.1f} s/img")
        eta = event.eta
        if event.step >= total:
            parts.append("ETA 0:00")
        else:
            parts.append("ETA " + (format_duration(eta) if eta is not None else "?"))
        return "  ".join(parts)

    def __call__(self, event: Any) -> None:  # type: ignore[override]
        # Log mode writes a line per 10% of the images; a bar of 0 images would divide by 0.
        if event.total > 0:
            super().__call__(event)


def _ray_address(value: str) -> str:
    text = value.strip()
    if os.path.exists(text) and not text.startswith("ray://") and ":" not in text:
        raise UsageError(
            f"--ray took '{value}' as the cluster address, but it is a file or folder: put --ray after "
            "the inputs, or write '--ray auto'"
        )
    return text


def _method_config(args: argparse.Namespace) -> tuple:
    """``(method, config, styles, mask, style_weights_spec)`` from the options."""
    from ..fast.stylize import parse_style_weights

    given = given_options(args)
    if args.transfer:
        if args.cfg_model or args.style_image:
            raise UsageError("--transfer paints by optimization; it cannot be combined with --model or --style-image")
        base = load_config_file(TransferConfig, args.config) if args.config else None
        ignored = sorted(k for k in given if k in _STYLIZE_ONLY)
        if ignored:
            _warn(f"{', '.join('--' + k.replace('_', '-') for k in ignored)} apply only to the one-pass methods; ignored")
        values = {k: v for k, v in given.items() if k in TransferConfig.__dataclass_fields__}
        if args.style_weights is not None:
            _warn("--style-weights applies to --model and --style-image; use --style-blend with --transfer")
        return "transfer", build_config(TransferConfig, values, base), tuple(args.transfer), args.mask, ""
    if args.mask:
        raise UsageError("--mask is for --transfer; with --style-image use --stylize-mask")
    base = load_config_file(StylizeConfig, args.config) if args.config else None
    ignored = sorted(k for k in given if k in _TRANSFER_ONLY)
    if ignored:
        _warn(f"{', '.join('--' + k.replace('_', '-') for k in ignored)} apply only to --transfer; ignored")
    values: Dict[str, Any] = {k: v for k, v in given.items() if k in StylizeConfig.__dataclass_fields__}
    if args.stylize_mask:
        values["mask"] = args.stylize_mask
    style_images = tuple(args.style_image) if args.style_image else (base.style_images if base else ())
    spec = ""
    if style_images:
        values["style_images"] = style_images
        if args.style_weights is not None:
            values["style_weights"] = parse_style_weights(args.style_weights, [Path(p).stem for p in style_images])
        method = "arbitrary"
    else:
        if not (args.cfg_model or (base and base.model)):
            raise UsageError("give --model NAME (see 'painterly models'), --style-image PAINTING or --transfer STYLE")
        spec = args.style_weights or ""
        method = "stylize"
    return method, build_config(StylizeConfig, values, base), (), None, spec


def cmd_batch(args: argparse.Namespace) -> int:
    from ..batch.run import batch
    from .stop import cancel_on_signals

    ray = _ray_address(args.ray) if args.ray is not None else None
    if not args.inputs:
        raise UsageError("give at least one INPUT (image files, folders or URIs)")
    method, cfg, styles, mask, spec = _method_config(args)
    bar = None if args.quiet else BatchBar(sys.stderr)
    try:
        with cancel_on_signals(announce=not args.quiet) as cancel:
            result = batch(
                list(args.inputs), args.output, method, cfg, styles=styles, mask=mask, style_weights=spec,
                ray=ray, workers=args.workers, resources=args.resources, resume=args.resume,
                manifest=args.manifest, retries=args.retries, quality=args.quality, suffix=args.suffix or "",
                save_config=args.save_config, on_progress=bar, cancel=cancel,
            )
    finally:
        if bar is not None:
            bar.close()
    for note in result.notes:
        _warn(note)
    for item in result.items:
        if item["status"] == "failed":
            _warn(f"failed {item['input']}: {item['error']}")
    done, failed, skipped = result.count("done"), result.count("failed"), result.count("skipped")
    total = len(result.items)
    rate = f", {result.images_per_second:.2f} img/s" if done else ""
    summary = (f"painted {done} of {total} images into {args.output} in {result.seconds:.1f} s{rate} "
               f"({result.runner or 'nothing to run'}{'; ' + result.painter if result.painter else ''})")
    extra = []
    if failed:
        extra.append(f"{failed} failed")
    if skipped:
        extra.append(f"{skipped} done before")
    if result.retried:
        extra.append(f"{result.retried} retried after a worker died")
    if result.cancelled:
        extra.append(f"interrupted: {result.count('pending') + result.count('cancelled')} left for --resume")
    summary += ("; " + ", ".join(extra) if extra else "") + f"; manifest {result.manifest}"
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        if not args.quiet or failed or result.cancelled:
            _note(summary)
    elif not args.quiet or failed or result.cancelled:
        (print if not (failed or result.cancelled) else _note)(summary)
    if result.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if failed else EXIT_OK


def register(subparsers: Any) -> None:
    """Add the ``batch`` subcommand to ``subparsers``."""
    b = subparsers.add_parser(
        "batch",
        help="paint many images on all cores, or on a Ray cluster (--ray); resumable",
        description="Paint every image of the inputs (files, folders, or URIs such as file:// and s3://) "
        "into the output folder, with a trained model (--model), any painting (--style-image) or the "
        "optimization method (--transfer STYLE). Runs a pool of worker processes on this machine, each "
        "loading the model once, or on a Ray cluster with --ray. A manifest (JSON Lines) records each "
        "result as it arrives; --resume skips images already done; a bad image is recorded as failed "
        "and the others go on; an image whose worker dies is retried (--retries). The outputs are the "
        "bytes 'painterly stylize' writes for the same input and settings.",
    )
    # nargs "*": a missing INPUT is reported by cmd_batch, which can tell when --ray swallowed it.
    b.add_argument("inputs", metavar="INPUT", nargs="*", help="image files, folders of images, or their URIs")
    b.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder (path or URI; created)")
    how = b.add_argument_group("method (one of)")
    how.add_argument("-m", "--model", dest="cfg_model", metavar="NAME|PATH",
                     help="a trained model (see 'painterly models'); with --style-image: an AdaIN model")
    how.add_argument("--style-image", action="append", metavar="IMAGE",
                     help="paint in the style of this image (any painting) with an AdaIN model; repeat to blend")
    how.add_argument("--transfer", action="append", metavar="STYLE",
                     help="paint by optimization (Gatys) in the style of this image; repeat for several styles")
    how.add_argument("--style-weights", metavar="SPEC",
                     help="blend of the model's styles or of the --style-image images: 'wave:0.7,udnie:0.3' or '0.7,0.3'")
    how.add_argument("--mask", metavar="MASK", help="--transfer: grayscale image assigning regions to styles")
    how.add_argument("--stylize-mask", metavar="MASK",
                     help="--style-image with two images: white areas get the first style, black the second")
    run = b.add_argument_group("where and how it runs")
    run.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                     help="run on a Ray cluster: auto (the running cluster, default), local (start Ray here), "
                     "HOST:PORT or ray://HOST:10001 (pip install 'painterly[cluster]')")
    run.add_argument("--workers", type=number(int, 0), default=0, metavar="N",
                     help="worker processes (Ray: actors / concurrent tasks); default: one per core, "
                     "so workers x --threads = cores")
    run.add_argument("--resources", metavar="JSON",
                     help="Ray: resources of each worker, e.g. '{\"num_gpus\": 1}' (with --device cuda)")
    run.add_argument("--retries", type=number(int, 0), default=2, metavar="N",
                     help="times an image whose worker died is tried again before it is recorded failed (default: 2)")
    run.add_argument("--resume", action="store_true",
                     help="skip images the manifest records as done whose output still exists")
    run.add_argument("--manifest", metavar="FILE",
                     help="JSON Lines manifest (default: OUT_DIR/painterly-batch.jsonl)")
    out = b.add_argument_group("output")
    out.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality 1-100 (default: 95)")
    out.add_argument("--suffix", metavar=".EXT", help="output format for all images (default: the input's)")
    out.add_argument("--save-config", action="store_true", help="write the settings as JSON beside each output")
    out.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    out.add_argument("--config", metavar="JSON", help="start from settings saved in a JSON file (options override them)")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress display; print only problems")
    b.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                   help="show the full stack trace on errors")
    add_config_options(b, StylizeConfig, title="one-pass settings (--model, --style-image; shared ones also --transfer)",
                       exclude=("model", "style_weights", "style_images", "mask"))
    add_config_options(b, TransferConfig, title="optimization settings (--transfer)", exclude=_SHARED)
    b.set_defaults(func=cmd_batch)


__all__ = ["BatchBar", "cmd_batch", "register"]
