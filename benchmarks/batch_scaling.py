#!/usr/bin/env python
"""Batch scaling: ``painterly stylize`` on a folder vs ``painterly batch`` (1 and 2 local workers) vs
``painterly batch --ray`` on a local 2-CPU Ray cluster, for a bundled model at ~1024 px and for the
optimization method at 256 px.

Every run is the real command in a fresh process (``python -m painterly ...``), timed from
outside, so startup (imports, spawning workers, connecting to Ray, loading the model) counts.
``painterly batch --json`` also reports when its first image started, which splits a run into
a fixed startup and the per-image steady state.

Targets (exit 1 when one is missed):

* the local batch (default: one worker per core) is at least as fast as ``painterly stylize``
  on the folder;
* Ray's overhead per image is under 15% of the work per image for the one-pass method at
  1024 px. Overhead per image = (Ray's steady-state wall time - the local pool's) x workers /
  images, in worker-seconds, next to the mean seconds a worker spends on one image (from the
  manifest). Ray's fixed startup (connect, start the actors) is reported on its own line:
  it is paid once per batch, not per image.

The one-pass outputs of all four runs must be the same bytes (checked).

Usage: python benchmarks/batch_scaling.py [--images 24] [--size 1024] [--opt-images 4]
       [--opt-size 256] [--opt-iterations 20] [--no-ray]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# The benchmark's own cluster on 127.0.0.1: no token auth (a ~/.ray/auth_token from another Ray
# would otherwise switch the head to token mode).
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
RESULTS = HERE / "results" / "batch_scaling.txt"
OVERHEAD_TARGET = 0.15

sys.path.insert(0, str(HERE))
from tables import print_table  # noqa: E402


def pick_photos(n: int) -> List[Path]:
    """The 12 test photos, then the scenic (dps_*) training photos, then BSDS: the largest first."""
    content = sorted((SHARED / "images" / "content").glob("*.*"))
    scenic = sorted((SHARED / "datasets" / "content").glob("dps_*"))
    bsds = sorted((SHARED / "datasets" / "content").glob("bsds_*"))
    found = [p for p in content + scenic + bsds if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    if len(found) < n:
        sys.exit(f"need {n} photos under {SHARED}, found {len(found)}")
    return found[:n]


def make_folder(folder: Path, n: int, size: int) -> None:
    """``n`` JPEG photos with the long side at ``size`` px (smaller photos are upscaled, bicubic)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(pick_photos(n)):
        with Image.open(src) as img:
            img = img.convert("RGB")
            w, h = img.size
            scale = size / max(w, h)
            img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC)
            img.save(folder / f"{i:02d}_{src.stem}.jpg", quality=95)


def env() -> Dict[str, str]:
    e = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # each command chooses its own threads
        e.pop(name, None)
    return e


def painterly(*args: Any) -> Tuple[float, Optional[Dict[str, Any]], str]:
    """Run ``python -m painterly ARGS``: wall seconds, the --json report (if any), stderr."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "painterly", *[str(a) for a in args]], env=env(),
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"painterly {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    report = json.loads(proc.stdout) if "--json" in [str(a) for a in args] else None
    return wall, report, proc.stderr


def _free_ports(count: int) -> List[int]:
    """``count`` distinct free ports on 127.0.0.1: every socket stays bound until all are drawn, so
    the kernel cannot hand one port out twice (Ray refuses two components on one port)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


class Cluster:
    """A 2-CPU Ray head on 127.0.0.1 in its own process group; stopping it stops that group and the
    workers below it.

    Not in a session of its own: Linux's autogroup scheduling gives each session an equal share
    of a busy machine, which would hand the Ray actors more CPU than the local pool gets.
    """

    def __init__(self, cpus: int = 2) -> None:
        self.temp = tempfile.mkdtemp(prefix="pbray", dir="/tmp")
        names = ("ray-client-server-port", "dashboard-port", "dashboard-agent-listen-port",
                 "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port")
        self.port, *others = _free_ports(1 + len(names))
        flags = [x for name, number in zip(names, others) for x in (f"--{name}", str(number))]
        ray = str(Path(sys.executable).with_name("ray"))
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            [ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(self.port), "--num-cpus",
             str(cpus), "--disable-usage-stats", "--include-dashboard=false", "--temp-dir", self.temp, *flags],
            env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0,
        )
        out, _ = self.proc.communicate(timeout=300)
        if self.proc.returncode != 0:
            self.stop()
            sys.exit(f"ray start failed:\n{out[-2000:]}")
        self.start_seconds = time.perf_counter() - start
        self.address = f"127.0.0.1:{self.port}"

    def _pids(self) -> List[int]:
        """Live processes of the cluster's group and their descendants (Ray gives workers groups of their own)."""
        parent: Dict[int, int] = {}
        ours = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[0] == "Z":
                    continue
                pid = int(entry.name)
                parent[pid] = int(fields[1])
                if int(fields[2]) == self.proc.pid:
                    ours.add(pid)
        grew = True
        while grew:
            more = {pid for pid, ppid in parent.items() if ppid in ours and pid not in ours}
            ours |= more
            grew = bool(more)
        return sorted(ours)

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self._pids():
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + 5
            while self._pids() and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(self.temp, ignore_errors=True)


def same_outputs(folders: List[Path]) -> bool:
    names = sorted(p.name for p in folders[0].glob("*.jpg"))
    return bool(names) and all(
        sorted(p.name for p in f.glob("*.jpg")) == names
        and all((f / n).read_bytes() == (folders[0] / n).read_bytes() for n in names)
        for f in folders[1:]
    )


def mean_seconds(report: Dict[str, Any]) -> float:
    done = [i["seconds"] for i in report["items"] if i["status"] == "done"]
    return sum(done) / max(1, len(done))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--model", default="wave")
    parser.add_argument("--opt-images", type=int, default=4)
    parser.add_argument("--opt-size", type=int, default=256)
    parser.add_argument("--opt-iterations", type=int, default=20)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray rows")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    work = Path(tempfile.mkdtemp(prefix="painterly-batch-bench-"))
    lines: List[str] = []
    failures: List[str] = []
    cluster: Optional[Cluster] = None
    try:
        photos = work / "photos"
        make_folder(photos, args.images, args.size)
        n = args.images
        if not args.no_ray:
            cluster = Cluster(2)
        rows = []
        t_stylize, _, _ = painterly("stylize", photos, "-o", work / "stylize", "--model", args.model, "-q")
        rows.append(("painterly stylize (folder)", "1 process", t_stylize, None, None))
        runs: Dict[str, Tuple[float, Dict[str, Any]]] = {}
        variants = [("batch, 1 worker", ["--workers", "1"]), ("batch, 2 workers", ["--workers", "2"])]
        if cluster is not None:
            variants.append(("batch --ray (2-CPU cluster)", ["--ray", cluster.address]))
        for i, (label, extra) in enumerate(variants):
            out = work / f"run_{i}"
            wall, report, _ = painterly("batch", photos, "-o", out, "--model", args.model, "--json", "-q", *extra)
            assert report is not None
            runs[label] = (wall, report)
            rows.append((label, report["runner"], wall, report["startup"], mean_seconds(report)))
        outputs = [work / "stylize"] + [Path(r[1]["manifest"]).parent for r in runs.values()]
        identical = same_outputs(outputs)
        table = [
            (label, how, f"{wall:.1f}", f"{n / wall:.2f}",
             "" if start is None else f"{start:.1f}",
             "" if start is None else f"{n / max(1e-9, wall - start):.2f}",
             "" if per is None else f"{per:.2f}")
            for label, how, wall, start, per in rows
        ]
        headers = ("run", "how", "wall s", "img/s", "startup s", "img/s after startup", "s/img in a worker")
        title = (f"{n} photos at {args.size} px, model {args.model}, {cores} cores"
                 f" (one-pass; outputs identical: {'yes' if identical else 'NO'})")
        print_table(headers, table, title)
        lines += _as_text(headers, table, title)
        if not identical:
            failures.append("the one-pass outputs differ between stylize, the local pool and Ray")
        pool_wall, pool = runs["batch, 2 workers"]
        if pool_wall > t_stylize:
            failures.append(f"local batch (2 workers) {pool_wall:.1f} s is slower than stylize {t_stylize:.1f} s")
        summary = [f"local batch (2 workers) vs stylize on the folder: {t_stylize / pool_wall:.2f}x "
                   f"(target >= 1.00x): {'ok' if pool_wall <= t_stylize else 'MISSED'}"]
        if cluster is not None:
            ray_wall, ray = runs["batch --ray (2-CPU cluster)"]
            workers = 2
            steady_pool = pool_wall - pool["startup"]
            steady_ray = ray_wall - ray["startup"]
            per_image_work = mean_seconds(pool)
            overhead = (steady_ray - steady_pool) * workers / n
            share = overhead / per_image_work if per_image_work > 0 else float("inf")
            total_overhead = (ray_wall - pool_wall) * workers / n
            ok = share < OVERHEAD_TARGET
            if not ok:
                failures.append(f"Ray overhead per image {overhead:.3f} s is {share:.0%} of the work per image")
            summary += [
                f"Ray overhead per image (steady state): {overhead:+.3f} worker-s = {share:+.1%} of the work per "
                f"image ({per_image_work:.3f} s) (target < {OVERHEAD_TARGET:.0%}): {'ok' if ok else 'MISSED'}",
                f"Ray fixed startup: {ray['startup']:.1f} s (local pool {pool['startup']:.1f} s); with it, "
                f"{total_overhead:+.3f} worker-s per image over these {n} images "
                f"({total_overhead / per_image_work:+.0%}; amortized over a larger batch)",
                f"(ray start --head took {cluster.start_seconds:.1f} s, not counted: the cluster is already running)",
            ]
        for line in summary:
            print(line)
        lines += summary

        # -- optimization ------------------------------------------------------------
        opt = work / "opt"
        make_folder(opt, args.opt_images, args.opt_size)
        style = SHARED / "images" / "style" / "starry_night.jpg"
        settings = ["--size", args.opt_size, "--iterations", args.opt_iterations, "--style-size", args.opt_size]
        opt_rows = []
        start = time.perf_counter()
        (work / "opt_single").mkdir()
        for photo in sorted(opt.glob("*.jpg")):
            painterly("transfer", photo, style, "-o", work / "opt_single" / photo.name, "-q", *settings)
        t_single = time.perf_counter() - start
        opt_rows.append(("painterly transfer, one per photo", f"{args.opt_images} processes", t_single, None, None))
        variants = [("batch --transfer, 1 worker", ["--workers", "1"]),
                    ("batch --transfer, 2 workers", ["--workers", "2"])]
        if cluster is not None:
            variants.append(("batch --transfer --ray", ["--ray", cluster.address]))
        for i, (label, extra) in enumerate(variants):
            wall, report, _ = painterly("batch", opt, "-o", work / f"opt_{i}", "--transfer", style, "--json", "-q",
                                        *settings, *extra)
            assert report is not None
            opt_rows.append((label, report["runner"], wall, report["startup"], mean_seconds(report)))
        m = args.opt_images
        table = [
            (label, how, f"{wall:.1f}", f"{m / wall:.3f}", "" if s is None else f"{s:.1f}",
             "" if per is None else f"{per:.1f}")
            for label, how, wall, s, per in opt_rows
        ]
        headers = ("run", "how", "wall s", "img/s", "startup s", "s/img in a worker")
        title = (f"optimization: {m} photos at {args.opt_size} px, {args.opt_iterations} iterations, "
                 "starry_night (measured; no target)")
        print_table(headers, table, title)
        lines += _as_text(headers, table, title)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = [f"# benchmarks/batch_scaling.py, {stamp}, {cores} cores, load average {load:.1f} at the end", ""]
    verdict = ["", "targets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures))]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(header + lines + verdict) + "\n")
    print(verdict[-1])
    print(f"wrote {RESULTS}")
    return 1 if failures else 0


def _as_text(headers: Any, rows: Any, title: str) -> List[str]:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = ["", title]
    line = "  ".join(h.ljust(w) for h, w in zip(cells[0], widths))
    out += [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells[1:]]
    return out


if __name__ == "__main__":
    sys.exit(main())
