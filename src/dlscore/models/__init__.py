"""Network architectures. ``build_model`` maps a config entry to a module."""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from dlscore.models.ensemble import EnsembleMean
from dlscore.models.seqfusion import SequenceFusion
from dlscore.models.sres import SResCNN


def build_model(spec: Mapping[str, Any], in_channels: int) -> nn.Module:
    """Instantiate the architecture named by ``spec['arch']``."""
    arch = spec.get("arch", "sres")
    if arch == "sres":
        return SResCNN(in_channels, widths=tuple(spec.get("widths", (16, 32, 64, 128))),
                       n_features=int(spec.get("n_features", 256)), dropout=float(spec.get("dropout", 0.3)))
    if arch == "seqfusion":
        return SequenceFusion(in_channels, depth=int(spec.get("depth", 101)), width=int(spec.get("width", 64)),
                              d_model=int(spec.get("n_features", 256)), heads=int(spec.get("heads", 4)),
                              layers=int(spec.get("layers", 1)), dropout=float(spec.get("dropout", 0.1)))
    raise ValueError(f"unknown architecture {arch!r} (available: sres, seqfusion)")


def load_trained(checkpoint: Mapping[str, Any], in_channels: int) -> nn.Module:
    """The network saved by the ``train`` stage (``weights.pt`` contents): one model, or an
    :class:`EnsembleMean` when it holds ``member_state_dicts`` (``models.<name>.ensemble`` > 1)."""
    states = checkpoint.get("member_state_dicts") or [checkpoint["state_dict"]]
    members = []
    for state in states:
        m = build_model(checkpoint["spec"], in_channels)
        m.load_state_dict(state)
        members.append(m)
    return members[0] if len(members) == 1 else EnsembleMean(members)


def safe_load(path, device="cpu", what: str = "weights") -> dict:
    """Read a ``torch.save`` file of tensors, numbers, strings, lists and dicts only
    (``weights_only=True``: unpickling cannot run code). A file that needs anything else
    (a crafted or foreign pickle, a whole pickled model) is refused with
    :class:`~dlscore.errors.InputError`; so is a file that is not a torch file at all."""
    import pickle

    import torch

    from dlscore.errors import InputError
    try:
        data = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else "unsupported content"
        raise InputError(f"{what} file holds Python objects beyond tensors and plain values, which are never "
                         f"unpickled (loading them could run code): {first}",
                         "give weights saved by this workflow's train step (a state dict with plain metadata), or "
                         "re-save yours as such", where=str(path)) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise InputError(f"{what} file cannot be read as a torch file ({str(err).splitlines()[0][:160]})",
                         "give the weights.pt written by this workflow's train step", where=str(path)) from None
    if not isinstance(data, dict):
        raise InputError(f"{what} file holds a {type(data).__name__}, not a dict of weights and metadata",
                         "give the weights.pt written by this workflow's train step", where=str(path))
    return data


def read_weights(path, device="cpu") -> dict:
    """The contents of a ``weights.pt`` written by the train step (``state_dict`` or
    ``member_state_dicts``, ``spec``, ``channels``, ``slice_channels``), read safely
    (:func:`safe_load`); missing keys are an :class:`~dlscore.errors.InputError`."""
    from dlscore.errors import InputError
    data = safe_load(path, device)
    missing = [k for k in ("spec", "channels") if k not in data]
    if "state_dict" not in data and "member_state_dicts" not in data:
        missing.append("state_dict")
    if missing:
        raise InputError(f"weights file lacks {', '.join(missing)}",
                         "give the weights.pt written by this workflow's train step", where=str(path))
    return data


__all__ = ["EnsembleMean", "SResCNN", "SequenceFusion", "build_model", "load_trained", "read_weights", "safe_load"]
