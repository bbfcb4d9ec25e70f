"""Rebuild a runnable model from a checkpoint: from its own config (``infossl train`` files), a model factory
(``package.module:callable``), or the module a TorchScript / trusted file carries."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from typing import Any, Callable, Optional, Union

from torch import nn

from infossl._backend import PathLike
from infossl.io.safe_load import Checkpoint, read_training_checkpoint
from infossl.io.train_format import check_checkpoint
from infossl.io.weights import load_weights
from infossl.models.architectures import SSLModel, build_model



def load_factory(spec: Union[str, Callable[..., Any]]) -> Callable[..., Any]:
    """The callable that builds the model a checkpoint's weights belong to.

    * ``"package.module:callable"`` (the callable may be dotted, ``module:Class.build``): **importing the
      module executes its code**, so name only modules you trust (your own model code);
    * ``"timm:NAME"`` -- ``timm.create_model(NAME, pretrained=False)`` (timm must be installed; nothing is
      downloaded: the weights come from the checkpoint);
    * ``"hf:DIRECTORY"`` -- ``transformers.AutoModel.from_pretrained(DIRECTORY, local_files_only=True)``, a
      Hugging Face model saved on disk (transformers must be installed; nothing is downloaded);
    * ``"path/to/file.py:callable"`` -- the file is imported (its folder first on ``sys.path`` while it
      imports, so its own sibling modules are found); same caveat;
    * a callable is returned as it is.

    A module is looked up on ``sys.path`` and then in the working directory, so ``infossl`` and ``python -m
    infossl`` find the same modules.

    Returns
    -------
    callable
        Called with no arguments, it returns the ``nn.Module`` the weights are loaded into.
    """
    if isinstance(spec, str) and spec.startswith("timm:"):
        return _timm_factory(spec[len("timm:"):])
    if isinstance(spec, str) and spec.startswith("hf:"):
        return _hf_factory(spec[len("hf:"):])
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"model must be 'package.module:factory' or a callable, got {spec!r}")
    module_name, sep, attr = spec.rpartition(":")  # the right-most colon: a Windows path has one too
    if not sep or not module_name or not attr or not all(p.isidentifier() for p in attr.split(".")):
        raise ValueError(f"model must be written 'package.module:factory' or 'path/to/file.py:factory', "
                         f"got {spec!r}")
    module = _import_model_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(
                f"model={spec!r}: {obj.__name__ if hasattr(obj, '__name__') else obj!r} has no "
                f"attribute {part!r}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"model={spec!r} names a {type(obj).__name__}, which is not callable")
    return obj


def _import_model_module(name: str) -> Any:
    """Import the module of a factory spec: a file path (``.py`` or with a path separator) from its file, a
    dotted name from ``sys.path`` and then from the working directory (``python -m`` puts the working
    directory on ``sys.path``, the ``infossl`` console script does not)."""
    if name.endswith(".py") or "/" in name or os.sep in name:
        return _import_file(name)
    if not all(p.isidentifier() for p in name.split(".")):
        raise ValueError(f"model: {name!r} is neither a dotted module name nor a path to a .py file")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        top = name.split(".")[0]
        cwd = os.getcwd()
        if exc.name != top or cwd in (os.path.abspath(p or ".") for p in sys.path):
            raise
        if not (os.path.isfile(os.path.join(cwd, top + ".py")) or os.path.isdir(os.path.join(cwd, top))):
            raise
    sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(cwd)


def _import_file(path: str) -> Any:
    """Import the Python file ``path`` as a module named after its stem, its folder first on ``sys.path``
    while it executes (a sibling ``import helpers`` works; a relative import does not: a file has no
    package)."""
    import importlib.util

    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(full):
        raise ValueError(f"model: no file {path!r} (from {os.getcwd()})")
    stem = os.path.splitext(os.path.basename(full))[0]
    if not stem.isidentifier():
        raise ValueError(f"model: {path!r}: the file name must be a Python identifier to import it")
    # never shadows an installed module of that name; a digest (not hash(), salted per process) keeps the
    # name the same in every process, so objects pickled from this module can be found again
    unique = f"infossl_model_{stem}_{hashlib.sha1(full.encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(unique, full)
    if spec is None or spec.loader is None:
        raise ValueError(f"model: cannot import {path!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(full)
    sys.path.insert(0, folder)
    sys.modules[unique] = module  # dataclasses and pickling look a class's module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique, None)
        raise
    finally:
        sys.path.remove(folder)
    return module


def _timm_factory(name: str) -> Callable[[], nn.Module]:
    if not name:
        raise ValueError("model='timm:' needs a model name, e.g. 'timm:resnet18'")
    try:
        import timm
    except ImportError:
        raise ImportError(f"model='timm:{name}' needs the optional timm package: pip install timm") from None
    if name not in timm.list_models():
        raise ValueError(f"model='timm:{name}': timm has no model {name!r}")
    return lambda: timm.create_model(name, pretrained=False)


def _hf_factory(directory: str) -> Callable[[], nn.Module]:
    d = os.path.expanduser(directory)
    if not d or not os.path.isdir(d):
        raise ValueError(f"model='hf:{directory}': not a directory (a Hugging Face model saved with "
                         "save_pretrained is a folder with config.json)")
    if not os.path.isfile(os.path.join(d, "config.json")):
        raise ValueError(f"model='hf:{directory}': the folder has no config.json")
    try:
        from transformers import AutoModel
    except ImportError:
        raise ImportError(f"model='hf:{directory}' needs the optional transformers package: "
                          "pip install transformers") from None
    return lambda: AutoModel.from_pretrained(d, local_files_only=True)


def model_from_checkpoint(obj_or_path: Union[dict, PathLike]) -> tuple[SSLModel, dict]:
    """Rebuild the trained model (in eval mode, on the CPU) and return it with its training config.

    Parameters
    ----------
    obj_or_path : dict or path
        A checkpoint dict, or a ``.pt`` / ``.safetensors`` file written by ``infossl train``.

    Returns
    -------
    model : SSLModel
        ``model.backbone`` gives the representation, ``model(x)`` the projector output.
    config : dict
        The training configuration; ``config["model"]`` is the model description.

    Examples
    --------
    >>> from infossl.io.train_format import checkpoint_dict
    >>> spec = {"backbone": "mlp", "input_shape": [5], "widths": "8", "projector": "4"}
    >>> ck = checkpoint_dict(build_model(spec), config={"model": spec}, epoch=0, step=0)
    >>> model, config = model_from_checkpoint(ck)
    >>> model.training, config["model"]["widths"]
    (False, '8')
    """
    if isinstance(obj_or_path, dict):
        obj = obj_or_path
        check_checkpoint(obj)
    else:
        obj = read_training_checkpoint(obj_or_path)
    config = obj["config"]
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ValueError("the checkpoint config has no 'model' description")
    model = build_model(config["model"])
    model.load_state_dict(obj["state_dict"])
    model.eval()
    return model, config


def model_for_checkpoint(ck: Checkpoint, factory: Optional[Callable[..., Any]] = None) -> nn.Module:
    """The runnable model of a loaded checkpoint (eval mode).

    TorchScript and trusted pickled modules are used as they are; an ``infossl train`` checkpoint is rebuilt
    from its config (or, with ``factory``, loaded into the factory's model); a plain state dict needs
    ``factory``. Weight mismatches raise :class:`ValueError` listing the keys.

    Returns
    -------
    torch.nn.Module
        The model, in eval mode.
    """
    if ck.module is not None:
        return ck.module.eval()
    if factory is None:
        if ck.kind == "infossl":
            try:
                model, _ = model_from_checkpoint(ck.raw)
            except RuntimeError as exc:  # load_state_dict mismatch
                raise ValueError(
                    f"{ck.path}: the weights do not match the model its config describes: "
                    f"{' '.join(str(exc).split())}"
                ) from None
            return model.eval()
        raise ValueError(
            f"{ck.path} holds only weights (a state dict of {len(ck.state_dict or {})} tensors); "
            "name the model "
            "they belong to with model='package.module:factory' (command line: --model)"
        )
    model = factory()
    if not isinstance(model, nn.Module):
        raise TypeError(f"the model factory returned a {type(model).__name__}, expected a torch.nn.Module")
    return load_weights(model, ck.state_dict or {}, source=str(ck.path), notes=ck.notes)


__all__ = ["load_factory", "model_for_checkpoint", "model_from_checkpoint"]
