"""PyRadiomics features per patient, modality and rater (``radiomics`` module of the
``pyradiomics-bhklab`` distribution) from a version-controlled parameter file.

Computed in **3D** on the co-gridded volumes (reference grid), in physical units (HU,
SUV ...). Shape features depend on the mask only and are computed once per mask
(columns ``original_shape_*``); intensity/texture features once per modality (columns
``<modality>_original_*``). Bin width can be set per modality (``bin_width``), because HU
and SUV have different scales.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import SimpleITK as sitk

logging.getLogger("radiomics").setLevel(logging.ERROR)


def extract_features(images: Mapping[str, sitk.Image], mask: sitk.Image, params: str | Path,
                     modalities: Sequence[str], bin_width: Mapping[str, float] | None = None) -> dict[str, float]:
    """Feature name -> value for one patient and rater (floats only, diagnostics dropped)."""
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)  # its import resets the logger to INFO on stderr
    ext = featureextractor.RadiomicsFeatureExtractor(str(params))
    ext.settings["additionalInfo"] = False
    enabled = dict(ext.enabledFeatures)
    out: dict[str, float] = {}
    mask = sitk.Cast(mask, sitk.sitkUInt8)
    for i, m in enumerate(modalities):
        if bin_width and m in bin_width:
            ext.settings["binWidth"] = float(bin_width[m])
        ext.enabledFeatures = {k: v for k, v in enabled.items() if k != "shape" or i == 0}
        res = ext.execute(images[m], mask, label=1)
        for k, v in res.items():
            if k.startswith("diagnostics_"):
                continue
            name = k if "_shape_" in k else f"{m}_{k}"
            out[name] = float(v)
    return out
