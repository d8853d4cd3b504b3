"""The ``painterly video`` subcommand: paint a video without flicker.

``painterly video INPUT -o OUTPUT (--model NAME | --style-image S ... | --transfer S ...)``.
The options come from :class:`~painterly.video.config.VideoConfig` (video
settings) and from the image configs (how each frame is painted), so the
CLI, the API and their defaults cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict

from ..config import StylizeConfig, TransferConfig
from ..errors import Cancelled, UsageError
from .options import add_config_options, build_config, given_options
from .progressbar import ProgressBar, format_duration

if TYPE_CHECKING:  # the video extra's config module is imported where a command needs it
    from ..video.config import VideoConfig

EXIT_OK, EXIT_INTERRUPTED = 0, 130


class VideoProgressBar(ProgressBar):
    """The progress bar with frames instead of iterations::

        [####......] 120/300 frames  640x360  4.2 frames/s  ETA 0:43
    """

    def _update_rate(self, event: Any, now: float) -> None:
        if event.rate and event.rate > 0:
            self._rate = event.rate  # measured by the run itself, model loading excluded
        else:
            super()._update_rate(event, now)

    def format(self, event: Any, bar: bool = True) -> str:  # type: ignore[override]
        """The status text of a video event."""
        total = max(event.total, event.step, 1)
        frac = min(1.0, max(0.0, event.step / total))
        if bar:
            filled = int(frac * self.width)
            parts = ["[" + "#" * filled + "." * (self.width - filled) + f"] {event.step}/{total} frames"]
        else:
            parts = [f"{event.step}/{total} frames ({frac:.0%})"]
        h, w = event.size if event.size else (0, 0)
        if h and w:
            parts.append(f"{w}x{h}")
        rate = self._rate
        if math.isfinite(rate) and rate > 0:
            parts.append(f"{rate:.2f} frames/s" if rate < 10 else f"{rate:.1f} frames/s")
            parts.append("ETA " + format_duration((total - event.step) / rate))
        else:
            parts.append("ETA ?")
        return "  ".join(parts)


def _fields(cls: type) -> set:
    return {f.name for f in dataclasses.fields(cls)}


def _pick(values: Dict[str, Any], cls: type) -> Dict[str, Any]:
    names = _fields(cls)
    return {k: v for k, v in values.items() if k in names}


def cmd_video(args: argparse.Namespace) -> int:
    from ..video.config import VideoConfig
    from ..video.run import run_video
    from ..video.sink import check_output
    from ..video.source import VideoSource

    sources = [flag for flag, given in (("--model", args.cfg_model), ("--style-image", args.style_image),
                                        ("--transfer", args.transfer)) if given]
    if args.transfer and len(sources) > 1:
        raise UsageError(f"--transfer paints by optimization; it cannot be combined with {sources[0]}")
    if not sources:
        raise UsageError("video needs --model NAME, --style-image IMAGE or --transfer STYLE (see 'painterly video --help')")
    values = given_options(args)
    vcfg = build_config(VideoConfig, _pick(values, VideoConfig))
    check_output(Path(args.output))
    VideoSource(args.input, vcfg).close()  # a missing or unreadable input fails before the model loads
    painter = _make_painter(args, values, vcfg)
    bar = None if args.quiet else VideoProgressBar(sys.stderr)
    from .stop import cancel_on_signals

    try:
        with cancel_on_signals(announce=not args.quiet) as cancel:
            result = run_video(painter, args.input, args.output, vcfg, on_progress=bar, cancel=cancel)
    except Cancelled as exc:
        if bar is not None:
            bar.close()
        partial = exc.result
        if partial is not None:
            _notes(partial.notes)
        print(f"painterly: interrupted: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    _notes(result.notes)
    if not args.quiet:
        w, h = result.size
        resumed = f", {result.resumed_from} resumed" if result.resumed_from else ""
        cuts = f", {result.scene_cuts} scene cuts" if result.scene_cuts else ""
        mode = "per frame" if vcfg.consistency == "none" else "consistent"
        print(
            f"wrote {result.output} ({result.frames} frames, {w}x{h}, {mode}{resumed}{cuts}) with {result.painter} "
            f"in {result.seconds:.1f} s ({result.fps:.2f} frames/s)"
        )
    return EXIT_OK


def _notes(notes: Any) -> None:
    for note in dict.fromkeys(notes):
        print(f"painterly: note: {note}", file=sys.stderr)


def _make_painter(args: argparse.Namespace, values: Dict[str, Any], vcfg: VideoConfig) -> Any:
    from ..jobs.painters import make_painter
    from ..video.run import split_cores

    if args.transfer:
        tcfg = build_config(TransferConfig, _pick(values, TransferConfig))
        return make_painter("transfer", tcfg, styles=tuple(args.transfer))
    from ..fast.stylize import parse_style_weights, style_weight_vector

    svalues = _pick(values, StylizeConfig)
    svalues["threads"] = split_cores(vcfg, svalues.get("threads", 0))[0]
    if args.style_image:
        svalues["style_images"] = tuple(args.style_image)
        if args.style_weights is not None:
            svalues["style_weights"] = parse_style_weights(args.style_weights, [Path(p).stem for p in args.style_image])
        return make_painter("arbitrary", build_config(StylizeConfig, svalues))
    painter = make_painter("stylize", build_config(StylizeConfig, svalues))
    if args.style_weights is not None:
        styles = painter.stylizer.info.styles
        painter.config = painter.config.replace(style_weights=parse_style_weights(args.style_weights, styles))
        style_weight_vector(painter.config.style_weights, styles)
    return painter


def register(subparsers: Any) -> None:
    """Add the ``video`` subcommand to ``subparsers``."""
    from ..video.config import VideoConfig

    v = subparsers.add_parser(
        "video",
        help="paint a video (no flicker; audio, timestamps and rotation kept)",
        description="Paint every frame of a video with a trained model (--model), in the style of any "
        "image (--style-image) or by optimization (--transfer, slow). Each frame is blended with the "
        "previous output moved by optical flow, so the texture does not flicker (--consistency none "
        "paints each frame on its own). The output's extension picks the format: .mp4 (H.264), .webm "
        "(VP9), .mov, .mkv, .gif, or a folder name for PNG frames; a folder or glob of frames is read "
        "as a video too. Frame count, timestamps and audio are kept. Ctrl-C leaves a playable video of "
        "the finished frames; --resume continues it.",
    )
    v.add_argument("input", metavar="INPUT", help="video file, folder of frames, or glob such as 'frames/*.png'")
    v.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="video file (.mp4 .webm .mov .mkv .gif) or a folder for numbered PNG frames")
    v.add_argument("-m", "--model", dest="cfg_model", metavar="NAME|PATH",
                   help="trained model name (see 'painterly models') or file; with --style-image: an AdaIN model")
    v.add_argument("--style-image", action="append", metavar="IMAGE",
                   help="paint in the style of this image (any painting) with the AdaIN model; repeat to blend")
    v.add_argument("--transfer", action="append", metavar="STYLE",
                   help="paint by optimization (Gatys) towards this style image: minutes per frame, for short clips")
    v.add_argument("--style-weights", metavar="SPEC", help="blend of the model's or the style images' styles: "
                   "'starry:0.7,wave:0.3' or '0.7,0.3'")
    v.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    v.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                   help="show the full stack trace on errors")
    add_config_options(v, VideoConfig, title="video settings")
    add_config_options(v, StylizeConfig, title="painting settings (--model, --style-image)",
                       exclude=("model", "style_weights", "style_images", "size", "mask"))
    shared = _fields(StylizeConfig) | {"size"}
    add_config_options(v, TransferConfig, title="optimization settings (--transfer)",
                       exclude=tuple(sorted(_fields(TransferConfig) & shared)))
    v.set_defaults(func=cmd_video)


__all__ = ["VideoProgressBar", "cmd_video", "register"]
