"""Benchmark painterly's optimization-based style transfer against pastiche (Gatys et al.).

Run from anywhere (painterly need not be installed; the script puts the repo's
``src`` on ``PYTHONPATH`` for its child processes)::

    python benchmarks/gatys_vs_pastiche.py                       # everything
    python benchmarks/gatys_vs_pastiche.py --only quality --sizes 256
    python benchmarks/gatys_vs_pastiche.py --only eval --only 512
    python benchmarks/gatys_vs_pastiche.py --painterly-args "--iterations 200" --json bench.json
    python benchmarks/gatys_vs_pastiche.py --pairs tubingen:starry_night --sizes 64 --steps 3   # smoke test

What it measures (every tool runs as a separate command, one after the other,
never concurrently, timed whole with ``time.perf_counter``: interpreter start-up,
imports, weight loading, image I/O and the optimization):

quality (``--only quality``)
    For each size in ``--sizes`` (default 256,384) and each content:style pair in
    ``--pairs`` (default tubingen:starry_night, chicago:wave, golden_gate:shipwreck,
    sailboat:udnie, images from ``shared/images``, and three paintings of
    ``shared/datasets/style_eval``: stata:cezanne, newyork:mosaic, hoovertowernight:autumn):

    * ``python -m pastiche --seed 0 --num-steps STEPS --size SIZE -c C -s S -o OUT --no-verbose``
      (``--steps``, default 400);
    * ``python -m painterly transfer C S -o OUT --size SIZE --quiet`` plus ``--painterly-args``.

    Both outputs are scored by ``benchmarks/scoring.py`` (content, Gram style and
    sliced-Wasserstein errors, lower is better). Targets per pair and size:
    painterly <= pastiche on all three measures, and painterly's time <= pastiche's / 20.

    pastiche results (output PNG, wall time, command line, pastiche version, date)
    are cached under ``--cache`` (default ``benchmarks/.cache/``) keyed by
    (pair, size, steps), and re-used while the input files and the pastiche
    version are unchanged, so tuning painterly does not re-run pastiche;
    ``--fresh`` ignores and overwrites the cache. The table says which pastiche
    rows came from the cache and when they were measured. Keep ``benchmarks/.cache/``
    out of version control.

eval (``--only eval``)
    Seconds per loss evaluation: painterly's own objective (``gatys.objective.Objective``
    with the default settings: content at relu4_2, Gram and moment style terms at
    relu1_1..relu5_1, targets from two random images) on a square image that
    requires grad, forward and backward; median of ``--eval-runs`` after a warm-up,
    at each of ``--eval-sizes`` (default 256,512). The floor is
    FLOPs / (matmul FLOP/s): FLOPs = 2 x the forward conv FLOPs up to conv5_1
    (2 * Cin * Cout * 9 * h * w per conv; the backward needs only input gradients,
    about the forward's FLOPs again) plus the style statistics' products F F^T at
    the style layers, forward and backward (2 * 2 * C^2 * N each; 5% of the total
    at the defaults; the table also shows the ratio to the convolutions alone,
    the floor before the fifth session); matmul FLOP/s is a 3072 x 3072 matmul
    of the same dtype measured in the same process (best of 3 after a warm-up).
    Target: measured <= 1.15 x floor.

512 (``--only 512``)
    A default run, ``painterly transfer C S -o out.png --quiet`` (default size,
    512 px) on the first pair. Target: under 25 s.

2048 (``--only 2048``)
    ``painterly transfer C S -o out.png --size 2048 --iterations N --quiet`` on the
    first pair (``--big-iterations``, default 20); peak memory is the child's max
    RSS from ``os.wait4``. Target: it completes and the peak is under 24 GiB.

At the end a summary lists every target with PASS/FAIL and the measured value;
the exit status is 1 when any target failed (or a run crashed), 0 otherwise
and 2 for a usage error.

How long it takes, on 2 CPU cores: pastiche (400 steps) takes about 6 minutes
per pair at 256 px and about 14 at 384 px, so a first full run spends about
80 minutes in pastiche alone; painterly's runs take about a twelfth of that if it
meets its target, the eval report well under a minute, the 512 run up to 2
minutes and the 2048 run a few minutes. With the pastiche cache warm a full run
takes about 10-15 minutes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SRC = REPO / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(BENCH_DIR))

from tables import print_table  # noqa: E402 - benchmarks/tables.py, after the path set-up
from installed import compile_sources  # noqa: E402

#: The first four use the paintings of shared/images/style; the last three paintings come from
#: shared/datasets/style_eval (never trained on, never tuned on here).
DEFAULT_PAIRS = (
    "tubingen:starry_night,chicago:wave,golden_gate:shipwreck,sailboat:udnie,"
    "stata:dmitryulyanov_texture_nets_cezanne,newyork:emptysamurai_pytorch-reconet_mosaic,"
    "hoovertowernight:francisgosselin_neural_style_transfer_autumn"
)
DEFAULT_SIZES = "256,384"
DEFAULT_EVAL_SIZES = "256,512"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
PARTS = ("quality", "eval", "512", "2048")
#: Extra parts, run only when named: ``pastiche`` fills the pastiche cache and nothing else.
EXTRA_PARTS = ("pastiche",)
MEASURES = ("content", "style", "swd")

# Targets.
SPEEDUP_TARGET = 20.0  # painterly time <= pastiche time / 20 (issue 18; was 12)
EVAL_FLOOR_FACTOR = 1.15  # seconds per loss evaluation <= 1.15 x floor (issue 18; was 1.3)
DEFAULT_RUN_SECONDS = 25.0  # default 512 px run (issue 18; was 120)
PEAK_RSS_GIB = 24.0  # 2048 px run
MATMUL_N = 3072


# --------------------------------------------------------------------------- helpers


def shared_dir() -> Path:
    env = os.environ.get("PAINTERLY_SHARED")
    return Path(env).expanduser().resolve() if env else Path(__file__).resolve().parents[2] / "shared"


def find_image(name: str, kind: str) -> Path:
    """Resolve ``name`` (with or without extension, or a path) to an image in shared/images."""
    p = Path(name).expanduser()
    if p.is_file():
        return p.resolve()
    images = shared_dir() / "images"
    folders = [images / kind, images, images / ("style" if kind == "content" else "content")]
    if kind == "style":
        folders.append(shared_dir() / "datasets" / "style_eval")
    for folder in folders:
        cand = folder / name
        if cand.suffix and cand.is_file():
            return cand.resolve()
        for ext in IMAGE_EXTS:
            cand = folder / f"{name}{ext}"
            if cand.is_file():
                return cand.resolve()
    raise SystemExit(f"error: no {kind} image '{name}' in {images} (set PAINTERLY_SHARED to the shared folder)")


@dataclass(frozen=True)
class Pair:
    content: Path
    style: Path

    @property
    def name(self) -> str:
        return f"{self.content.stem}:{self.style.stem}"

    @property
    def slug(self) -> str:
        return f"{self.content.stem}__{self.style.stem}"


def parse_pairs(text: str) -> List[Pair]:
    pairs = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        if ":" not in item:
            raise SystemExit(f"error: --pairs item '{item}' is not CONTENT:STYLE")
        c, s = item.split(":", 1)
        pairs.append(Pair(find_image(c, "content"), find_image(s, "style")))
    if not pairs:
        raise SystemExit("error: --pairs is empty")
    return pairs


def parse_ints(text: str, flag: str) -> List[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"error: {flag} wants comma-separated integers, not '{text}'") from None
    if not values or any(v < 16 for v in values):
        raise SystemExit(f"error: {flag} wants sizes >= 16 px, not '{text}'")
    return values


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def now_str() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt_cmd(cmd: Sequence[str]) -> str:
    return " ".join(shlex.quote(str(c)) for c in cmd)


def pastiche_version() -> str:
    try:
        from importlib.metadata import version

        return version("pastiche")
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


def painterly_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def painterly_cmd(*args: str) -> List[str]:
    return [sys.executable, "-m", "painterly", *args]


@dataclass
class RunResult:
    cmd: List[str]
    seconds: float
    returncode: int
    max_rss_bytes: int
    log_path: str
    cpu_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_child(cmd: Sequence[str], log_path: Path, env: Optional[Dict[str, str]] = None) -> RunResult:
    """Run ``cmd`` to completion, timing it whole; stdout+stderr go to ``log_path``.

    The child is reaped with ``os.wait4`` so its peak resident set size comes back
    with it (``ru_maxrss``, KiB on Linux, bytes on macOS).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as logf:
        logf.write(f"$ {fmt_cmd(cmd)}\n".encode())
        logf.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(map(str, cmd)), stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc  # already reaped; keep Popen from waiting again
    scale = 1 if sys.platform == "darwin" else 1024
    cpu = usage.ru_utime + usage.ru_stime
    return RunResult(list(map(str, cmd)), seconds, rc, int(usage.ru_maxrss) * scale, str(log_path), cpu)


def log_tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    | " + line for line in text[-lines:])


def score(output: Path, pair: Pair) -> Dict[str, float]:
    import scoring  # benchmarks/scoring.py, the single scorer

    return scoring.score(output, pair.content, pair.style)


@dataclass
class Target:
    name: str
    passed: bool
    measured: str
    goal: str


@dataclass
class Report:
    targets: List[Target] = field(default_factory=list)
    data: Dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, passed: bool, measured: str, goal: str) -> None:
        self.targets.append(Target(name, bool(passed), measured, goal))


def f3(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.4g}"


# --------------------------------------------------------------------------- pastiche cache


def pastiche_cached(pair: Pair, size: int, steps: int, cache: Path, fresh: bool) -> Dict[str, Any]:
    """Return pastiche's result for (pair, size, steps), from the cache or by running it."""
    entry = cache / "pastiche" / f"{pair.slug}__{size}px__{steps}steps"
    out_png = entry / "output.png"
    meta_path = entry / "meta.json"
    version = pastiche_version()
    inputs = {"content_sha256": file_sha256(pair.content), "style_sha256": file_sha256(pair.style)}
    if not fresh and meta_path.is_file() and out_png.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        stale = [
            k
            for k, v in {**inputs, "pastiche_version": version}.items()
            if meta.get(k) != v
        ]
        if meta and not stale:
            return {**meta, "output": str(out_png), "cached": True}
        log(f"  cache entry {entry.name} is stale ({', '.join(stale) or 'unreadable'}); re-running pastiche")
    entry.mkdir(parents=True, exist_ok=True)
    if meta_path.exists():
        meta_path.unlink()
    cmd = [
        sys.executable, "-m", "pastiche", "--seed", "0", "--num-steps", str(steps), "--size", str(size),
        "-c", str(pair.content), "-s", str(pair.style), "-o", str(out_png), "--no-verbose",
    ]  # fmt: skip
    measured_at = now_str()
    res = run_child(cmd, entry / "pastiche.log")
    meta = {
        "pair": pair.name,
        "size": size,
        "steps": steps,
        "seconds": res.seconds,
        "cpu_seconds": res.cpu_seconds,
        "returncode": res.returncode,
        "max_rss_bytes": res.max_rss_bytes,
        "command": fmt_cmd(cmd),
        "pastiche_version": version,
        "measured_at": measured_at,
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        **inputs,
    }
    if res.ok and out_png.is_file():
        meta_path.write_text(json.dumps(meta, indent=2))
    else:
        log(f"  pastiche failed (rc={res.returncode}); log {res.log_path}\n{log_tail(res.log_path)}")
    return {**meta, "output": str(out_png), "cached": False, "log": res.log_path}


# --------------------------------------------------------------------------- parts


def painterly_preflight() -> None:
    """Fail fast (before an hour of pastiche) when painterly's CLI cannot start."""
    cmd = painterly_cmd("transfer", "--help")
    proc = subprocess.run(cmd, env=painterly_env(), capture_output=True, text=True, cwd=str(REPO))
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise SystemExit(f"error: `{fmt_cmd(cmd)}` failed (rc={proc.returncode}):\n{tail}")


def part_quality(args: argparse.Namespace, pairs: List[Pair], sizes: List[int], rep: Report) -> None:
    rows: List[List[Any]] = []
    summary: List[List[Any]] = []
    results: List[Dict[str, Any]] = []
    extra = shlex.split(args.painterly_args)
    total = len(sizes) * len(pairs)
    k = 0
    for size in sizes:
        for pair in pairs:
            k += 1
            log(f"[{k}/{total}] {size}px {pair.name}: pastiche ({args.steps} steps)...")
            pa = pastiche_cached(pair, size, args.steps, args.cache, args.fresh)
            pa_ok = pa["returncode"] == 0 and Path(pa["output"]).is_file()
            pa_scores = score(Path(pa["output"]), pair) if pa_ok else {}
            src = ("cache, " if pa["cached"] else "ran, ") + pa["measured_at"] if pa_ok else "FAILED"
            log(f"  pastiche {pa['seconds']:.1f} s ({src})")

            out = args.out / f"{size}px" / f"{pair.slug}_painterly.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists():
                out.unlink()
            cmd = painterly_cmd("transfer", str(pair.content), str(pair.style), "-o", str(out),
                                "--size", str(size), "--quiet", *extra)  # fmt: skip
            log(f"[{k}/{total}] {size}px {pair.name}: painterly...")
            res = run_child(cmd, out.with_suffix(".log"), env=painterly_env())
            pl_ok = res.ok and out.is_file()
            if not pl_ok:
                log(f"  painterly failed (rc={res.returncode}); log {res.log_path}\n{log_tail(res.log_path)}")
            pl_scores = score(out, pair) if pl_ok else {}
            log(f"  painterly {res.seconds:.1f} s")

            rows.append([size, pair.name, "pastiche", f"{pa['seconds']:.1f}",
                         *(f3(pa_scores.get(m)) for m in MEASURES), src])  # fmt: skip
            rows.append([size, pair.name, "painterly", f"{res.seconds:.1f}",
                         *(f3(pl_scores.get(m)) for m in MEASURES), "ran" if pl_ok else "FAILED"])  # fmt: skip

            label = f"{size}px {pair.name}"
            if pa_ok and pl_ok:
                ratio = pa["seconds"] / res.seconds
                worse = [m for m in MEASURES if pl_scores[m] > pa_scores[m]]
                q_ok, s_ok = not worse, ratio >= SPEEDUP_TARGET
                q_txt = "better or equal on all" if q_ok else "worse on " + ", ".join(
                    f"{m} ({pl_scores[m]:.4g} > {pa_scores[m]:.4g})" for m in worse
                )
                summary.append([size, pair.name, f"{ratio:.1f}x", "PASS" if q_ok else "FAIL",
                                "PASS" if s_ok else "FAIL", q_txt])  # fmt: skip
                rep.add(f"quality {label}", q_ok, q_txt, "painterly <= pastiche on content, style, swd")
                rep.add(f"speed   {label}", s_ok,
                        f"{res.seconds:.1f} s vs {pa['seconds']:.1f} s = {ratio:.1f}x",
                        f"painterly <= pastiche / {SPEEDUP_TARGET:g}")  # fmt: skip
            else:
                ratio = None
                why = "pastiche failed" if not pa_ok else f"painterly failed (rc={res.returncode}, log {res.log_path})"
                summary.append([size, pair.name, "-", "FAIL", "FAIL", why])
                rep.add(f"quality {label}", False, why, "painterly <= pastiche on content, style, swd")
                rep.add(f"speed   {label}", False, why, f"painterly <= pastiche / {SPEEDUP_TARGET:g}")
            results.append({
                "size": size, "pair": pair.name, "content": str(pair.content), "style": str(pair.style),
                "pastiche": {**{k2: v for k2, v in pa.items()}, "scores": pa_scores},
                "painterly": {"seconds": res.seconds, "returncode": res.returncode, "command": fmt_cmd(cmd),
                              "output": str(out), "max_rss_bytes": res.max_rss_bytes, "scores": pl_scores},
                "ratio": ratio,
            })  # fmt: skip

    print_table(["size", "pair", "tool", "seconds", *MEASURES, "source"], rows,
                f"Quality and speed (pastiche --num-steps {args.steps}; lower is better)")  # fmt: skip
    print_table(["size", "pair", "pastiche/painterly", "quality", f"speed >= {SPEEDUP_TARGET:g}x", "detail"],
                summary, "Per pair")  # fmt: skip
    rep.data["quality"] = results


def conv_flops(h: int, w: int) -> int:
    """Forward FLOPs of VGG19's 3x3 convs conv1_1..conv5_1 on an h x w input (ceil-mode pooling)."""
    from painterly.layers import BLOCK_CONVS

    flops, cin = 0, 3
    for block, n in BLOCK_CONVS.items():
        cout = min(64 * 2 ** (block - 1), 512)
        for i in range(1, n + 1):
            flops += 2 * cin * cout * 9 * h * w
            cin = cout
            if block == 5:  # up to conv5_1 only
                return flops
        h, w = -(-h // 2), -(-w // 2)
    return flops


def gram_flops(h: int, w: int, layers: Sequence[str]) -> int:
    """FLOPs of the style statistics' products F F^T at ``layers``, forward and backward.

    Forward ``2 C^2 N`` a layer (N positions at that layer); the backward is one
    product of the same size (``(G + G^T) F``, painterly.losses.stats).
    """
    from painterly.layers import BLOCK_CONVS

    flops = 0
    for name in layers:
        block = int(name[4])  # "relu3_1" -> 3
        c = min(64 * 2 ** (block - 1), 512)
        hh, ww = h, w
        for _ in range(block - 1):
            hh, ww = -(-hh // 2), -(-ww // 2)
        flops += 2 * (2 * c * c * hh * ww)
    assert all(int(n[4]) in BLOCK_CONVS for n in layers)
    return flops


def matmul_flops_per_s(dtype: Any = None) -> float:
    import torch

    dtype = dtype or torch.float32
    a = torch.randn(MATMUL_N, MATMUL_N).to(dtype)
    b = torch.randn(MATMUL_N, MATMUL_N).to(dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * MATMUL_N**3 / best


def part_eval(args: argparse.Namespace, rep: Report) -> None:
    """Seconds per loss evaluation against the matmul floor, at float32 and at the
    precision painterly uses by default (bfloat16 on CPUs that have it), each
    against a matmul of its own dtype."""
    import torch

    from painterly.config import TransferConfig
    from painterly.gatys.objective import Objective
    from painterly.models.device import compute_dtype
    from painterly.models.vgg import VGG19

    log(f"eval: matmul {MATMUL_N}x{MATMUL_N} and VGG19 loss evaluations at {args.eval_sizes} px...")
    vgg = VGG19()
    rows, results = [], []
    precisions = [("float32", None)]
    default = compute_dtype(torch.device("cpu"), "auto")
    if default is not None:
        precisions.append((str(default).replace("torch.", "") + " (default)", default))
    for label, dtype in precisions:
        peak = matmul_flops_per_s(dtype)
        for size in args.eval_sizes:
            gen = torch.Generator().manual_seed(size)
            content, style = (torch.rand(1, 3, size, size, generator=gen) for _ in range(2))
            cfg = TransferConfig(precision="float32" if dtype is None else str(dtype).replace("torch.", ""))
            objective = Objective(vgg, cfg, content, [style], [1.0])
            image = torch.rand(1, 3, size, size, generator=gen).requires_grad_(True)

            def once() -> float:
                image.grad = None
                t0 = time.perf_counter()
                loss, _ = objective(image)
                loss.backward()
                return time.perf_counter() - t0

            once()  # warm-up
            times = [once() for _ in range(args.eval_runs)]
            measured = statistics.median(times)
            convs = 2 * conv_flops(size, size)
            flops = convs + gram_flops(size, size, cfg.style_layers)
            floor = flops / peak
            ratio = measured / floor
            conv_ratio = measured / (convs / peak)
            ok = ratio <= EVAL_FLOOR_FACTOR
            rows.append([label, f"{size}x{size}", f"{flops / 1e9:.1f}", f"{peak / 1e9:.1f}", f"{floor:.3f}",
                         f"{measured:.3f}", f"{ratio:.2f}x", f"{conv_ratio:.2f}x", "PASS" if ok else "FAIL"])  # fmt: skip
            rep.add(f"eval    {size}px {label.split()[0]} seconds/loss evaluation", ok,
                    f"{measured:.3f} s = {ratio:.2f}x floor ({floor:.3f} s)",
                    f"<= {EVAL_FLOOR_FACTOR:g}x floor")  # fmt: skip
            results.append({"precision": label, "size": size, "flops": flops, "conv_flops": convs,
                            "matmul_flops_per_s": peak, "floor_s": floor, "median_s": measured, "times_s": times,
                            "ratio": ratio, "conv_only_ratio": conv_ratio})  # fmt: skip
    print_table(["precision", "image", "GFLOP/eval", "matmul GFLOP/s", "floor s", "median s", "vs floor",
                 "vs convs alone", f"<= {EVAL_FLOOR_FACTOR:g}x"], rows,
                f"Seconds per loss evaluation (the default objective, forward + input backward; "
                f"torch threads {torch.get_num_threads()}; floor = FLOPs / matmul FLOP/s of the same dtype)")  # fmt: skip
    rep.data["eval"] = results


def part_512(args: argparse.Namespace, pair: Pair, rep: Report) -> None:
    out = args.out / "default" / f"{pair.slug}_painterly.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    cmd = painterly_cmd("transfer", str(pair.content), str(pair.style), "-o", str(out), "--quiet",
                        *shlex.split(args.painterly_args))  # fmt: skip
    log(f"512: default run on {pair.name}...")
    res = run_child(cmd, out.with_suffix(".log"), env=painterly_env())
    ok = res.ok and out.is_file()
    scores = score(out, pair) if ok else {}
    if not res.ok:
        log(f"  painterly failed (rc={res.returncode}); log {res.log_path}\n{log_tail(res.log_path)}")
    passed = ok and res.seconds < DEFAULT_RUN_SECONDS
    measured = f"{res.seconds:.1f} s" if ok else f"failed (rc={res.returncode}, log {res.log_path})"
    print_table(["run", "pair", "seconds", *MEASURES, f"< {DEFAULT_RUN_SECONDS:g} s"],
                [["default (512 px)", pair.name, f"{res.seconds:.1f}", *(f3(scores.get(m)) for m in MEASURES),
                  "PASS" if passed else "FAIL"]], "Default run")  # fmt: skip
    rep.add("default 512 px run time", passed, measured, f"< {DEFAULT_RUN_SECONDS:g} s")
    rep.data["default_512"] = {"command": fmt_cmd(cmd), "seconds": res.seconds, "returncode": res.returncode,
                               "max_rss_bytes": res.max_rss_bytes, "scores": scores, "output": str(out)}  # fmt: skip


def part_2048(args: argparse.Namespace, pair: Pair, rep: Report) -> None:
    out = args.out / "2048" / f"{pair.slug}_painterly.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    cmd = painterly_cmd("transfer", str(pair.content), str(pair.style), "-o", str(out), "--size", "2048",
                        "--iterations", str(args.big_iterations), "--quiet",
                        *shlex.split(args.painterly_args))  # fmt: skip
    log(f"2048: --size 2048 --iterations {args.big_iterations} on {pair.name}...")
    res = run_child(cmd, out.with_suffix(".log"), env=painterly_env())
    ok = res.ok and out.is_file()
    if not res.ok:
        log(f"  painterly failed (rc={res.returncode}); log {res.log_path}\n{log_tail(res.log_path)}")
    gib = res.max_rss_bytes / 2**30
    passed = ok and gib < PEAK_RSS_GIB
    print_table(["run", "pair", "seconds", "peak RSS GiB", "completed", f"< {PEAK_RSS_GIB:g} GiB"],
                [[f"2048 px, {args.big_iterations} it", pair.name, f"{res.seconds:.1f}", f"{gib:.2f}",
                  "yes" if ok else f"no (rc={res.returncode})", "PASS" if passed else "FAIL"]],
                "Large image")  # fmt: skip
    measured = f"peak {gib:.2f} GiB in {res.seconds:.1f} s" + ("" if ok else f", failed (rc={res.returncode})")
    rep.add("2048 px run peak memory", passed, measured, f"completes, peak < {PEAK_RSS_GIB:g} GiB")
    rep.data["size_2048"] = {"command": fmt_cmd(cmd), "seconds": res.seconds, "returncode": res.returncode,
                             "max_rss_bytes": res.max_rss_bytes, "output": str(out)}  # fmt: skip


# --------------------------------------------------------------------------- main


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="painterly vs pastiche: quality, speed, per-evaluation cost and memory targets.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--pairs", default=DEFAULT_PAIRS, help="comma-separated CONTENT:STYLE names in shared/images")
    p.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated long sides in px for the quality part")
    p.add_argument("--steps", type=int, default=400, help="pastiche --num-steps")
    p.add_argument("--only", action="append", choices=PARTS + EXTRA_PARTS, help="run only this part (repeatable; default all)")
    p.add_argument("--painterly-args", default="", help="extra flags for every painterly run, e.g. '--iterations 200'")
    p.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache", help="pastiche result cache")
    p.add_argument("--fresh", action="store_true", help="ignore (and overwrite) cached pastiche results")
    p.add_argument("--out", type=Path, default=None, help="painterly outputs and logs (default CACHE/out)")
    p.add_argument("--json", type=Path, help="also write all results to this JSON file")
    p.add_argument("--eval-sizes", default=DEFAULT_EVAL_SIZES, help="image sizes for the eval part")
    p.add_argument("--eval-runs", type=int, default=5, help="timed loss evaluations per size (median)")
    p.add_argument("--big-iterations", type=int, default=20, help="--iterations of the 2048 px run")
    args = p.parse_args(argv)
    compile_sources()  # timed starts should not include compiling painterly (benchmarks/installed.py)
    if args.steps < 1 or args.eval_runs < 1 or args.big_iterations < 1:
        p.error("--steps, --eval-runs and --big-iterations must be >= 1")
    args.cache = args.cache.resolve()
    args.out = (args.out or args.cache / "out").resolve()
    args.parts = list(dict.fromkeys(args.only or PARTS))
    args.size_list = parse_ints(args.sizes, "--sizes")
    args.eval_sizes = parse_ints(args.eval_sizes, "--eval-sizes")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    pairs = parse_pairs(args.pairs)
    rep = Report()
    t_start = time.perf_counter()
    if {"quality", "512", "2048"} & set(args.parts):
        painterly_preflight()

    import torch

    rep.data["environment"] = {
        "started": now_str(), "python": sys.version.split()[0], "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "pastiche": pastiche_version(), "painterly_args": args.painterly_args, "parts": args.parts,
    }  # fmt: skip
    print(f"painterly vs pastiche {pastiche_version()} | torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs | parts: {', '.join(args.parts)}"
          + (f" | painterly args: {args.painterly_args}" if args.painterly_args else ""))  # fmt: skip

    if "pastiche" in args.parts:
        for size in args.size_list:
            for pair in pairs:
                log(f"{size}px {pair.name}: pastiche ({args.steps} steps)...")
                pa = pastiche_cached(pair, size, args.steps, args.cache, args.fresh)
                log(f"  {pa['seconds']:.1f} s ({'cache' if pa['cached'] else 'ran'})")
    if "quality" in args.parts:
        part_quality(args, pairs, args.size_list, rep)
    if "eval" in args.parts:
        part_eval(args, rep)
    if "512" in args.parts:
        part_512(args, pairs[0], rep)
    if "2048" in args.parts:
        part_2048(args, pairs[0], rep)

    failed = [t for t in rep.targets if not t.passed]
    print_table(["result", "target", "measured", "goal"],
                [["PASS" if t.passed else "FAIL", t.name, t.measured, t.goal] for t in rep.targets],
                f"Summary: {len(rep.targets) - len(failed)}/{len(rep.targets)} targets met "
                f"({time.perf_counter() - t_start:.0f} s)")  # fmt: skip
    if args.json:
        rep.data["targets"] = [asdict(t) for t in rep.targets]
        rep.data["passed"] = not failed
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rep.data, indent=2, default=str))
        print(f"\nresults written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
