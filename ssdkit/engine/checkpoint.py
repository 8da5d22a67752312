"""Checkpoints through mmengine, made safe: atomic writes and ``weights_only=True`` loads."""

from __future__ import annotations

import os.path as osp
import pickle
import re
import warnings
from pathlib import Path

import mmengine.runner.checkpoint as mm_ckpt
import mmengine.runner.runner as mm_runner
import torch
from mmengine.config import Config

from ssdkit.utils.atomic import atomic_torch_save

from .checks import ConfigError
from .safe_load import allow_mmengine_checkpoints

_original_save = mm_ckpt.save_checkpoint
_installed = False


def atomic_save_checkpoint(checkpoint, filename, file_client_args=None, backend_args=None) -> None:
    """mmengine's ``save_checkpoint`` with local files written to a temporary file and renamed, so a
    kill during the save leaves the previous file whole. Remote URIs go to mmengine unchanged."""
    if "://" in str(filename):
        return _original_save(checkpoint, filename, file_client_args=file_client_args, backend_args=backend_args)
    atomic_torch_save(checkpoint, filename)


def safe_load_from_local(filename: str, map_location=None):
    """Local checkpoints load with ``weights_only=True``; anything beyond tensors, containers and the
    allow-listed mmengine types is refused naming the file."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"checkpoint '{filename}' does not exist")
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        detail = next((line for line in str(err).splitlines() if "GLOBAL" in line or "not allowed" in line), str(err))
        raise pickle.UnpicklingError(
            f"refusing to load checkpoint '{filename}': it holds objects outside the allow-list of tensors, "
            f"containers and mmengine's logging types ({detail.strip()}). Only load checkpoints you trust; "
            f"convert foreign weights with tools/convert_torchvision.py"
        ) from None


class CheckpointError(ConfigError):
    """A checkpoint file that cannot be read, or holds weights of another model: one line naming the file."""


#: how a torch checkpoint file starts: a zip archive (torch >= 1.6), or a pickle (the legacy format)
_MAGIC = (b"PK\x03\x04", b"\x80")


def read_checkpoint(filename: str) -> dict:
    """The checkpoint dict in ``filename``, loaded with ``weights_only=True`` (memory-mapped when it is a zip); an
    empty, truncated or foreign file, or one that holds no dict, raises :class:`CheckpointError` naming it."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointError(f"checkpoint '{filename}' does not exist")
    size = osp.getsize(filename)
    with open(filename, "rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointError(f"checkpoint '{filename}' is empty (0 bytes)")
    if not head.startswith(_MAGIC):
        raise CheckpointError(
            f"checkpoint '{filename}' is not a torch checkpoint: it starts with {head!r}, not a zip archive's "
            f"b'PK\\x03\\x04' nor a pickle's b'\\x80'"
        )
    allow_mmengine_checkpoints()
    try:
        ckpt = torch.load(filename, map_location="cpu", weights_only=True, mmap=head.startswith(_MAGIC[0]))
    except pickle.UnpicklingError as err:
        first = next((line for line in str(err).splitlines() if line.strip()), "")
        if "GLOBAL" in str(err) or "not allowed" in str(err) or "Unsupported" in str(err):
            raise CheckpointError(
                f"refusing to load checkpoint '{filename}': it holds objects outside the allow-list of tensors, "
                f"containers and mmengine's logging types ({first.strip()})"
            ) from None
        raise CheckpointError(f"checkpoint '{filename}' ({size} bytes) is damaged or truncated: {first}") from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        first = next((line for line in str(err).splitlines() if line.strip()), type(err).__name__).split(". ")[0]
        raise CheckpointError(f"checkpoint '{filename}' ({size} bytes) is damaged or truncated: {first}") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(
            f"checkpoint '{filename}' holds a {type(ckpt).__name__}, not a dict with 'state_dict' nor a state dict"
        )
    return ckpt


def checkpoint_state_dict(ckpt: dict, filename: str) -> dict[str, torch.Tensor]:
    """The weights of a checkpoint dict: its ``state_dict``, or the dict itself when it holds only tensors, with
    ``module.`` prefixes (a DDP-wrapped model's) removed; anything else raises :class:`CheckpointError`."""
    state = ckpt.get("state_dict", ckpt)
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        keys = ", ".join(map(str, list(ckpt)[:6]))
        raise CheckpointError(
            f"checkpoint '{filename}' has no state dict: neither a 'state_dict' entry of tensors nor a dict of "
            f"tensors (its keys: {keys or 'none'})"
        )
    return {re.sub(r"^module\.", "", k): v for k, v in state.items()}


def check_checkpoint(filename: str, model: torch.nn.Module | None = None) -> dict:
    """Read ``filename`` (:func:`read_checkpoint`) and, given ``model``, check that its weights are this model's:
    the same keys (a missing ``num_batches_tracked`` aside) and shapes. Returns the checkpoint dict; a mismatch
    raises :class:`CheckpointError` naming the file, the counts and the first keys at fault."""
    ckpt = read_checkpoint(filename)
    state = checkpoint_state_dict(ckpt, filename)
    if model is None:
        return ckpt
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    faults = [
        f"{len(found)} {what} ({', '.join(found[:3])}{', ...' if len(found) > 3 else ''})"
        for what, found in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes))
        if found
    ]
    if faults:
        raise CheckpointError(
            f"checkpoint '{filename}' holds the weights of another model than the config's "
            f"{type(model).__name__}: {'; '.join(faults)}"
        )
    return ckpt


_NUMBERED = re.compile(r"(?:iter|epoch)_(\d+)\.pth")


def latest_checkpoint(work_dir: str) -> str | None:
    """The checkpoint ``--resume`` continues from: the file ``work_dir/last_checkpoint`` names if it exists,
    else the highest-numbered ``iter_N.pth`` / ``epoch_N.pth`` in ``work_dir`` (None if there is none).

    mmengine writes ``last_checkpoint`` in place after each save, so a kill at that moment leaves it
    empty; the checkpoints themselves are written atomically, so any numbered one present is whole.
    """
    pointer = Path(work_dir) / "last_checkpoint"
    named = pointer.read_text().strip() if pointer.is_file() else ""
    if named and osp.isfile(named):
        return named
    numbered = [(int(m.group(1)), str(f)) for f in Path(work_dir).glob("*.pth") if (m := _NUMBERED.fullmatch(f.name))]
    return max(numbered)[1] if numbered else None


def install_safe_checkpoints() -> None:
    """Allow-list mmengine's types, load local files with ``weights_only=True``, save atomically, and
    resume from the newest whole checkpoint when ``last_checkpoint`` is empty or stale."""
    global _installed
    if _installed:
        return
    allow_mmengine_checkpoints()
    mm_ckpt.CheckpointLoader.register_scheme(prefixes="", loader=safe_load_from_local, force=True)
    mm_runner.save_checkpoint = atomic_save_checkpoint
    mm_runner.find_latest_checkpoint = latest_checkpoint
    _installed = True


def trained_prior_generator(checkpoint: str) -> dict | None:
    """The ``model.prior_generator`` of the config a checkpoint was trained with (mmengine keeps the run's config
    in ``meta['cfg']``); ``None`` for a checkpoint without one."""
    meta = read_checkpoint(checkpoint).get("meta") or {}
    text = meta.get("cfg") if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    model = Config.fromstring(text, ".py").get("model") or {}
    return _plain(model.get("prior_generator"))


def _plain(value):
    """A config value as plain dicts and lists (tuples and ConfigDicts compare equal to their written form)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def adopt_trained_priors(cfg: Config, checkpoint: str) -> bool:
    """Give ``cfg`` the prior generator ``checkpoint`` was trained with when the two differ (priors fitted before
    training, ``auto_priors``), so evaluation, inference and export use the priors the weights learned. Returns
    whether ``cfg`` changed; a warning names both."""
    trained = trained_prior_generator(checkpoint)
    stated = _plain(cfg.get("model", {}).get("prior_generator"))
    if trained is None or stated is None or trained == stated:
        return False
    warnings.warn(
        f"'{checkpoint}' was trained with model.prior_generator={trained}, not the config's {stated}: using the "
        f"checkpoint's (priors fitted before training)",
        stacklevel=2,
    )
    cfg.model.prior_generator = trained
    return True
