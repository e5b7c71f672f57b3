"""Cross-validated training of the network: which development patients each fold holds out.

``split.method`` (config):

* ``holdout`` - the paper's design: one stratified training/validation split
  (:func:`dlscore.manifest.assign_splits`); one network per model.
* ``kfold`` - the labelled development patients are dealt into ``split.k`` folds,
  stratified on the label and seeded (scikit-learn's ``StratifiedKFold``); one network per
  (model, fold), trained on the other folds.
* ``leave_site_out`` - one fold per institution (``split.site_column``) of the development
  cohort; each network is trained on the other sites.

In both cross-validated designs every labelled development patient gets split
``development`` and a ``fold`` (1..K): its out-of-fold DLS comes from the network that did not
see it; patients of other cohorts are scored by the mean of the K fold networks. Each fold's
network stops early on an inner validation set: a stratified, seeded
``split.validation_fraction`` of its own training patients (:func:`inner_validation`) -
never on the held-out fold, whose scores would otherwise be optimistic.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from dlscore.errors import InputError

#: the split of a cross-validated study's labelled development patients
CV_SPLIT = "development"


def is_cv(split_cfg) -> bool:
    """True when ``split.method`` (a mapping, the config's ``split`` section) cross-validates."""
    return str(split_cfg.get("method", "holdout")) != "holdout"


def stratified_folds(labels: pd.Series, k: int, seed: int) -> pd.Series:
    """Fold (1..``k``) of each patient (``labels``: 0/1 indexed by patient id): stratified on
    the label, shuffled with ``seed``. Every fold gets patients of both classes, so ``k``
    may not exceed the size of the smaller class (:class:`InputError` otherwise)."""
    from sklearn.model_selection import StratifiedKFold
    y = labels.astype(int)
    n_min = int(y.value_counts().min()) if y.nunique() == 2 else 0
    if k < 2 or n_min < k:
        raise InputError(f"{k} stratified folds need at least {k} development patients of each class; the smaller "
                         f"class has {n_min}", f"set split.k to at most {max(n_min, 2)} (and at least 2), or use "
                         "split.method: holdout", where="split.k")
    out = pd.Series(0, index=labels.index, dtype=int)
    for f, (_, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y), 1):
        out.iloc[test] = f
    return out


def site_folds(sites: pd.Series) -> tuple[pd.Series, list[str]]:
    """Fold of each patient for leave-site-out (``sites``: institution per patient id): the
    sites sorted by name are folds 1..K. Returns (fold per patient, site of each fold)."""
    if sites.isna().any():
        pid = sites.index[sites.isna()][0]
        raise InputError("no site (institution) for a development patient: leave-site-out cannot place it",
                         "fill the site column for every development patient, or use split.method: kfold",
                         str(pid), where="split.site_column")
    names = sorted(map(str, sites.unique()))
    if len(names) < 2:
        raise InputError(f"the development cohort has {len(names)} site: leave-site-out needs at least 2",
                         "use split.method: kfold", where="split.site_column")
    return sites.astype(str).map({s: i for i, s in enumerate(names, 1)}).astype(int), names


def planned_folds(split_cfg, dev_sites: Sequence[str | None]) -> list[int]:
    """The folds known before the split is drawn (one training job per model and fold):
    none for holdout, 1..k for kfold, one per distinct site of the labelled development
    patients (``dev_sites``) for leave-site-out."""
    method = str(split_cfg.get("method", "holdout"))
    if method == "kfold":
        return list(range(1, int(split_cfg.get("k", 5)) + 1))
    if method == "leave_site_out":
        return list(range(1, len({str(s) for s in dev_sites if s is not None}) + 1))
    return []


def inner_validation(patients: pd.Series, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask over ``patients`` (label per patient id, the training patients of one
    fold): True for the stratified, seeded ``fraction`` that early stopping watches; all False
    for ``fraction`` 0 (no early stopping: the network trains on every one of them)."""
    from sklearn.model_selection import train_test_split
    if fraction == 0:
        return np.zeros(len(patients), dtype=bool)
    y = patients.astype(int)
    stratify = y if y.value_counts().min() >= 2 else None
    _, va = train_test_split(np.arange(len(y)), test_size=fraction, random_state=seed, stratify=stratify)
    mask = np.zeros(len(y), dtype=bool)
    mask[va] = True
    return mask


def fold_patients(man: pd.DataFrame, fold: int, fraction: float, seed: int) -> dict[str, list[str]]:
    """Patients of one fold's network (``man``: the validated manifest with ``split``,
    ``fold``, ``label``; patient ids as ``patient_id``): ``training`` and ``validation``
    (inner, for early stopping) from the other folds, ``held_out`` = the fold itself."""
    dev = man[man["split"] == CV_SPLIT].sort_values("patient_id")
    rest = dev[dev["fold"] != fold]
    inner = inner_validation(rest.set_index("patient_id")["label"], fraction, seed + fold)
    return {"training": rest["patient_id"][~inner].tolist(), "validation": rest["patient_id"][inner].tolist(),
            "held_out": dev.loc[dev["fold"] == fold, "patient_id"].tolist()}
