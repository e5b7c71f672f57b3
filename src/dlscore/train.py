"""Slice-level training with patient-level early stopping; seeded and resumable.

Every slice carries its patient's label. Each epoch: shuffled mini-batches (seeded per
epoch), random flips / 90-degree rotations if ``augment``, class-balanced BCE. After each
epoch the validation split is scored (slice BCE, and patient AUC of the mean slice
probability); the weights with the lowest validation loss are kept and training stops after
``patience`` epochs without improvement. A checkpoint is written every epoch; if one exists
when training starts, training resumes from it (same result as an uninterrupted run).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from dlscore.models import build_model, safe_load

log = logging.getLogger(__name__)


@dataclass
class SliceData:
    """Slices of many patients: x (N, C, H, W) float32, y (N,) 0/1, patient (N,) ids."""

    x: np.ndarray
    y: np.ndarray
    patient: np.ndarray

    def __post_init__(self):
        if not (len(self.x) == len(self.y) == len(self.patient)):
            raise ValueError("x, y and patient must have the same length")


def set_determinism(seed: int, threads: int | None = None) -> None:
    """Seed torch/numpy and ask torch for deterministic kernels."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads:
        torch.set_num_threads(int(threads))


#: environment variables through which a scheduler hands a job its GPUs
GPU_VARIABLES = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES")


def pick_device(prefer: str = "auto", environ: Mapping[str, str] | None = None) -> torch.device:
    """CUDA when torch sees a GPU, else the CPU (``prefer="cpu"`` forces the CPU). A job
    that was given a GPU (:data:`GPU_VARIABLES`) but runs a torch that cannot use it stops
    here instead of training silently on the CPU."""
    if prefer == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    env = os.environ if environ is None else environ
    given = {k: env[k] for k in GPU_VARIABLES if env.get(k, "").strip() not in ("", "-1", "NoDevFiles")}
    if given:
        build = f"torch {torch.__version__} ({'CUDA ' + torch.version.cuda if torch.version.cuda else 'CPU-only build'})"
        raise RuntimeError(f"this job was given a GPU ({', '.join(f'{k}={v}' for k, v in given.items())}) but {build} "
                           "cannot use it. Fix: run with compute.torch: cuda (envs/dl_cuda.yaml) or install the CUDA "
                           "build of torch in the venv (make install TORCH=cuda); or set device: cpu to train on the "
                           "CPU deliberately")
    return torch.device("cpu")


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal/vertical flips and 90-degree rotations, one draw per sample.

    x: (N, C, H, W) with H == W. Each sample i gets a horizontal flip if ``draws[i, 0]``, a
    vertical flip if ``draws[i, 1]``, then ``rots[i]`` quarter turns; the samples that drew
    the same of the 16 combinations are transformed together (no per-sample loop)."""
    n = x.shape[0]
    draws = torch.randint(0, 2, (n, 2), generator=gen)
    rots = torch.randint(0, 4, (n,), generator=gen)
    code = draws[:, 0] * 8 + draws[:, 1] * 4 + rots
    out = torch.empty_like(x)
    for c in torch.unique(code).tolist():
        idx = (code == c).nonzero(as_tuple=True)[0]
        xi = x[idx]
        if c & 8:
            xi = xi.flip(-1)
        if c & 4:
            xi = xi.flip(-2)
        out[idx] = torch.rot90(xi, c & 3, dims=(-2, -1))
    return out


def jitter_intensity(x: torch.Tensor, strength: float, channels: Sequence[int], gen: torch.Generator) -> torch.Tensor:
    """Random contrast, brightness and gamma of the image channels, one draw per sample and channel.

    x: (N, C, H, W) in [0, 1] (the normalised slices). For each sample and each channel index in
    ``channels`` (the image intensities; mask-derived channels are left alone), with s =
    ``strength`` and u ~ U(-1, 1) drawn three times: contrast about the slice-channel mean by
    exp(s u1), a shift of s u2 / 2, clipping to [0, 1], then gamma exp(s u3). This mimics the
    scanner- and site-dependent contrast that a z-score does not remove. ``strength`` 0 returns
    ``x`` unchanged."""
    if strength <= 0 or not len(channels):
        return x
    idx = torch.as_tensor(list(channels), dtype=torch.long)
    u = torch.rand((x.shape[0], len(idx), 3), generator=gen) * 2 - 1
    c, b, g = (u[..., k, None, None] * strength for k in range(3))
    img = x[:, idx]
    mean = img.mean(dim=(-2, -1), keepdim=True)
    img = ((img - mean) * torch.exp(c) + mean + b / 2).clamp(0.0, 1.0) ** torch.exp(g)
    out = x.clone()
    out[:, idx] = img
    return out


@torch.no_grad()
def predict_slices(model: nn.Module, x: np.ndarray, device: torch.device, batch: int = 256,
                   with_features: bool = False):
    """Slice probabilities (N,) and optionally deep features (N, F)."""
    model.eval()
    probs, feats = [], []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(x[i:i + batch]).to(device)
        f = model.features(xb)
        probs.append(torch.sigmoid(model.head(f).squeeze(1)).float().cpu().numpy())
        if with_features:
            feats.append(f.float().cpu().numpy())
    p = np.concatenate(probs) if probs else np.zeros(0, np.float32)
    if with_features:
        return p, (np.concatenate(feats) if feats else np.zeros((0, 0), np.float32))
    return p


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: np.ndarray, device: torch.device, batch: int = 256) -> None:
    """Re-estimate BatchNorm running statistics as exact averages over ``x`` (N, C, H, W).

    With few optimisation steps per epoch (small cohorts), the exponential running
    averages lag behind the weights and make evaluation-mode outputs unstable; this
    "precise BN" pass fixes them. Deterministic; weights are untouched.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(x[i:i + batch]).to(device)
        if len(xb) > 1:
            model(xb)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def patient_mean(values: np.ndarray, patient: np.ndarray) -> pd.Series:
    """Mean of slice values per patient (equal slice weights), index = patient id."""
    return pd.Series(values).groupby(pd.Series(patient)).mean()


def _val_metrics(model, val: SliceData, device, loss_fn) -> tuple[float, float]:
    from dlscore.stats.roc import auc_delong
    p = predict_slices(model, val.x, device)
    pt = torch.from_numpy(np.clip(p, 1e-6, 1 - 1e-6))
    logits = torch.log(pt / (1 - pt))
    loss = float(loss_fn(logits, torch.from_numpy(val.y.astype(np.float32))))
    per_pat = patient_mean(p, val.patient)
    lab = pd.Series(val.y).groupby(pd.Series(val.patient)).first().loc[per_pat.index]
    try:
        auc = auc_delong(lab.values.astype(int), per_pat.values).auc
    except ValueError:
        auc = float("nan")
    return loss, auc


def _resume(ckpt: Path | None, dev, fingerprint: str) -> dict | None:
    """The state of an interrupted run in ``ckpt`` when it has this run's ``fingerprint``."""
    state = safe_load(ckpt, dev, "checkpoint") if ckpt is not None and ckpt.exists() else None
    if state is not None and state.get("fingerprint", "") != fingerprint:
        log.warning("checkpoint %s is from another config or data: not resumed", ckpt)
        state = None
    elif state is not None:
        log.warning("resumed from checkpoint %s after epoch %d", ckpt, state["epoch"] + 1)
    return state


def _save_checkpoint(ckpt: Path, state: dict) -> None:
    """Write ``state`` atomically (a kill mid-write leaves the previous checkpoint)."""
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    tmp = ckpt.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, ckpt)


@dataclass
class _Step:
    """What one optimisation step needs: model, optimiser, loss, device and precision."""

    model: nn.Module
    opt: torch.optim.Optimizer
    loss_fn: nn.Module
    dev: torch.device
    use_amp: bool
    amp_dtype: torch.dtype
    scaler: Any

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> float:
        xb, yb = xb.to(self.dev), yb.to(self.dev)
        if self.use_amp:
            xb = xb.to(memory_format=torch.channels_last)
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.dev.type, dtype=self.amp_dtype, enabled=self.use_amp):
            loss = self.loss_fn(self.model(xb), yb)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return float(loss.detach())


def mixup_batch(x: torch.Tensor, y: torch.Tensor, alpha: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al., ICLR 2018): each sample i becomes lam_i x_i + (1 - lam_i) x_j with
    j a seeded permutation of the batch and lam_i ~ Beta(alpha, alpha); the targets mix alike.

    x: (N, C, H, W); y: (N,) in [0, 1]. Returns the mixed (x, y), same shapes."""
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    # Beta(a, a) from a numpy generator seeded by ``gen`` (torch's Beta distribution takes no generator)
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    lam = torch.from_numpy(rng.beta(alpha, alpha, n).astype(np.float32))
    return (lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[perm],
            lam * y + (1 - lam) * y[perm])


def scheduled_lr(spec: Mapping[str, Any], epoch: int) -> float:
    """Learning rate of ``epoch`` (0-based): ``lr`` throughout (``lr_schedule: constant``), or
    cosine-annealed from ``lr`` to 0 over ``epochs`` (``cosine``). A function of the epoch
    only, so a resumed run continues the same schedule."""
    lr, kind = float(spec.get("lr", 1e-3)), spec.get("lr_schedule", "constant")
    if kind == "constant":
        return lr
    if kind == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * epoch / int(spec.get("epochs", 40))))
    raise ValueError(f"unknown lr_schedule {kind!r} (use constant or cosine)")


def _epoch(step: _Step, xt: torch.Tensor, yt: torch.Tensor, spec: Mapping[str, Any], seed: int, epoch: int,
           progress_desc: str | None, intensity_channels: Sequence[int] | None = None) -> float:
    """One pass over the training slices in a seeded order (batches of ``spec.batch_size``,
    optional flips/rotations, intensity jitter of ``intensity_channels`` (None: all) and
    mixup); the mean training loss."""
    gen = torch.Generator().manual_seed(int(seed) * 1000 + epoch)
    torch.manual_seed(int(seed) * 1000 + epoch)
    for group in step.opt.param_groups:
        group["lr"] = scheduled_lr(spec, epoch)
    bs, mixup = int(spec.get("batch_size", 64)), float(spec.get("mixup", 0.0))
    jitter = float(spec.get("intensity_augment", 0.0))
    chans = range(xt.shape[1]) if intensity_channels is None else intensity_channels
    order = torch.randperm(len(yt), generator=gen)
    step.model.train()
    total, count = 0.0, 0
    batches = range(0, len(order), bs)
    if progress_desc is not None:
        try:
            from tqdm import tqdm
            batches = tqdm(batches, desc=progress_desc, leave=False)
        except ImportError:  # pragma: no cover
            pass
    for i in batches:
        idx = order[i:i + bs]
        if len(idx) < 2:
            continue  # BatchNorm needs >1 sample
        xb, yb = xt[idx], yt[idx]
        if spec.get("augment", True):
            xb = augment_batch(xb, gen)
        if jitter > 0:
            xb = jitter_intensity(xb, jitter, chans, gen)
        if mixup > 0:
            xb, yb = mixup_batch(xb, yb, mixup, gen)
        total += step(xb, yb) * len(idx)
        count += len(idx)
    return total / max(count, 1)


class SmoothedBCE(nn.Module):
    """``loss`` (a BCE-with-logits) on targets pulled towards 0.5: y (1 - eps) + eps / 2
    (label smoothing, ``models.<m>.label_smoothing``)."""

    def __init__(self, eps: float, loss: nn.Module):
        super().__init__()
        self.eps, self.loss = eps, loss

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss(logits, y * (1 - self.eps) + 0.5 * self.eps)


def _make_step(model: nn.Module, opt: torch.optim.Optimizer, y: np.ndarray, spec: Mapping[str, Any],
               dev: torch.device) -> _Step:
    """Class-balanced BCE (positives weighted by negatives / positives of ``y``, optional label
    smoothing); on CUDA mixed precision (bfloat16 where the GPU has it: no loss scaling needed;
    else float16 with a gradient scaler) and channels-last memory layout."""
    n_pos = float(y.sum())
    pos_weight = torch.tensor((len(y) - n_pos) / max(n_pos, 1.0), device=dev)
    use_amp = dev.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    if use_amp:
        model = model.to(memory_format=torch.channels_last)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    if float(spec.get("label_smoothing", 0.0)) > 0:
        loss_fn = SmoothedBCE(float(spec["label_smoothing"]), loss_fn)
    return _Step(model, opt, loss_fn, dev, use_amp, amp_dtype, scaler)


def train_model(train: SliceData, val: SliceData, spec: Mapping[str, Any], seed: int,
                checkpoint: str | Path | None = None, device: str = "auto", threads: int | None = None,
                progress: bool = True, fingerprint: str = "",
                intensity_channels: Sequence[int] | None = None) -> tuple[dict, pd.DataFrame]:
    """Train ``spec['arch']``; (best state_dict, per-epoch history). ``spec.intensity_augment``
    jitters the channels at ``intensity_channels`` (the images; None: all). A ``checkpoint``
    written by an interrupted run is resumed only when its ``fingerprint`` (the caller's digest
    of data, spec and seed) equals this run's; otherwise training starts afresh (a changed config
    must not continue from stale weights). Early stopping on the validation loss
    (``spec.patience`` epochs without improvement); with no validation slices (``val`` empty)
    all ``spec.epochs`` epochs run and the last epoch's weights are kept."""
    set_determinism(seed, threads)
    dev = pick_device(device)
    model = build_model(spec, train.x.shape[1]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=float(spec.get("lr", 1e-3)),
                           weight_decay=float(spec.get("weight_decay", 1e-4)))
    epochs, patience = int(spec.get("epochs", 40)), int(spec.get("patience", 8))
    history: list[dict] = []
    best_state, best_loss, start, stale = None, np.inf, 0, 0
    ckpt = Path(checkpoint) if checkpoint else None
    state = _resume(ckpt, dev, fingerprint)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        best_state, best_loss, stale = state["best_state"], state["best_loss"], state["stale"]
        history, start = state["history"], state["epoch"] + 1
    step = _make_step(model, opt, train.y, spec, dev)
    model = step.model
    xt, yt = torch.from_numpy(train.x), torch.from_numpy(train.y.astype(np.float32))
    log.info("training on %s: %d slices of %d patients, validation %d slices of %d patients, epochs %d-%d of %d",
             dev, len(train.y), len(set(train.patient)), len(val.y), len(set(val.patient)), start + 1, epochs, epochs)
    for epoch in range(start, epochs):
        if stale >= patience:
            log.info("early stop after epoch %d: no better validation loss in %d epochs", epoch, patience)
            break
        t0 = time.perf_counter()
        train_loss = _epoch(step, xt, yt, spec, seed, epoch,
                            f"epoch {epoch + 1}/{epochs}" if progress else None, intensity_channels)
        recalibrate_batchnorm(model, train.x, dev)
        if len(val.y):
            vloss, vauc = _val_metrics(model, val, dev, nn.BCEWithLogitsLoss())
            improved = vloss < best_loss - 1e-6
        else:  # no validation patients: a fixed number of epochs, the last one kept
            vloss, vauc, improved = float("nan"), float("nan"), True
        if improved:
            best_loss, stale = vloss, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        history.append({"epoch": epoch + 1, "lr": scheduled_lr(spec, epoch), "train_loss": train_loss, "val_loss": vloss,
                        "val_patient_auc": vauc, "best": improved})
        log.info("epoch %d/%d: train loss %.4f, validation loss %.4f, validation patient AUC %.3f, %.1f s%s",
                 epoch + 1, epochs, train_loss, vloss, vauc, time.perf_counter() - t0, " (best so far)" if improved else "")
        if ckpt is not None:
            _save_checkpoint(ckpt, {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                                    "best_state": best_state, "best_loss": float(best_loss), "stale": stale,
                                    "history": history, "fingerprint": fingerprint})
    if best_state is None:
        best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return best_state, pd.DataFrame(history)


def write_tensorboard(history: pd.DataFrame, log_dir: str | Path) -> bool:
    """Write the per-epoch history (train_loss, val_loss, val_patient_auc; one run per
    ensemble member) as TensorBoard scalars under ``log_dir`` when ``tensorboard`` is
    installed (``pip install '.[tensorboard]'``). Returns whether anything was written.
    The CSV history stays the record; these event files are for watching runs."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return False
    import shutil
    shutil.rmtree(log_dir, ignore_errors=True)  # a rerun replaces the event files, never mixes with them
    groups = history.groupby("member") if "member" in history else [(None, history)]
    for member, h in groups:
        sub = Path(log_dir) / (f"member{int(member)}" if member is not None else "")
        with SummaryWriter(log_dir=str(sub)) as w:
            for _, row in h.iterrows():
                for key in ("train_loss", "val_loss", "val_patient_auc"):
                    if pd.notna(row[key]):
                        w.add_scalar(key, float(row[key]), int(row["epoch"]))
    return True
