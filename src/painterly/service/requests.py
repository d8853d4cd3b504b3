"""A job request checked before it is queued: method, model, settings and style count.

Every problem becomes an :class:`~painterly.service.errors.ApiError` 422 that
names the field, so a client fixes its request instead of watching a job fail.
Settings that would let a request reach the server's files or hardware
(paths to style images, masks and init images; the device; threads; the
pixel limit) are the server's to choose and are refused here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..config import METHOD_CONFIGS, METHODS, config_from_dict, config_to_dict
from ..errors import ConfigError, did_you_mean
from .errors import ApiError

#: Settings a web request may not set, and why (the server owns them).
SERVER_FIELDS: Dict[str, str] = {
    "device": "the device is chosen by the server",
    "threads": "threads are set by the server (--workers)",
    "max_pixels": "the pixel limit is set by the server",
    "style_images": "upload the paintings as 'style' files instead",
    "mask": "masks are not supported over the web yet",
}

#: Most style images one job may upload.
MAX_STYLES = 4


@dataclass(frozen=True)
class JobRequest:
    """A checked request: what a worker needs to build the painter.

    Attributes:
        method: ``stylize``, ``arbitrary`` or ``transfer``.
        model: the model name (``stylize``; ``arbitrary``: the AdaIN model, '' for the default).
        config: every field of the method's config as JSON values.
    """

    method: str
    model: str
    config: Dict[str, Any]


def _config_error(exc: ConfigError) -> ApiError:
    return ApiError(422, str(exc), field=exc.field or "config",
                    value=exc.value if isinstance(exc.value, (str, int, float, bool)) else None,
                    choices=list(exc.choices) or None)


def parse_settings(text: Optional[str]) -> Dict[str, Any]:
    """The ``config`` form field as a dict ({} when absent).

    Raises:
        ApiError: 422 when it is not a JSON object.
    """
    if text is None or not str(text).strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ApiError(422, f"config is not valid JSON: {exc}", field="config") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"config must be a JSON object of settings, not {type(data).__name__}", field="config")
    return data


def _models() -> Dict[str, Any]:
    from ..jobs.api import list_models

    return {m.name: m for m in list_models()}


def check_request(method: Optional[str], model: Optional[str], settings: Dict[str, Any], styles: int) -> JobRequest:
    """Check a job request completely (not the images: see :mod:`.uploads`).

    Args:
        method: the ``method`` field.
        model: the ``model`` field ('' or None when absent).
        settings: the parsed ``config`` field.
        styles: number of style images uploaded.

    Raises:
        ApiError: 422 naming the field at fault.
    """
    method = (method or "").strip()
    if method not in METHODS:
        raise ApiError(422, f"method must be one of {', '.join(METHODS)}, not '{method}'{did_you_mean(method, METHODS)}",
                       field="method", value=method, choices=list(METHODS))
    for key in settings:
        if key in SERVER_FIELDS:
            raise ApiError(422, f"{key} cannot be set in a request: {SERVER_FIELDS[key]}", field=key)
    if method == "transfer" and "init" in settings and settings["init"] not in ("content", "noise"):
        raise ApiError(422, "init must be content or noise over the web (not a path)", field="init",
                       choices=["content", "noise"])
    model = (model or "").strip() or str(settings.get("model", "") or "").strip()
    if method == "transfer" and model:
        raise ApiError(422, "model is for the stylize and arbitrary methods; transfer paints with its style images",
                       field="model")
    cls = METHOD_CONFIGS[method]
    values = dict(settings)
    if method != "transfer":
        values["model"] = model
    try:
        cfg = config_from_dict(cls, values)
    except ConfigError as exc:
        raise _config_error(exc) from None
    if styles > MAX_STYLES:
        raise ApiError(422, f"style: at most {MAX_STYLES} style images, not {styles}", field="style")
    models = _models()
    if method == "stylize":
        if styles:
            raise ApiError(422, "style images are for the arbitrary and transfer methods; stylize uses a model",
                           field="style")
        feed = sorted(n for n, m in models.items() if m.kind == "feedforward")
        if not model:
            raise ApiError(422, f"model is required for stylize: one of {', '.join(feed)}", field="model",
                           choices=feed)
        if model not in feed:
            raise ApiError(422, f"model must be one of {', '.join(feed)}, not '{model}'{did_you_mean(model, feed)}",
                           field="model", value=model, choices=feed)
        n = len(models[model].styles) or 1
        if cfg.style_weights and len(cfg.style_weights) != n:
            raise ApiError(422, f"style_weights has {len(cfg.style_weights)} values for the {n} style(s) of {model}",
                           field="style_weights")
    else:
        if styles < 1:
            raise ApiError(422, f"the {method} method needs at least one style image (a 'style' file)", field="style")
        if method == "arbitrary":
            adain = sorted(n for n, m in models.items() if m.kind == "adain")
            if model and model not in adain:
                raise ApiError(422, f"model must be an arbitrary-style model ({', '.join(adain) or 'none installed'}), "
                               f"not '{model}'", field="model", value=model, choices=adain)
            if not model and not adain:
                raise ApiError(422, "no arbitrary-style (AdaIN) model is installed", field="model")
            if cfg.style_weights and len(cfg.style_weights) != styles:
                raise ApiError(422, f"style_weights has {len(cfg.style_weights)} values for {styles} style images",
                               field="style_weights")
        elif cfg.style_blend and len(cfg.style_blend) != styles:
            raise ApiError(422, f"style_blend has {len(cfg.style_blend)} values for {styles} style images",
                           field="style_blend")
    return JobRequest(method, model if method != "transfer" else "", config_to_dict(cfg))


def build_config(request_method: str, config: Dict[str, Any], threads: int = 0) -> Any:
    """The config object of a stored job, with the server's thread count."""
    cfg = config_from_dict(METHOD_CONFIGS[request_method], config)
    return cfg.replace(threads=threads) if threads else cfg


def schema() -> Dict[str, List[Dict[str, Any]]]:
    """Each method's settings (:func:`~painterly.config.config_schema`) less the server's own: what the page's form is built from."""
    from ..config import arbitrary_fields, config_schema

    # What each one-pass method does not read, so the page does not offer it: the
    # AdaIN fields for a trained model, and the tiling of trained models for AdaIN
    # (which paints at work_size and upsamples instead).
    unused = {"stylize": set(arbitrary_fields()), "arbitrary": {"tile_size", "tile_overlap"}, "transfer": set()}
    out = {}
    for method in METHODS:
        out[method] = [f for f in config_schema(METHOD_CONFIGS[method])
                       if f["name"] not in SERVER_FIELDS and f["name"] not in unused[method]]
    return out


def cache_key(method: str, config: Dict[str, Any], style_digests: Tuple[str, ...]) -> str:
    """What identifies a loaded painter: method, settings and the style images' content."""
    return json.dumps([method, config, list(style_digests)], sort_keys=True)


__all__ = ["JobRequest", "MAX_STYLES", "SERVER_FIELDS", "build_config", "cache_key", "check_request",
           "parse_settings", "schema"]
