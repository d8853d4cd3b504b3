"""``painterly batch --ray`` on a real local Ray cluster (2 CPUs on 127.0.0.1), started and stopped here.

Run these alone with ``pytest tests/test_batch_ray.py``. The cluster is
``ray start --head`` in its own session with a short temporary folder; the
teardown stops exactly the processes of that session (not ``ray stop``, which
would stop every Ray on the machine).
"""

from __future__ import annotations

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

import pytest

import painterly.batch
from painterly.batch.manifest import read_manifest

from test_batch import IMAGES, _photo, photos, run, same_files, sigkill_first_holder


def _free_ports(count: int) -> list:
    """``count`` distinct free TCP ports on 127.0.0.1. The sockets stay open until all are drawn:
    closing each before drawing the next lets the kernel hand the same port out twice, and Ray
    refuses to start when two of its components share one."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _session_pids(sid: int) -> list:
    """Processes of session ``sid`` (every process ``ray start`` left behind, workers included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state ppid pgrp session ...
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def ray_address():
    """``HOST:PORT`` of a 2-CPU Ray head on 127.0.0.1, stopped after this file's tests (not kept
    running, with its memory, through the rest of a full test run)."""
    temp = tempfile.mkdtemp(prefix="pray", dir="/tmp")  # Ray's socket paths must stay short
    names = ("ray-client-server-port", "dashboard-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
             "runtime-env-agent-port", "metrics-export-port", "node-manager-port", "object-manager-port")
    port, *others = _free_ports(1 + len(names))
    flags = {f"--{name}": str(number) for name, number in zip(names, others)}
    # Token auth off on both sides: a ~/.ray/auth_token left by some other Ray (ray.init() makes one)
    # would otherwise switch the head to token mode and this test's driver would not match it.
    settings = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    env = dict(os.environ, OMP_NUM_THREADS="1", **settings)
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    command = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--node-ip-address", "127.0.0.1",
               "--port", str(port), "--num-cpus", "2", "--disable-usage-stats", "--include-dashboard=false",
               "--temp-dir", temp, *[x for pair in flags.items() for x in pair]]
    starter = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = starter.communicate(timeout=180)
        assert starter.returncode == 0, f"ray start failed:\n{output[-3000:]}"
        yield f"127.0.0.1:{port}"
    finally:
        sid = starter.pid
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in _session_pids(sid):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + grace
            while _session_pids(sid) and time.monotonic() < deadline:
                time.sleep(0.2)
        shutil.rmtree(temp, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_ray_gives_the_pool_bytes_and_records_the_corrupt_file(ray_address, capsys, tmp_path):
    src = photos(tmp_path / "in", corrupt=True)
    local = painterly.batch(str(src), str(tmp_path / "local"), model="wave", workers=2)
    assert local.count("done") == 4 and local.count("failed") == 1
    # file:// inputs: the Ray workers read the images themselves
    code, out, err = run(capsys, "batch", f"file://{src}", "-o", tmp_path / "ray", "--model", "wave",
                         "--ray", ray_address, "--json")
    assert code == 1, err
    same_files(tmp_path / "local", tmp_path / "ray", IMAGES)
    report = json.loads(out)
    assert report["runner"].startswith(f"ray {ray_address}, 2 actors x 1 CPU")
    assert report["counts"]["done"] == 4 and report["counts"]["failed"] == 1
    records = read_manifest(tmp_path / "ray" / "painterly-batch.jsonl")
    bad = [r for r in records if r["status"] == "failed"]
    assert len(bad) == 1 and bad[0]["input"] == f"file://{src / 'broken.jpg'}" and "not an image" in bad[0]["error"]
    assert all(r["worker"].rsplit(":", 1)[1].isdigit() for r in records)
    assert os.getpid() not in {int(r["worker"].rsplit(":", 1)[1]) for r in records}  # painted in the workers


def test_ray_actor_killed_mid_batch_loses_nothing(ray_address, tmp_path):
    src = photos(tmp_path / "in", size=192)
    reference = painterly.batch(str(src), str(tmp_path / "ref"), model="wave", workers=1)
    killed = []
    kill_first_holder = sigkill_first_holder(killed)
    result = painterly.batch(str(src), str(tmp_path / "out"), model="wave", ray=ray_address,
                             on_progress=kill_first_holder)
    assert reference.ok and result.ok, result.items
    assert result.retried == 1 and result.workers == 3  # two actors and the replacement
    final = {r["input"]: r for r in read_manifest(result.manifest)}
    assert final[killed[0]]["status"] == "done" and final[killed[0]]["attempts"] == 2
    same_files(tmp_path / "ref", tmp_path / "out", IMAGES)


def test_ray_transfer_runs_a_task_per_image(ray_address, capsys, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _photo("chelsea.jpg", src / "cat.png", 40)
    _photo("astronaut.jpg", src / "astronaut.png", 40)
    style = _photo("starry_night.jpg", tmp_path / "starry.png", 48)
    settings = ["--size", "32", "--iterations", "6", "--no-multiscale", "--style-size", "32"]
    import torch

    threads = torch.get_num_threads()
    try:
        code, _, _ = run(capsys, "transfer", src / "cat.png", style, "-o", tmp_path / "cat_ref.png", "-q",
                         "--threads", "1", *settings)
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    # no --threads: the cluster's 2 CPUs shared by the 2 images gives 1 thread per task
    code, out, err = run(capsys, "batch", src, "-o", tmp_path / "out", "--transfer", style, "--ray", ray_address,
                         "--json", *settings)
    assert code == 0, err
    report = json.loads(out)
    assert report["runner"] == f"ray {ray_address}, 2 tasks x 1 CPU"
    assert report["counts"]["done"] == 2 and all(i["iterations"] == 6 for i in report["items"])
    assert (tmp_path / "out" / "cat.png").read_bytes() == (tmp_path / "cat_ref.png").read_bytes()
