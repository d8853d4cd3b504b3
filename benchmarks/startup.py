"""Start-up of a one-image run: wall time of ``painterly stylize`` at 256 px, start to exit.

Runs (each a fresh process, ``--runs`` times, median reported):

* ``painterly stylize PHOTO --model starry_night --size 256`` (onnxruntime);
* ``painterly stylize PHOTO --style-image PAINTING --size 256`` (the AdaIN model, onnxruntime);
* ``python -c "import torch"`` for scale (what the torch path pays before any work).

Each painterly run is also checked not to import torch (``-X importtime`` on one run),
which is the target: the one-pass commands start without torch. Prints a table; exits
non-zero when a run fails or imports torch.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from tables import print_table  # noqa: E402
from installed import compile_sources  # noqa: E402

DATA = REPO / "src" / "painterly" / "data"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    args = p.parse_args()
    compile_sources()  # timed starts should not include compiling painterly (benchmarks/installed.py)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    photo, painting = DATA / "chelsea.jpg", DATA / "wave.jpg"  # bundled, public domain
    out = Path(tempfile.mkdtemp(prefix="painterly-startup-")) / "out.jpg"
    base = [sys.executable, "-m", "painterly", "stylize", str(photo), "--size", "256", "-q", "-o", str(out)]
    commands = {
        "stylize --model starry_night": base + ["--model", "starry_night"],
        "stylize --style-image": base + ["--style-image", str(painting)],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    }
    rows, failed = [], []
    for label, cmd in commands.items():
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rc = subprocess.run(cmd, env=env, capture_output=True).returncode
            times.append(time.perf_counter() - t0)
            if rc:
                failed.append(f"{label}: exit {rc}")
                break
        torch_loaded = "-"
        if label.startswith("stylize"):
            trace = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True)
            torch_loaded = "yes" if any(line.rstrip().endswith("| torch") for line in trace.stderr.splitlines()) else "no"
            if torch_loaded == "yes":
                failed.append(f"{label}: imports torch")
        rows.append([label, f"{statistics.median(times):.2f}", f"{min(times):.2f}", torch_loaded])
    print_table(["command (256 px)", "median s", "best s", "imports torch"], rows,
                title=f"Start-up to exit, one 256 px image, {args.runs} runs each (photo {photo.name})")
    for line in failed:
        print(f"FAILED: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
