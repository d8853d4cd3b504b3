"""The public functions: ``painterly.stylize``, ``painterly.transfer``, ``load_model``, ``list_models``.

Callable from any thread. Inputs are a path, a binary file object, a PIL
image, a numpy array (uint8, or float in [0, 1]; (H, W) or (H, W, 3|4)) or a
tensor (1, 3, H, W) / (3, H, W) RGB in [0, 1]; the result is a PIL RGB image.
``cancel`` is a :class:`threading.Event` or anything with ``is_set()``: when it
is set the work stops within one iteration or tile and
:class:`~painterly.errors.Cancelled` is raised, whose ``.image`` is the best
image so far where there is one.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

from ..config import StylizeConfig, TransferConfig
from ..progress import OptionalCallback, OptionalCancel
from .painters import Painter, _as_source, make_painter, one_pass_painter
from .run import read_pixels


def load_model(model: str, config: Optional[StylizeConfig] = None) -> Painter:
    """Load a trained feed-forward model once, to pass as ``model=`` to :func:`stylize` many times.

    Args:
        model: a name (see :func:`list_models`) or a ``.safetensors`` / ``.onnx`` file.
        config: settings to load it with (backend, device, threads).

    Raises:
        ModelError: unknown name (with did-you-mean), missing or corrupt file.
    """
    cfg = (config or StylizeConfig()).replace(model=str(model))
    return make_painter("stylize", cfg)


def list_models() -> List[Any]:
    """The installed models (user folder, then bundled) as :class:`~painterly.models.checkpoints.ModelInfo`."""
    from ..models.checkpoints import list_models as find_all

    return find_all()


def _paint(painter: Painter, content: Any, on_progress: OptionalCallback, cancel: OptionalCancel) -> Any:
    from PIL import Image

    pixels = read_pixels(_as_source(content), painter)
    return Image.fromarray(painter.paint(pixels, on_progress=on_progress, cancel=cancel).pixels)


def stylize(
    content: Any,
    model: Union[str, Painter, None] = None,
    *,
    style_images: Sequence[Any] = (),
    config: Optional[StylizeConfig] = None,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> Any:
    """Paint ``content`` in one pass: with a trained model, or in the style of any painting(s).

    Args:
        content: the photo (see the module docstring for the kinds accepted).
        model: a trained model's name or file, or a painter from
            :func:`load_model`; with ``style_images``: an AdaIN model (default ``adain``).
        style_images: paint in the style of these images (paths, PIL images,
            arrays) with the arbitrary-style model instead of a trained style.
        config: settings (:class:`~painterly.config.StylizeConfig`); size 0
            keeps the photo's size.
        on_progress: receives :class:`~painterly.progress.Progress` events.
        cancel: see the module docstring.

    Returns:
        A PIL RGB image.

    Raises:
        Cancelled, ConfigError, ModelError, ImageError.
    """
    return _paint(one_pass_painter(model, style_images, config), content, on_progress, cancel)


def transfer(
    content: Any,
    styles: Any,
    config: Optional[TransferConfig] = None,
    *,
    mask: Any = None,
    on_progress: OptionalCallback = None,
    cancel: OptionalCancel = None,
) -> Any:
    """Paint ``content`` in the style of ``styles`` by optimization (Gatys et al.).

    Args:
        content: the photo (see the module docstring).
        styles: one style image or a list of them (blended by ``config.style_blend``).
        config: settings (:class:`~painterly.config.TransferConfig`).
        mask: a grayscale image of the photo's aspect ratio assigning regions to
            styles (white = first style).
        on_progress: receives a :class:`~painterly.progress.Progress` per iteration
            (``preview()`` gives the current picture).
        cancel: see the module docstring; the raised ``Cancelled.image`` is the
            best image so far.

    Returns:
        A PIL RGB image whose long side is ``config.size`` px.
    """
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    painter = make_painter("transfer", config or TransferConfig(), styles=style_list, mask=mask)
    return _paint(painter, content, on_progress, cancel)


def set_threads(threads: int) -> None:
    """Set the CPU threads torch uses in this process (0: leave torch's default).

    A process-wide setting, so the host program (CLI, service, batch worker)
    calls it, not the algorithms.
    """
    if threads > 0:
        import torch

        torch.set_num_threads(int(threads))


__all__ = ["list_models", "load_model", "set_threads", "stylize", "transfer"]
