"""The ``painterly`` command line, run in-process through ``main([...])``."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from painterly.cli.main import main
from painterly.cli.progressbar import ProgressBar

pytestmark = pytest.mark.filterwarnings(r"error::UserWarning:painterly\.")

#: Fast settings for every run: tiny output, few iterations, style analysed small.
FAST = ["--size", "48", "--iterations", "4", "--style-size", "48"]


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(result: tuple[int, str, str], code: int, *needles: str) -> str:
    """Exit ``code``, stderr exactly one ``painterly: error:`` line naming ``needles``."""
    got, out, err = result
    assert got == code, err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("painterly: error: "), lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert out == ""
    return lines[0]


@pytest.fixture
def photo(content_path: Path) -> Image.Image:
    with Image.open(content_path) as img:
        return img.convert("RGB")


# ------------------------------------------------------------------ success


@pytest.mark.parametrize("ext, fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP")])
def test_transfer_writes_the_format_of_the_extension(capsys, tmp_path, content_path, style_path, ext, fmt):
    out = tmp_path / f"out{ext}"
    code, stdout, err = run(capsys, "transfer", content_path, style_path, "-o", out, *FAST)
    assert code == 0, err
    with Image.open(out) as img:
        assert img.format == fmt
        assert img.size == (48, 32)
    lines = stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"wrote {out} (48x32) in ")
    assert "4 iterations" in lines[0] and "style" in lines[0]
    assert "Traceback" not in err and "Warning" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temp files left


def test_quiet_run_prints_nothing_on_stderr(capsys, tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    code, stdout, err = run(capsys, "transfer", content_path, style_path, "-o", out, *FAST, "-q")
    assert code == 0 and out.is_file()
    assert err == ""
    assert stdout.startswith("wrote ")


def test_save_every_writes_intermediate_images(capsys, tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    code, _, err = run(
        capsys, "transfer", content_path, style_path, "-o", out, *FAST, "--save-every", 2, "--tolerance", 0, "-q"
    )
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["out.png", "out_0002.png", "out_0004.png"]
    with Image.open(tmp_path / "out_0002.png") as img:
        assert img.size == (48, 32)


def test_save_every_must_be_positive(capsys, tmp_path, content_path, style_path):
    result = run(capsys, "transfer", content_path, style_path, "-o", tmp_path / "o.png", "--save-every", 0)
    assert_error(result, 2, "--save-every", "positive")


def test_save_config_round_trips_through_config(capsys, tmp_path, content_path, style_path):
    first = tmp_path / "first.png"
    code, _, err = run(
        capsys, "transfer", content_path, style_path, "-o", first, *FAST,
        "--style-weight", 7, "--style-layers", "relu1_1,relu2_1", "--no-multiscale", "--save-config", "-q",
    )  # fmt: skip
    assert code == 0, err
    saved = json.loads((tmp_path / "first.png.json").read_text())
    assert saved["style_weight"] == 7.0 and saved["size"] == 48
    assert saved["style_layers"] == ["relu1_1", "relu2_1"] and saved["multiscale"] is False

    second = tmp_path / "second.png"
    code, _, err = run(
        capsys, "transfer", content_path, style_path, "-o", second,
        "--config", tmp_path / "first.png.json", "--iterations", 2, "--save-config", "-q",
    )  # fmt: skip
    assert code == 0, err
    again = json.loads((tmp_path / "second.png.json").read_text())
    assert again == {**saved, "iterations": 2}  # read back, with the flag on top
    with Image.open(second) as img:
        assert img.size == (48, 32)


def test_config_file_errors(capsys, tmp_path, content_path, style_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"style_wieght": 3}')
    assert_error(
        run(capsys, "transfer", content_path, style_path, "-o", tmp_path / "o.png", "--config", bad),
        2, "unknown setting 'style_wieght'", "did you mean 'style_weight'",
    )  # fmt: skip
    bad.write_text("{not json")
    assert_error(
        run(capsys, "transfer", content_path, style_path, "-o", tmp_path / "o.png", "--config", bad),
        2, "cannot read config file",
    )  # fmt: skip


def test_layers_lists_the_layer_names(capsys):
    code, out, err = run(capsys, "layers")
    assert code == 0 and err == ""
    assert "relu4_2" in out and "conv5_4" in out and "pool5" in out
    assert "default content layers: relu4_2" in out


def test_version(capsys):
    from painterly import __version__

    code, out, err = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"painterly {__version__}"


def test_help_exits_zero(capsys):
    code, out, _ = run(capsys, "transfer", "--help")
    assert code == 0
    assert "--style-weight" in out and "--preserve-color" in out


def test_demo_runs_on_the_bundled_images(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    code, out, err = run(capsys, "demo", "--size", 48, "--iterations", 3, "-o", "tmp/x.png")
    assert code == 0, err
    with Image.open(tmp_path / "tmp" / "x.png") as img:
        assert img.size == (48, 32)  # chelsea.jpg is 451x300
    assert "chelsea.jpg" in err and "starry_night.jpg" in err
    assert out.startswith(f"wrote {tmp_path / 'tmp' / 'x.png'} (48x32)")


def test_no_command_is_a_usage_error(capsys):
    assert_error(run(capsys), 2, "missing command")


# ------------------------------------------------------------------ bad inputs


def _transfer(capsys, tmp_path, content, style, *extra, out=None):
    out = out or tmp_path / "out.png"
    return run(capsys, "transfer", content, style, "-o", out, *FAST, *extra)


def test_missing_content_file(capsys, tmp_path, style_path):
    missing = tmp_path / "missing.jpg"
    assert_error(_transfer(capsys, tmp_path, missing, style_path), 1, "image not found", "missing.jpg")
    assert not (tmp_path / "out.png").exists()


def test_empty_file(capsys, tmp_path, style_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert_error(_transfer(capsys, tmp_path, empty, style_path), 1, "empty.jpg", "empty")


def test_text_file_named_jpg(capsys, tmp_path, style_path):
    text = tmp_path / "notes.jpg"
    text.write_text("these are not pixels\n" * 20)
    assert_error(_transfer(capsys, tmp_path, text, style_path), 1, "notes.jpg", "not an image or corrupt")


def test_truncated_jpeg(capsys, tmp_path, photo, style_path):
    buf = io.BytesIO()
    photo.resize((256, 171)).save(buf, format="JPEG", quality=95)
    data = buf.getvalue()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    assert_error(_transfer(capsys, tmp_path, cut, style_path), 1, "cut.jpg", "corrupt")


def _png_claiming(width: int, height: int) -> bytes:
    """A real small PNG whose IHDR is patched to claim width x height pixels."""
    buf = io.BytesIO()
    Image.new("L", (8, 8), 128).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def test_decompression_bomb_is_refused_before_decoding(capsys, tmp_path, style_path, monkeypatch):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(20000, 20000))
    with monkeypatch.context() as m:
        m.setattr(Image, "MAX_IMAGE_PIXELS", None)
        with Image.open(bomb) as img:  # the header really claims it
            assert img.size == (20000, 20000)
    decoded = []
    real_load = ImageFile.ImageFile.load

    def spy_load(self):
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    line = assert_error(_transfer(capsys, tmp_path, bomb, style_path), 1, "bomb.png", "20000x20000", "limit")
    assert "400,000,000" in line
    assert (20000, 20000) not in decoded
    # the spy does see decoding of an ordinary image
    from painterly.imaging import open_image

    small = tmp_path / "small.png"
    Image.new("RGB", (5, 3)).save(small)
    open_image(small)
    assert (5, 3) in decoded


def test_max_pixels_option_lowers_the_limit(capsys, tmp_path, content_path, style_path):
    assert_error(_transfer(capsys, tmp_path, content_path, style_path, "--max-pixels", 100), 1, "over the limit of 100")


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--size", "-5"], ["--size must be between 16 and 8192", "-5"]),
        (["--size", "100000"], ["--size must be between 16 and 8192", "100000"]),
        (["--size", "big"], ["--size", "invalid int value: 'big'"]),
        (["--style-layers", "relu4_22"], ["unknown VGG19 layer 'relu4_22'", "did you mean 'relu4_2'"]),
        (["--optimizer", "sgd"], ["--optimizer", "invalid choice: 'sgd'"]),
        (["--style-loss", "gram+moment"], ["--style-loss term must be one of", "did you mean 'moments'"]),
        (["--style-loss", "gram+w3"], ["--style-loss term must be one of gram, moments, w2, not 'w3'"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_options_are_usage_errors(capsys, tmp_path, content_path, style_path, args, needles):
    # FAST comes first so these later values override it
    result = run(capsys, "transfer", content_path, style_path, "-o", tmp_path / "o.png", *FAST, *args)
    assert_error(result, 2, *needles)
    assert not (tmp_path / "o.png").exists()


def test_missing_output_folder(capsys, tmp_path, content_path, style_path):
    out = tmp_path / "no" / "such" / "out.png"
    assert_error(_transfer(capsys, tmp_path, content_path, style_path, out=out), 1, "does not exist")


def test_unknown_output_extension(capsys, tmp_path, content_path, style_path):
    out = tmp_path / "out.xyz"
    assert_error(_transfer(capsys, tmp_path, content_path, style_path, out=out), 1, "unsupported output format '.xyz'")


def test_failed_run_does_not_clobber_an_existing_output(capsys, tmp_path, content_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"sentinel: an older result")
    corrupt_style = tmp_path / "style.jpg"
    corrupt_style.write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG")
    assert_error(_transfer(capsys, tmp_path, content_path, corrupt_style, out=out), 1, "style.jpg")
    assert out.read_bytes() == b"sentinel: an older result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "style.jpg"]


def test_mask_of_the_wrong_size(capsys, tmp_path, content_path, style_path, style2_path):
    mask = tmp_path / "mask.png"
    Image.new("L", (43, 64), 255).save(mask)  # portrait mask, landscape content
    result = run(
        capsys, "transfer", content_path, style_path, style2_path, "-o", tmp_path / "o.png", *FAST, "--mask", mask
    )
    assert_error(result, 1, "mask is 43x64 px", "64x43")


def test_mask_with_two_styles_runs(capsys, tmp_path, content_path, style_path, style2_path):
    mask = tmp_path / "mask.png"
    m = np.zeros((43, 64), np.uint8)
    m[:, :32] = 255
    Image.fromarray(m).save(mask)
    out = tmp_path / "o.png"
    code, _, err = run(
        capsys, "transfer", content_path, style_path, style2_path, "-o", out, *FAST, "--mask", mask, "-q"
    )
    assert code == 0, err
    with Image.open(out) as img:
        assert img.size == (48, 32)


# ------------------------------------------------------------ input kinds


def _as_mode(photo: Image.Image, kind: str, folder: Path) -> Path:
    if kind == "gray":
        path = folder / "gray.png"
        photo.convert("L").save(path)
    elif kind == "rgba":
        path = folder / "rgba.png"
        rgba = photo.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize(photo.size))
        rgba.save(path)
    elif kind == "16bit":
        path = folder / "sixteen.png"
        arr = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(arr).save(path)  # mode I;16
        with Image.open(path) as check:
            assert check.mode.startswith("I")
    else:  # cmyk
        path = folder / "cmyk.jpg"
        photo.convert("CMYK").save(path, quality=95)
        with Image.open(path) as check:
            assert check.mode == "CMYK"
    return path


@pytest.mark.parametrize("kind", ["gray", "rgba", "16bit", "cmyk"])
def test_unusual_input_modes_run(capsys, tmp_path, photo, style_path, kind):
    content = _as_mode(photo, kind, tmp_path)
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "transfer", content, style_path, "-o", out, *FAST, "--iterations", 2, "-q")
    assert code == 0, err
    with Image.open(out) as img:
        assert img.mode == "RGB" and img.size == (48, 32)


def test_exif_rotated_input_gives_a_rotated_output(capsys, tmp_path, photo, style_path):
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    photo.save(rotated, exif=exif.tobytes(), quality=95)
    with Image.open(rotated) as img:
        assert img.size == (64, 43)  # stored landscape, displayed portrait
    out = tmp_path / "out.png"
    code, stdout, err = run(capsys, "transfer", rotated, style_path, "-o", out, *FAST, "--iterations", 2, "-q")
    assert code == 0, err
    with Image.open(out) as img:
        assert img.size == (32, 48)
    assert "(32x48)" in stdout


# -------------------------------------------------------- Ctrl-C, traceback


def test_ctrl_c_exits_130_and_keeps_the_best_image(capsys, tmp_path, content_path, style_path, monkeypatch):
    def interrupt_at_2(self, event):
        if event.step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(ProgressBar, "__call__", interrupt_at_2)
    out = tmp_path / "out.png"
    code, stdout, err = run(capsys, "transfer", content_path, style_path, "-o", out, *FAST)
    assert code == 130
    assert stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0] == f"painterly: interrupted after 2 iterations; saved the best image so far to {out}"
    with Image.open(out) as img:
        assert img.size == (48, 32)


def test_sigterm_stops_a_real_run_like_ctrl_c(tmp_path, content_path, style_path):
    # A real process and a real signal: SIGTERM (what schedulers and `kill` send)
    # must keep the best image so far and exit 130, like Ctrl-C.
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.png"
    cmd = [sys.executable, "-m", "painterly", "transfer", str(content_path), str(style_path), "-o", str(out),
           "--size", "64", "--iterations", "100000", "--tolerance", "0", "--save-every", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # --save-every 1 writes out_0001.png after the first iteration: optimization is under way.
    while not (tmp_path / "out_0001.png").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "saved the best image so far" in err and "Traceback" not in err
    with Image.open(out) as img:
        assert max(img.size) == 64


def test_ctrl_c_before_optimizing_exits_130(capsys, tmp_path, content_path, style_path, monkeypatch):
    import sys

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # the algorithm's package, where the CLI looks the function up
    monkeypatch.setattr(sys.modules["painterly.gatys"], "run_transfer", interrupted)
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "transfer", content_path, style_path, "-o", out, *FAST)
    assert code == 130
    assert err == "painterly: interrupted\n"
    assert not out.exists()


def test_traceback_flag_shows_the_stack(capsys, tmp_path, style_path):
    missing = tmp_path / "missing.jpg"
    for position in ("global", "command"):
        args = ["transfer", missing, style_path, "-o", tmp_path / "o.png", *FAST]
        args = ["--traceback", *args] if position == "global" else [*args, "--traceback"]
        code, _, err = run(capsys, *args)
        assert code == 1
        assert "Traceback (most recent call last)" in err
        assert "ImageNotFoundError" in err
        assert err.splitlines()[-1].startswith("painterly: error: image not found")


def test_internal_errors_are_one_line_with_a_hint(capsys, tmp_path, content_path, style_path, monkeypatch):
    import sys

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(sys.modules["painterly.gatys"], "run_transfer", broken)
    code, _, err = run(capsys, "transfer", content_path, style_path, "-o", tmp_path / "o.png", *FAST, "-q")
    assert code == 1
    assert err == "painterly: internal error: ZeroDivisionError: boom (rerun with --traceback for details)\n"


def test_the_command_exits_fast_with_its_code_after_atexit_handlers_and_flushed_output(tmp_path):
    # The entry point leaves through os._exit: the exit code, buffered output and atexit
    # handlers (temporary folders, loggers) must survive that.
    import subprocess
    import sys

    script = (
        "import atexit, sys\n"
        "path = sys.argv[1]\n"
        "atexit.register(lambda: open(path, 'w').write('handler ran'))\n"
        "sys.argv = ['painterly'] + sys.argv[2:]\n"
        "from painterly.cli.main import run\n"
        "run()\n"
    )
    marker = tmp_path / "marker.txt"
    ok = subprocess.run([sys.executable, "-c", script, str(marker), "layers"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "relu4_2" in ok.stdout and ok.stdout.endswith("\n")
    assert marker.read_text() == "handler ran"
    marker.unlink()
    bad = subprocess.run([sys.executable, "-c", script, str(marker), "transfer", "--no-such-flag"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("painterly: error:") and len(bad.stderr.splitlines()) == 1
    assert marker.read_text() == "handler ran"
