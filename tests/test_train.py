import numpy as np
import pandas as pd
import pytest
import torch

from dlscore.models import build_model
from dlscore.train import (SliceData, augment_batch, jitter_intensity, mixup_batch, patient_mean, predict_slices, recalibrate_batchnorm,
                           scheduled_lr, train_model)

SPEC = {"arch": "sres", "widths": [4, 8, 8, 8], "n_features": 16, "epochs": 4, "batch_size": 16,
        "lr": 3e-3, "patience": 10, "augment": True}


def _data(n_pat=16, per=4, seed=0):
    rng = np.random.default_rng(seed)
    xs, ys, ps = [], [], []
    for i in range(n_pat):
        lab = i % 2
        x = rng.random((per, 3, 16, 16)).astype(np.float32) * 0.5
        x[:, :, 6:10, 6:10] += 0.5 * lab  # a bright centre means positive
        xs.append(x)
        ys.append(np.full(per, lab))
        ps.append(np.array([f"P{seed}-{i}"] * per, dtype=object))
    return SliceData(np.concatenate(xs), np.concatenate(ys), np.concatenate(ps))


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_training_is_deterministic_and_learns():
    tr, va = _data(seed=0), _data(seed=1)
    s1, h1 = train_model(tr, va, SPEC, seed=5, progress=False, device="cpu")
    s2, h2 = train_model(tr, va, SPEC, seed=5, progress=False, device="cpu")
    assert _same(s1, s2)
    assert h1.equals(h2)
    s3, _ = train_model(tr, va, SPEC, seed=6, progress=False, device="cpu")
    assert not _same(s1, s3)
    assert h1["val_patient_auc"].max() >= 0.9


def test_resume_after_interruption_equals_uninterrupted(tmp_path):
    tr, va = _data(seed=0), _data(seed=1)
    full, hist_full = train_model(tr, va, SPEC, seed=5, progress=False, device="cpu")
    ckpt = tmp_path / "ckpt.pt"
    train_model(tr, va, {**SPEC, "epochs": 2}, seed=5, checkpoint=ckpt, progress=False, device="cpu")
    resumed, hist = train_model(tr, va, SPEC, seed=5, checkpoint=ckpt, progress=False, device="cpu")
    assert _same(full, resumed)
    assert len(hist) == 4 and hist.equals(hist_full)


def test_checkpoint_of_another_config_is_not_resumed(tmp_path):
    """A stale checkpoint (other data/spec/seed: other fingerprint) must not be continued."""
    tr, va = _data(seed=0), _data(seed=1)
    fresh, _ = train_model(tr, va, SPEC, seed=5, progress=False, device="cpu")
    ckpt = tmp_path / "ckpt.pt"
    train_model(tr, va, {**SPEC, "epochs": 2, "lr": 0.05}, seed=9, checkpoint=ckpt, progress=False, device="cpu",
                fingerprint="old config")
    again, hist = train_model(tr, va, SPEC, seed=5, checkpoint=ckpt, progress=False, device="cpu",
                              fingerprint="new config")
    assert _same(fresh, again) and len(hist) == 4
    assert torch.load(ckpt, weights_only=True)["fingerprint"] == "new config"


def test_patient_mean_weights_slices_equally():
    m = patient_mean(np.array([0.2, 0.4, 0.9]), np.array(["a", "a", "b"]))
    assert m["a"] == pytest.approx(0.3) and m["b"] == pytest.approx(0.9)


def test_sres_shapes_and_precise_bn():
    model = build_model({"arch": "sres"}, 3)
    x = torch.rand(5, 3, 64, 64)
    assert model(x).shape == (5,) and model.features(x).shape == (5, 256)
    recalibrate_batchnorm(model, x.numpy(), torch.device("cpu"))
    assert not model.training
    p = predict_slices(model, x.numpy(), torch.device("cpu"))
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()


def test_augmentation_applies_each_samples_own_draw():
    x = torch.arange(40 * 2 * 5 * 5, dtype=torch.float32).reshape(40, 2, 5, 5)
    out = augment_batch(x, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)  # the same draws, applied one sample at a time
    draws = torch.randint(0, 2, (40, 2), generator=gen)
    rots = torch.randint(0, 4, (40,), generator=gen)
    for i in range(40):
        xi = x[i]
        if draws[i, 0]:
            xi = xi.flip(-1)
        if draws[i, 1]:
            xi = xi.flip(-2)
        assert torch.equal(out[i], torch.rot90(xi, int(rots[i]), dims=(-2, -1)))
    assert sum(not torch.equal(out[i], x[i]) for i in range(40)) > 20  # most samples were transformed
    assert torch.equal(x, torch.arange(40 * 2 * 5 * 5, dtype=torch.float32).reshape(40, 2, 5, 5))  # input untouched


def test_ensemble_scores_the_mean_member_probability_and_round_trips():
    from dlscore.models import EnsembleMean, load_trained
    torch.manual_seed(0)
    spec = {"arch": "sres", "widths": [4, 8, 8, 8], "n_features": 16}
    members = [build_model(spec, 3).eval() for _ in range(3)]
    ens = EnsembleMean(members).eval()
    x = _data(n_pat=4).x
    p_members = np.stack([predict_slices(m, x, torch.device("cpu")) for m in members])
    p, f = predict_slices(ens, x, torch.device("cpu"), with_features=True)
    np.testing.assert_allclose(p, p_members.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert f.shape == (len(x), 3 * 16)
    saved = {"spec": spec, "state_dict": members[0].state_dict(),
             "member_state_dicts": [m.state_dict() for m in members]}
    back = load_trained(saved, 3).eval()
    np.testing.assert_allclose(predict_slices(back, x, torch.device("cpu")), p, rtol=1e-6)
    single = load_trained({"spec": spec, "state_dict": members[1].state_dict()}, 3)
    assert not isinstance(single, EnsembleMean)


def test_history_goes_to_tensorboard_per_member(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (make installs the [tensorboard] extra)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from dlscore.train import write_tensorboard
    hist = pd.DataFrame({"epoch": [1, 2, 1, 2], "train_loss": [0.7, 0.5, 0.8, 0.6], "val_loss": [0.6, 0.55, 0.7, 0.65],
                         "val_patient_auc": [0.7, 0.8, 0.6, float("nan")], "member": [1, 1, 2, 2]})
    assert write_tensorboard(hist, tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb" / "member2")).Reload()
    assert [e.value for e in acc.Scalars("val_loss")] == pytest.approx([0.7, 0.65])
    assert [e.step for e in acc.Scalars("val_patient_auc")] == [1]  # NaN AUC is not written
    assert write_tensorboard(hist.iloc[:2], tmp_path / "tb") and not (tmp_path / "tb" / "member2").exists()  # replaced


def test_a_job_given_a_gpu_never_trains_silently_on_the_cpu():
    """SLURM hands the job a GPU but the env's torch cannot use it (a CPU build): stop and say
    so; without a GPU variable the CPU is the honest choice."""
    import torch

    from dlscore.train import pick_device
    if torch.cuda.is_available():
        pytest.skip("this machine has a usable GPU")
    with pytest.raises(RuntimeError, match="was given a GPU .*SLURM_JOB_GPUS=0.*compute.torch: cuda"):
        pick_device("auto", {"SLURM_JOB_GPUS": "0"})
    assert pick_device("auto", {"CUDA_VISIBLE_DEVICES": ""}).type == "cpu"
    assert pick_device("cpu", {"SLURM_JOB_GPUS": "0"}).type == "cpu"


def test_every_epoch_is_logged_with_its_losses_auc_and_time(caplog):
    """The job log shows progress: one line per epoch (what history.csv holds, plus seconds),
    and why training stopped early. Validation labels inverted: its loss rises as training
    learns, so patience 1 stops early."""
    import logging
    tr, va = _data(seed=0), _data(seed=1)
    va = SliceData(va.x, 1 - va.y, va.patient)
    with caplog.at_level(logging.INFO, logger="dlscore.train"):
        _, hist = train_model(tr, va, {**SPEC, "epochs": 6, "patience": 1}, seed=5, progress=False, device="cpu")
    lines = [r.getMessage() for r in caplog.records if r.name == "dlscore.train"]
    assert lines[0] == "training on cpu: 64 slices of 16 patients, validation 64 slices of 16 patients, epochs 1-6 of 6"
    epochs = [m for m in lines if m.startswith("epoch ")]
    assert 1 < len(hist) < 6 and len(epochs) == len(hist)
    for m, row in zip(epochs, hist.itertuples()):
        assert m.startswith(f"epoch {row.epoch}/6: train loss {row.train_loss:.4f}, validation loss {row.val_loss:.4f}, "
                            f"validation patient AUC {row.val_patient_auc:.3f}, ")
        assert m.endswith(" s (best so far)") == bool(row.best)
    assert lines[-1] == f"early stop after epoch {len(hist)}: no better validation loss in 1 epochs"


def test_mixup_mixes_each_sample_with_one_partner_and_its_target_alike():
    x = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 2, 3, 3).contiguous()
    y = torch.tensor([0.0, 1, 0, 1, 1, 0])
    xm, ym = mixup_batch(x, y, 0.4, torch.Generator().manual_seed(1))
    xm2, ym2 = mixup_batch(x, y, 0.4, torch.Generator().manual_seed(1))
    assert torch.equal(xm, xm2) and torch.equal(ym, ym2)  # seeded
    assert xm.shape == x.shape and ym.shape == y.shape
    assert bool(((ym >= 0) & (ym <= 1)).all())
    # every sample is constant (x_i and its partner are constants): lam_i x_i + (1 - lam_i) x_j
    v = xm[:, 0, 0, 0]
    assert bool((xm == v.view(-1, 1, 1, 1)).all())
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(1))
    lam = torch.where(perm != torch.arange(6), (v - x[perm, 0, 0, 0]) / (torch.arange(6) - perm), torch.ones(6))
    assert bool(((lam >= 0) & (lam <= 1)).all())
    both = perm != torch.arange(6)
    assert torch.allclose(ym[both], (lam * y + (1 - lam) * y[perm])[both])
    assert not torch.equal(xm, x)


def test_cosine_schedule_anneals_from_lr_to_zero_and_is_recorded_per_epoch():
    spec = {**SPEC, "lr": 0.01, "epochs": 4, "lr_schedule": "cosine"}
    lrs = [scheduled_lr(spec, e) for e in range(4)]
    assert lrs[0] == 0.01 and lrs[2] == pytest.approx(0.005) and lrs == sorted(lrs, reverse=True) and lrs[3] > 0
    assert scheduled_lr({**SPEC, "lr": 0.01}, 3) == 0.01  # constant by default
    with pytest.raises(ValueError, match="lr_schedule"):
        scheduled_lr({**SPEC, "lr_schedule": "step"}, 0)
    _, hist = train_model(_data(seed=0), _data(seed=1), spec, seed=5, progress=False, device="cpu")
    assert hist["lr"].tolist() == pytest.approx(lrs)


@pytest.mark.parametrize("option", [{"mixup": 0.4}, {"intensity_augment": 0.3}])
def test_random_training_options_are_deterministic_resumable_and_learn(tmp_path, option):
    tr, va = _data(seed=0), _data(seed=1)
    spec = {**SPEC, **option}
    s1, h1 = train_model(tr, va, spec, seed=5, progress=False, device="cpu")
    s2, _ = train_model(tr, va, spec, seed=5, progress=False, device="cpu")
    assert _same(s1, s2)
    plain, _ = train_model(tr, va, SPEC, seed=5, progress=False, device="cpu")
    assert not _same(s1, plain)  # the option changes what is learned
    ckpt = tmp_path / "ckpt.pt"
    train_model(tr, va, {**spec, "epochs": 2}, seed=5, checkpoint=ckpt, progress=False, device="cpu")
    resumed, _ = train_model(tr, va, spec, seed=5, checkpoint=ckpt, progress=False, device="cpu")
    assert _same(s1, resumed)
    assert h1["val_patient_auc"].max() >= 0.9


def test_without_validation_patients_all_epochs_run_and_the_last_is_kept():
    tr = _data(seed=0)
    none = SliceData(tr.x[:0], tr.y[:0], tr.patient[:0])
    spec = {**SPEC, "patience": 1}  # would stop early if a validation loss were watched
    state, hist = train_model(tr, none, spec, seed=5, progress=False, device="cpu")
    assert len(hist) == SPEC["epochs"] and hist["val_loss"].isna().all() and hist["best"].all()
    last, _ = train_model(tr, none, {**spec, "epochs": SPEC["epochs"]}, seed=5, progress=False, device="cpu")
    assert _same(state, last)
    shorter, _ = train_model(tr, none, {**spec, "epochs": SPEC["epochs"] - 1}, seed=5, progress=False, device="cpu")
    assert not _same(state, shorter)  # the last epoch's weights, not an earlier one's


def test_intensity_jitter_changes_image_channels_only_seeded_and_bounded():
    """Channels 0 and 2 are images, 1 is the mask: the mask comes back bit-identical, the
    images change per sample and channel within [0, 1], the same seed gives the same draw,
    and strength 0 is the identity."""
    from dlscore.slices import intensity_channel_indices
    chans = intensity_channel_indices(["flair", "mask", "t1post", "distance"])
    assert chans == [0, 2]
    x = torch.rand((6, 4, 8, 8), generator=torch.Generator().manual_seed(1))
    a = jitter_intensity(x, 0.4, chans, torch.Generator().manual_seed(7))
    b = jitter_intensity(x, 0.4, chans, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert torch.equal(a[:, [1, 3]], x[:, [1, 3]])
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    diff = (a - x).abs().mean(dim=(-2, -1))[:, chans]
    assert bool((diff > 1e-4).all()) and len(set(diff.flatten().round(decimals=5).tolist())) == diff.numel()
    assert jitter_intensity(x, 0.0, chans, torch.Generator()) is x
    # a uniform slice keeps its contrast (none to stretch); only brightness and gamma move it
    flat = torch.full((1, 1, 4, 4), 0.5)
    out = jitter_intensity(flat, 0.3, [0], torch.Generator().manual_seed(3))
    assert float(out.std()) == 0.0
