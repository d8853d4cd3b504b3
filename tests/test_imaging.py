"""Tests for painterly.imaging: reading, writing, resizing and colour maths."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from painterly.errors import (
    ImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    OutputError,
    PainterlyError,
    UsageError,
)
from painterly.imaging import (
    check_output_path,
    combine_luminance,
    fit_long_side,
    image_to_tensor,
    load_image,
    luminance,
    match_histogram,
    match_luminance,
    open_image,
    resize_long_side,
    resize_tensor,
    rgb_to_yiq,
    save_image,
    tensor_to_image,
    write_atomic,
    yiq_to_rgb,
)

CONTENT = Path("/work/shared/images/content")
CHELSEA = CONTENT / "chelsea.png"
needs_chelsea = pytest.mark.skipif(not CHELSEA.exists(), reason="shared test images not present")


def rgb(img: Image.Image, xy=(0, 0)) -> tuple[int, int, int]:
    return img.getpixel(xy)


# ---------------------------------------------------------------- helpers


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)


def linear_rgb_icc() -> bytes:
    """A minimal ICC v2 matrix/TRC profile: sRGB primaries, gamma 1.0.

    Pixel value 128 in this space is linear 0.502, which is 188 in sRGB, so a
    conversion is easy to see.
    """
    text = b"Linear RGB test\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 78
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 0x0100)
    tags = [
        (b"desc", desc),
        (b"wtpt", _xyz_tag(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _xyz_tag(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", _xyz_tag(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", _xyz_tag(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table = body = b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body)) + b"lcms" + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 28
        + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height but holds almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def gradient(width: int = 32, height: int = 24) -> Image.Image:
    """Smooth colour image, so lossy formats stay close to the original."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    arr = np.stack([x, y, 255 - x], axis=-1).round().astype(np.uint8)
    return Image.fromarray(arr, mode="RGB")


# ---------------------------------------------------------------- modes


def _sixteen(value: int, mode: str) -> Image.Image:
    arr = np.full((6, 8), value, dtype=np.uint16)
    if mode == "I;16B":
        return Image.frombytes("I;16B", (8, 6), arr.astype(">u2").tobytes())
    if mode == "I":
        return Image.fromarray(arr.astype(np.int32))
    return Image.fromarray(arr)  # I;16


def _palette(transparent: bool) -> Image.Image:
    img = Image.new("P", (8, 6), 1)
    img.putpalette([0, 0, 0, 200, 10, 10] + [0] * (254 * 3))
    if transparent:
        img.putpixel((0, 0), 0)
        img.info["transparency"] = 0
    return img


# (image factory, file extension, expected pixel at (0, 0), tolerance)
MODE_CASES = {
    "RGB": (lambda: Image.new("RGB", (8, 6), (10, 200, 30)), ".png", (10, 200, 30), 0),
    "L": (lambda: Image.new("L", (8, 6), 100), ".png", (100, 100, 100), 0),
    "LA": (lambda: Image.new("LA", (8, 6), (0, 0)), ".png", (255, 255, 255), 0),
    "P": (lambda: _palette(False), ".png", (200, 10, 10), 0),
    "P-transparent": (lambda: _palette(True), ".png", (255, 255, 255), 0),
    "RGBA": (lambda: Image.new("RGBA", (8, 6), (255, 0, 0, 128)), ".png", (255, 127, 127), 1),
    "CMYK": (lambda: Image.new("CMYK", (8, 6), (0, 0, 0, 0)), ".tif", (255, 255, 255), 0),
    "CMYK-jpeg": (lambda: Image.new("CMYK", (8, 6), (255, 0, 0, 0)), ".jpg", (0, 255, 255), 3),
    "I;16": (lambda: _sixteen(32768, "I;16"), ".png", (128, 128, 128), 1),
    "I;16B": (lambda: _sixteen(65535, "I;16B"), ".tif", (255, 255, 255), 0),
    "I": (lambda: _sixteen(16384, "I"), ".tif", (64, 64, 64), 1),
    "F": (lambda: Image.new("F", (8, 6), 0.5), ".tif", (128, 128, 128), 1),
    "1": (lambda: Image.new("1", (8, 6), 1), ".png", (255, 255, 255), 0),
}


@pytest.mark.parametrize("case", sorted(MODE_CASES))
def test_every_mode_file_round_trips_to_rgb(tmp_path, case):
    make, ext, expected, tol = MODE_CASES[case]
    path = tmp_path / f"img{ext}"
    make().save(path)
    img = open_image(path)
    assert img.mode == "RGB" and img.size == (8, 6)
    assert np.abs(np.subtract(rgb(img), expected)).max() <= tol, rgb(img)


@pytest.mark.parametrize("case", sorted(MODE_CASES))
def test_every_mode_pil_image_converts_without_changing_input(case):
    make, _, expected, tol = MODE_CASES[case]
    source = make()
    mode = source.mode
    img = open_image(source)
    assert img is not source and source.mode == mode
    assert img.mode == "RGB"
    if case != "CMYK-jpeg":  # the JPEG case's expected value includes lossy coding
        assert np.abs(np.subtract(rgb(img), expected)).max() <= tol, rgb(img)


def test_16bit_png_keeps_its_brightness(tmp_path):
    arr = np.linspace(0, 65535, 256).round().astype(np.uint16)[None, :].repeat(4, 0)
    arr[1] = round(65535 * 0.5)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(open_image(path))
    assert abs(int(out[1, 0, 0]) - 128) <= 1
    # A full ramp stays a full ramp: nothing clipped at 255 early.
    ramp = out[0, :, 0].astype(int)
    assert ramp[0] == 0 and ramp[-1] == 255
    assert np.all(np.diff(ramp) >= 0) and len(np.unique(ramp)) > 200


def test_exif_orientation_6_rotates(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(arr).save(path, exif=exif.tobytes(), quality=95)
    img = open_image(path)
    assert img.size == (20, 40)
    top, bottom = rgb(img, (10, 5)), rgb(img, (10, 35))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert rgb(open_image(path)) == (255, 0, 0)


# ---------------------------------------------------------------- ICC


def test_srgb_profile_loads_identically(tmp_path):
    src = gradient()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src.save(tmp_path / "plain.png")
    src.save(tmp_path / "tagged.png", icc_profile=srgb)
    plain = np.asarray(open_image(tmp_path / "plain.png"))
    tagged = np.asarray(open_image(tmp_path / "tagged.png"))
    assert np.array_equal(plain, tagged)


def test_non_srgb_profile_is_converted(tmp_path):
    path = tmp_path / "linear.png"
    Image.new("RGB", (4, 4), (128, 128, 128)).save(path, icc_profile=linear_rgb_icc())
    value = rgb(open_image(path))
    # Linear 0.502 is sRGB 0.737 = level 188.
    assert all(185 <= v <= 191 for v in value), value


def test_profile_converted_with_alpha(tmp_path):
    path = tmp_path / "linear_rgba.png"
    img = Image.new("RGBA", (4, 4), (128, 128, 128, 255))
    img.putpixel((0, 0), (0, 0, 0, 0))
    img.save(path, icc_profile=linear_rgb_icc())
    out = open_image(path)
    assert rgb(out, (0, 0)) == (255, 255, 255)
    assert all(185 <= v <= 191 for v in rgb(out, (1, 1)))


@pytest.mark.parametrize("blob", [b"not a profile at all", b"\0" * 200])
def test_broken_icc_blob_is_ignored(tmp_path, blob):
    path = tmp_path / "broken.png"
    gradient().save(path, icc_profile=blob)
    assert np.array_equal(np.asarray(open_image(path)), np.asarray(gradient()))


def test_mismatched_profile_is_ignored():
    # An RGB profile on a gray image cannot be applied; it must not crash.
    img = Image.new("L", (4, 4), 77)
    img.info["icc_profile"] = linear_rgb_icc()
    assert rgb(open_image(img)) == (77, 77, 77)


# ---------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ImageNotFoundError, match="image not found") as info:
        open_image(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_directory(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        open_image(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as info:
        open_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am not a picture\n")
    with pytest.raises(ImageError, match="not an image or corrupt") as info:
        open_image(path)
    assert str(path) in str(info.value)


@needs_chelsea
def test_truncated_png_fails_when_opened(tmp_path):
    data = CHELSEA.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="not an image or corrupt"):
        open_image(path)


def test_zero_pixel_image():
    with pytest.raises(ImageError, match="empty"):
        open_image(Image.new("RGB", (0, 5)))


def test_max_pixels_refusal_names_size(tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGB", (30, 20)).save(path)
    with pytest.raises(ImageTooLargeError, match="30x20") as info:
        open_image(path, max_pixels=500)
    assert "500" in str(info.value)
    assert open_image(path, max_pixels=600).size == (30, 20)


def test_too_large_is_refused_from_header_before_decoding(tmp_path):
    # 20000 x 20000 RGB would need 1.6 GB to decode and its data is missing
    # anyway: only a header check can answer with "too large".
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(20000, 20000))
    with pytest.raises(ImageTooLargeError, match="20000x20000"):
        open_image(path)
    with pytest.raises(ImageTooLargeError):
        load_image(path, size=64)


def test_our_limit_replaces_pillows(tmp_path, monkeypatch):
    path = tmp_path / "img.png"
    Image.new("RGB", (30, 30)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_image(path).size == (30, 30)
    assert Image.MAX_IMAGE_PIXELS == 100


def test_file_object_and_bad_source_type(tmp_path):
    buffer = io.BytesIO()
    gradient().save(buffer, format="PNG")
    buffer.seek(0)
    assert open_image(buffer).size == (32, 24)
    with pytest.raises(ImageError):
        open_image(io.BytesIO(b"junk"))
    with pytest.raises(UsageError):
        open_image(12345)  # type: ignore[arg-type]


# ---------------------------------------------------------------- tensors


def test_tensor_sources_and_conversions():
    img = gradient()
    t = image_to_tensor(img)
    assert t.shape == (1, 3, 24, 32) and t.dtype == torch.float32
    assert 0.0 <= t.min() and t.max() <= 1.0
    assert np.array_equal(np.asarray(tensor_to_image(t)), np.asarray(img))
    assert np.array_equal(np.asarray(tensor_to_image(t[0])), np.asarray(img))
    assert np.array_equal(np.asarray(open_image(t)), np.asarray(img))
    assert np.array_equal(np.asarray(open_image(t[0])), np.asarray(img))


def test_tensor_to_image_clamps_and_rounds():
    t = torch.tensor([0.5, 1.3, -0.2, 0.2, 0.999, float("nan")]).view(1, 1, 6).expand(3, 1, 6)
    out = np.asarray(tensor_to_image(t))[0, :, 0]
    assert out.tolist() == [128, 255, 0, 51, 255, 0]


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (4, 4), (2, 4, 4), (1, 1, 3, 4, 4)])
def test_bad_tensor_shapes(shape):
    with pytest.raises(ImageError):
        tensor_to_image(torch.rand(shape))


@needs_chelsea
def test_load_image_resizes_long_side():
    full = load_image(CHELSEA)
    h, w = full.shape[-2:]
    small = load_image(CHELSEA, size=64)
    assert small.shape[-1] == 64 and small.shape[0:2] == (1, 3)
    assert abs(small.shape[-2] - round(h * 64 / w)) <= 1
    assert 0.0 <= small.min() and small.max() <= 1.0
    # Downsampling keeps the average colour.
    assert torch.allclose(small.mean(dim=(2, 3)), full.mean(dim=(2, 3)), atol=0.01)


# ---------------------------------------------------------------- saving


@pytest.mark.parametrize(
    "ext, lossless", [(".png", True), (".tif", True), (".tiff", True), (".bmp", True),
                      (".jpg", False), (".JPEG", False), (".webp", False)],
)
def test_save_each_format_and_reload(tmp_path, ext, lossless):
    src = image_to_tensor(gradient())
    path = save_image(src, tmp_path / f"out{ext}")
    assert path == tmp_path / f"out{ext}" and path.is_file()
    back = load_image(path)
    assert back.shape == src.shape
    err = (back - src).abs().mean().item()
    assert err == 0.0 if lossless else err < 4 / 255
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out{ext}"]


def test_png_output_is_lossless_and_not_larger_than_zlibs_default_strategy(tmp_path):
    # The run-length strategy (PNG_ZLIB_STRATEGY) is chosen for speed; on a real
    # photo it must also write no more bytes than zlib's default at the same level.
    photo = Image.open(Path(__file__).resolve().parents[1] / "src" / "painterly" / "data" / "astronaut.jpg").convert("RGB")
    path = save_image(photo, tmp_path / "photo.png")
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(photo))
    default = io.BytesIO()
    photo.save(default, format="PNG", compress_level=1)
    assert path.stat().st_size <= len(default.getvalue())


def test_save_pil_rgba_as_jpeg(tmp_path):
    img = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    save_image(img, tmp_path / "a.jpg")
    assert all(v > 250 for v in rgb(open_image(tmp_path / "a.jpg")))


def test_saved_file_has_normal_permissions(tmp_path):
    path = save_image(image_to_tensor(gradient()), tmp_path / "perm.png")
    reference = tmp_path / "reference"
    reference.write_bytes(b"x")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_atomic_save_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "result.png"
    gradient().save(path)
    before = path.read_bytes()

    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OutputError, match="disk full"):
        save_image(torch.rand(1, 3, 8, 8), path)
    with pytest.raises(OutputError):
        save_image(Image.new("RGB", (8, 8)), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_atomic_save_cleans_up_on_interrupt(tmp_path, monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(torch.rand(1, 3, 8, 8), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_save_errors(tmp_path):
    img = torch.rand(1, 3, 4, 4)
    with pytest.raises(OutputError, match=r"unsupported output format '\.xyz'.*\.png, \.jpg"):
        save_image(img, tmp_path / "out.xyz")
    with pytest.raises(OutputError, match="missing"):
        save_image(img, tmp_path / "missing" / "out.png")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(OutputError, match="folder"):
        save_image(img, tmp_path / "folder.png")
    with pytest.raises(UsageError):
        save_image(img, tmp_path / "q.jpg", quality=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png"]


def test_check_output_path(tmp_path):
    assert check_output_path(str(tmp_path / "ok.webp")) == tmp_path / "ok.webp"
    with pytest.raises(OutputError, match=r"'\.gif'"):
        check_output_path(tmp_path / "x.gif")
    with pytest.raises(OutputError, match="nowhere"):
        check_output_path(tmp_path / "nowhere" / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_write_atomic(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    write_atomic(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    write_atomic(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"

    def failing_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OutputError, match="I/O error"):
        write_atomic(path, "new")
    assert path.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
    with pytest.raises(OutputError, match="does not exist"):
        write_atomic(tmp_path / "no" / "c.json", "x")


def test_errors_are_painterly_errors():
    assert issubclass(OutputError, PainterlyError) and issubclass(ImageError, ValueError)


# ---------------------------------------------------------------- resize


@pytest.mark.parametrize(
    "w, h, size, expected",
    [(400, 300, 200, (200, 150)), (300, 400, 200, (150, 200)), (1000, 2, 10, (10, 1)),
     (10, 10, 40, (40, 40)), (3, 7, 5, (2, 5))],
)
def test_fit_long_side(w, h, size, expected):
    assert fit_long_side(w, h, size) == expected


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_fit_long_side_rejects_bad_size(size):
    with pytest.raises(UsageError):
        fit_long_side(10, 10, size)


def test_resize_tensor():
    torch.manual_seed(0)
    t = torch.rand(2, 3, 40, 30)
    copy = t.clone()
    down = resize_tensor(t, (20, 15))
    assert down.shape == (2, 3, 20, 15)
    assert 0.0 <= down.min() and down.max() <= 1.0
    up = resize_long_side(t, 80)
    assert up.shape == (2, 3, 80, 60) and 0.0 <= up.min() and up.max() <= 1.0
    same = resize_tensor(t, (40, 30))
    assert torch.equal(same, t) and same.data_ptr() != t.data_ptr()
    assert torch.equal(t, copy)
    assert resize_long_side(t[0], 20).shape == (3, 20, 15)
    # Antialiasing removes the checkerboard instead of aliasing it.
    checker = (torch.arange(64).view(1, -1) + torch.arange(64).view(-1, 1)) % 2
    checker = checker.float().expand(1, 3, 64, 64)
    small = resize_tensor(checker, (16, 16))
    assert (small - 0.5).abs().max() < 0.05
    with pytest.raises(UsageError, match="did you mean 'bicubic'"):
        resize_tensor(t, (10, 10), mode="bicubc")


# ---------------------------------------------------------------- colour


def _colours(seed: int, n: int, h: int, w: int, mix: list, centre: list) -> torch.Tensor:
    """Uniform random colours squeezed into a tilted box well inside [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 3, h, w, generator=g, dtype=torch.float64) - 0.5
    out = torch.einsum("ij,bjhw->bihw", torch.tensor(mix, dtype=torch.float64), u)
    return out + torch.tensor(centre, dtype=torch.float64).view(1, 3, 1, 1)


def _mean_cov(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = t[0].reshape(3, -1)
    return flat.mean(dim=1), torch.cov(flat, correction=0)


def test_yiq_round_trip_and_luminance():
    torch.manual_seed(1)
    t = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    copy = t.clone()
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(t)), t, atol=1e-12)
    assert torch.equal(t, copy)
    gray = torch.full((1, 3, 2, 2), 0.3)
    yiq = rgb_to_yiq(gray)
    assert torch.allclose(yiq[:, 0], torch.tensor(0.3)) and yiq[:, 1:].abs().max() < 1e-6
    assert luminance(t).shape == (2, 1, 5, 7)
    assert torch.allclose(luminance(t)[:, 0], rgb_to_yiq(t)[:, 0])
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert torch.allclose(luminance(red), torch.tensor(0.299))


@pytest.mark.parametrize("mode", ["pca", "chol", "sym"])
def test_match_histogram_matches_mean_and_covariance(mode):
    source = _colours(2, 1, 40, 50, [[0.3, 0.1, 0.0], [0.0, 0.2, 0.1], [0.1, 0.0, 0.25]],
                      [0.3, 0.6, 0.4])
    target = _colours(3, 1, 30, 20, [[0.2, -0.1, 0.05], [0.1, 0.25, 0.0], [0.0, 0.1, 0.15]],
                      [0.55, 0.45, 0.5])
    copy = source.clone()
    out = match_histogram(source, target, mode=mode)
    assert out.shape == source.shape and out.dtype == source.dtype
    assert torch.equal(source, copy)
    assert 0.0 <= out.min() and out.max() <= 1.0
    mean_o, cov_o = _mean_cov(out)
    mean_t, cov_t = _mean_cov(target)
    assert torch.allclose(mean_o, mean_t, atol=1e-6)
    assert torch.allclose(cov_o, cov_t, atol=2e-5)  # eps = 1e-5 on the diagonal


def test_match_histogram_sym_moves_colours_least():
    source = _colours(4, 1, 30, 30, [[0.2, 0.05, 0.0], [0.05, 0.2, 0.0], [0.0, 0.0, 0.2]],
                      [0.5, 0.5, 0.5])
    target = _colours(5, 1, 30, 30, [[0.25, 0.0, 0.05], [0.0, 0.15, 0.0], [0.05, 0.0, 0.2]],
                      [0.5, 0.5, 0.5])
    moved = {m: (match_histogram(source, target, mode=m) - source).pow(2).mean().item()
             for m in ("pca", "chol", "sym")}
    assert moved["sym"] <= moved["pca"] + 1e-9 and moved["sym"] <= moved["chol"] + 1e-9


def test_match_histogram_float32_flat_and_bad_mode():
    flat = torch.full((1, 3, 8, 8), 0.4)
    target = torch.rand(1, 3, 6, 6)
    out = match_histogram(flat, target)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    with pytest.raises(UsageError, match="did you mean 'chol'"):
        match_histogram(flat, target, mode="cholesky")
    with pytest.raises(ImageError):
        match_histogram(flat[0], target)


def test_combine_luminance_keeps_y_of_first_and_iq_of_second():
    luma = _colours(6, 1, 8, 8, [[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]],
                    [0.5, 0.5, 0.5])
    color = _colours(7, 1, 8, 8, [[0.1, 0.02, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]],
                     [0.45, 0.5, 0.55])
    out = combine_luminance(luma, color)
    assert 0.0 <= out.min() and out.max() <= 1.0
    yiq_out = rgb_to_yiq(out)
    assert torch.allclose(yiq_out[:, 0], rgb_to_yiq(luma)[:, 0], atol=1e-9)
    assert torch.allclose(yiq_out[:, 1:], rgb_to_yiq(color)[:, 1:], atol=1e-9)
    # A one-channel luma works the same as its three-channel gray.
    y = luminance(luma)
    assert torch.allclose(combine_luminance(y, color), out, atol=1e-9)
    with pytest.raises(ImageError, match="resize"):
        combine_luminance(luma, color[..., :4])


def test_match_luminance_matches_target_stats():
    source = _colours(8, 1, 20, 30, [[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]],
                      [0.3, 0.3, 0.3])
    target = _colours(9, 1, 10, 10, [[0.3, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.3]],
                      [0.6, 0.5, 0.5])
    out = match_luminance(source, target)
    assert out.shape == source.shape
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    y_out, y_t = luminance(out), luminance(target)
    assert abs(y_out.mean() - y_t.mean()) < 1e-6
    assert abs(y_out.std(unbiased=False) - y_t.std(unbiased=False)) < 1e-4
    # Same structure as the source: a positive linear map of its luma.
    corr = torch.corrcoef(torch.stack([y_out.flatten(), luminance(source).flatten()]))[0, 1]
    assert corr > 0.9999


@needs_chelsea
def test_colour_functions_on_a_real_photo():
    photo = load_image(CHELSEA, size=48)
    target = torch.rand(1, 3, 20, 20)
    assert match_histogram(photo, target).shape == photo.shape
    gray = match_luminance(photo, target)
    assert combine_luminance(gray, photo).shape == photo.shape


def test_large_jpeg_style_decodes_at_a_reduced_scale(tmp_path: Path) -> None:
    """``draft=True`` lets a big JPEG decode at 1/2..1/8 scale (never below twice the wanted
    side), then resizes as usual: same size, nearly the same pixels; PNGs are untouched."""
    from painterly.imaging.io import load_array

    with Image.open(Path(__file__).resolve().parents[1] / "src" / "painterly" / "data" / "starry_night.jpg") as img:
        big = img.convert("RGB").resize((2400, 1500), Image.Resampling.BICUBIC)
    jpeg, png = tmp_path / "big.jpg", tmp_path / "big.png"
    big.save(jpeg, quality=92)
    big.save(png)
    reduced = open_image(jpeg, at_least=100)
    assert reduced.size == (300, 188)  # 1/8 scale: the smallest that keeps >= 200 px
    assert open_image(jpeg, at_least=700).size == (2400, 1500)  # 1/2 would drop below 1400
    assert open_image(png, at_least=100).size == (2400, 1500)
    full, fast = load_array(jpeg, size=128), load_array(jpeg, size=128, draft=True)
    assert full.shape == fast.shape == (80, 128, 3)
    assert np.abs(full.astype(np.float32) - fast).mean() < 4
