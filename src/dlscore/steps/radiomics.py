"""The radiomics steps (workflow/rules/radiomics.smk)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from dlscore.tables import write_table


def radiomics(config: Mapping[str, Any], predir: str, patient: str, raters: Sequence[str], out: str) -> None:
    import SimpleITK as sitk

    from dlscore.radiomics import extract_features
    rc = config["radiomics"]
    mods = [m for m in rc["modalities"] if (Path(predir) / f"{m}.nii.gz").exists()]  # missing -> NaN
    images = {m: sitk.ReadImage(str(Path(predir) / f"{m}.nii.gz")) for m in mods}
    from importlib.metadata import version
    provenance = {"computed": "3D, reference grid", "params_file": Path(rc["params"]).name,
                  "params_sha256": hashlib.sha256(Path(rc["params"]).read_bytes()).hexdigest()[:12],
                  "pyradiomics": version("pyradiomics-bhklab")}
    rows = []
    for r in raters:
        mask = sitk.ReadImage(str(Path(predir) / f"mask_{r}.nii.gz"))
        feats = extract_features(images, mask, rc["params"], mods, rc.get("bin_width"))
        rows.append({"patient_id": patient, "rater": r, **provenance, **feats})
    pd.DataFrame(rows).to_parquet(out, index=False)


def radiomics_chunk(config, predirs: Sequence[str], patients: Sequence[str], raters: Sequence[Sequence[str]],
                    outs: Sequence[str], logs: Sequence[str], results: str) -> None:
    """:func:`radiomics` for every patient of a chunk job, each with its own output and log
    (:func:`dlscore.chunks.run_chunk`; ``config``: the step's Settings)."""
    from dlscore.chunks import PatientWork, run_chunk
    works = [PatientWork(p, (pre, config["radiomics"]["params"]), (out,), log)
             for p, pre, out, log in zip(patients, predirs, outs, logs, strict=True)]
    rater_of = dict(zip(patients, raters, strict=True))
    run_chunk("radiomics", works, lambda w: radiomics(config, w.inputs[0], w.patient, rater_of[w.patient], w.outputs[0]),
              config.config_hash, results)


def gather(parts: Sequence[str], out: str, csv: str | None = None, config: Mapping[str, Any] | None = None) -> None:
    """Concatenate per-patient parquet tables; with ``csv`` also as a report table (a
    features-only study, ``stop_after: features``)."""
    df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    df.to_parquet(out, index=False)
    if csv:
        write_table(df, csv, config)
