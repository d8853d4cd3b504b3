"""Smoke tests of the public surface: every module imports, import stays cheap."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import subprocess
import sys

import pytest

import painterly

#: Optional extras a module may need; a module failing only for one of these is skipped.
OPTIONAL = {"fastapi", "uvicorn", "av", "ray", "onnx", "onnxruntime", "multipart", "jinja2"}


def _all_modules() -> list[str]:
    names = ["painterly"]
    for info in pkgutil.walk_packages(painterly.__path__, prefix="painterly."):
        names.append(info.name)
    return sorted(names)


MODULES = _all_modules()


def test_walk_finds_the_core_modules():
    for name in (
        "painterly.config",
        "painterly.errors",
        "painterly.layers",
        "painterly.progress",
        "painterly.models.vgg",
        "painterly.models.weights",
        "painterly.losses.style",
        "painterly.gatys.run",
        "painterly.imaging.io",
        "painterly.cli.main",
        "painterly.__main__",
    ):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs the optional package {exc.name}")
        raise
    for attr in getattr(module, "__all__", ()):
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_painterly_does_not_import_torch():
    proc = _python(
        "import sys, painterly\n"
        "assert 'torch' not in sys.modules, 'import painterly imported torch'\n"
        "painterly.TransferConfig(size=64)\n"
        "import painterly.cli.main\n"
        "assert 'torch' not in sys.modules, 'config/CLI import pulled in torch'\n"
    )
    assert proc.returncode == 0, proc.stderr


def test_layers_command_runs_without_torch():
    proc = _python(
        "import sys\n"
        "from painterly.cli.main import main\n"
        "assert main(['layers']) == 0\n"
        "assert 'torch' not in sys.modules\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert "relu4_2" in proc.stdout


def test_painterly_transfer_stays_the_function_after_importing_the_algorithm():
    # A subpackage named like the public function would shadow it once imported.
    proc = _python(
        "import painterly.gatys, painterly, inspect\n"
        "assert inspect.isfunction(painterly.transfer)\n"
        "assert painterly.run_transfer is painterly.gatys.run_transfer\n"
    )
    assert proc.returncode == 0, proc.stderr


def test_version_is_a_string():
    assert isinstance(painterly.__version__, str)
    parts = painterly.__version__.split(".")
    assert len(parts) >= 2 and all(p.isdigit() for p in parts[:2])


def test_lazy_exports_resolve():
    for name in painterly.__all__:
        assert getattr(painterly, name) is not None
    assert painterly.TransferConfig is importlib.import_module("painterly.config").TransferConfig
    assert issubclass(painterly.PainterlyError, Exception)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        painterly.nope  # noqa: B018
    assert set(painterly.__all__) <= set(dir(painterly))


def test_every_config_field_is_documented():
    fields = dataclasses.fields(painterly.TransferConfig)
    assert len(fields) > 20
    for f in fields:
        text = f.metadata.get("help")
        assert isinstance(text, str) and len(text) >= 10, f"{f.name} has no help text"
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, f.name


def test_defaults_are_valid_and_match_the_cli(capsys):
    from painterly.cli.main import main

    cfg = painterly.TransferConfig()
    assert cfg.size == 512 and cfg.optimizer == "lbfgs" and cfg.content_layers == ("relu4_2",)
    assert main(["transfer", "--help"]) == 0
    help_text = capsys.readouterr().out
    for f in dataclasses.fields(cfg):
        assert "--" + f.name.replace("_", "-") in help_text, f"no CLI option for {f.name}"


def test_error_classes_subclass_builtins():
    from painterly import errors

    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.ImageNotFoundError, FileNotFoundError)
    assert issubclass(errors.OutputError, OSError)
    assert issubclass(errors.WeightsError, RuntimeError)
    assert errors.UsageError.exit_code == 2 and errors.ImageError.exit_code == 1
    assert errors.did_you_mean("relu4_22", ["relu4_2", "relu1_1"]) == " (did you mean 'relu4_2'?)"
    assert errors.did_you_mean("zzz", ["relu4_2"]) == ""
