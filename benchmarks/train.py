"""Benchmark of training and inference throughput (slices/s) of the slice CNN.

    .venv/bin/python benchmarks/train.py [--quick] [--arch sres|seqfusion] [--device auto|cpu]

Ours: one epoch of ``dlscore.train.train_model`` (seeded shuffling, augmentation, host to
device copies, class-balanced loss, Adam; on CUDA mixed precision and channels-last) on
synthetic 64 x 64 x 3 slices, minus the end-of-epoch validation and BatchNorm passes, which
are timed separately as inference; and ``predict_slices`` for inference (host arrays in,
probabilities out). Upper bound measured in the same run: the same model, optimiser and batch
size on synthetic tensors already on the device (no augmentation, no copies, no data
indexing). Ratio = ours / bound; target on a GPU >= 70 %.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from dlscore.models import build_model  # noqa: E402
from dlscore.train import SliceData, pick_device, predict_slices, train_model  # noqa: E402


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def bound_train(spec: dict, n: int, dev: torch.device, steps: int) -> float:
    """Slices/s of forward + backward + Adam step on device-resident synthetic batches."""
    bs = int(spec["batch_size"])
    model = build_model(spec, 3).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(bs, 3, 64, 64, device=dev)
    y = (torch.rand(bs, device=dev) > 0.5).float()
    amp = dev.type == "cuda"
    if amp:
        x = x.to(memory_format=torch.channels_last)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for i in range(steps + 3):
        if i == 3:  # warm-up done
            _sync(dev)
            t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    _sync(dev)
    return steps * bs / (time.perf_counter() - t)


@torch.no_grad()
def bound_infer(spec: dict, dev: torch.device, steps: int, bs: int = 256) -> float:
    model = build_model(spec, 3).to(dev).eval()
    x = torch.randn(bs, 3, 64, 64, device=dev)
    for i in range(steps + 3):
        if i == 3:
            _sync(dev)
            t = time.perf_counter()
        torch.sigmoid(model.head(model.features(x)))
    _sync(dev)
    return steps * bs / (time.perf_counter() - t)


def ours(spec: dict, n: int, dev: torch.device, threads: int) -> tuple[float, float]:
    """(training slices/s, inference slices/s) of the library's own code."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3, 64, 64)).astype(np.float32)
    y = (rng.random(n) > 0.5).astype(np.int64)
    pid = np.repeat(np.arange(n // 8), 8)[:n].astype(str)
    data = SliceData(x, y, pid)
    val = SliceData(x[:256], y[:256], pid[:256])
    # one epoch = training + validation (256 slices) + BatchNorm pass over the n slices;
    # the last two are inference passes, timed below and subtracted
    t = time.perf_counter()
    train_model(data, val, {**spec, "epochs": 1, "patience": 1}, seed=1, device=dev.type, threads=threads,
                progress=False)
    _sync(dev)
    epoch = time.perf_counter() - t
    model = build_model(spec, 3).to(dev)
    predict_slices(model, x[:512], dev)  # warm-up
    _sync(dev)
    t = time.perf_counter()
    predict_slices(model, x, dev)
    _sync(dev)
    infer = time.perf_counter() - t
    overhead = infer * (256 + n) / n  # validation + BatchNorm passes (BN pass ~ an inference pass)
    return n / max(epoch - overhead, 1e-9), n / infer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--arch", default="sres", choices=["sres", "seqfusion"])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu"])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    dev = pick_device(args.device)
    spec = {"arch": args.arch, "batch_size": 64, "augment": True, "lr": 1e-3}
    if args.arch == "seqfusion":
        spec.update(depth=18, width=32)
    n = (1024 if args.quick else 4096) * (8 if dev.type == "cuda" else 1)
    steps = max(n // spec["batch_size"], 8)
    name = torch.cuda.get_device_name() if dev.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {args.threads} threads)"
    torch.set_num_threads(args.threads)
    tr, inf = ours(spec, n, dev, args.threads)
    btr, binf = bound_train(spec, n, dev, steps), bound_infer(spec, dev, max(n // 256, 4))
    print(f"device: {name}; torch {torch.__version__}; arch {args.arch}; {n} slices of 3 x 64 x 64; batch 64\n")
    print("| | ours (slices/s) | pure-model bound (slices/s) | ours / bound |")
    print("|---|---:|---:|---:|")
    print(f"| training | {tr:,.0f} | {btr:,.0f} | {tr / btr:.0%} |")
    print(f"| inference | {inf:,.0f} | {binf:,.0f} | {inf / binf:.0%} |")


if __name__ == "__main__":
    main()
