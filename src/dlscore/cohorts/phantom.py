"""Synthetic PET/CT study with planted truth (the demo cohort; no download needed).

What is planted, and how (all parameters come from the ``phantom`` section of the config):

* **Cohorts.** Each cohort has a role: ``development`` (split later into training and
  validation by the manifest rule), ``external`` (another "institution": other voxel
  spacing and noise) and ``ici`` (immunotherapy-treated, with PFS/OS outcomes).
* **Biomarker.** A latent expression ``z ~ N(0, 1)`` per patient; the label (e.g. PD-L1
  positive, TPS >= 1 %) is ``z > threshold`` and the TPS rises with ``z``.
* **Appearance** (what a model can learn), driven by an expression strength
  ``s = sigmoid(slope * z)`` plus noise — the PET/CT study's observations:
  a *necrotic core* (lower CT density and PET uptake in the centre, radius ``s * core_max``
  of the tumour radius), *peritumoural uptake* (a PET halo of ``s * halo_suv`` SUV just
  outside the margin, inside the 20 mm dilation) and a more *lobulated margin*. SUVmax
  itself is drawn independently of the label, so it is a weak baseline.
* **Geometry.** CT at realistic in-plane spacing and 2.5-3 mm slices; PET on a coarser 4 mm
  grid (different origin), blurred with a ~6 mm FWHM point-spread function and in SUV.
* **Raters.** Rater 1 segments the true boundary; rater 2's mask is the same tumour with a
  small random radial offset (both on the CT grid), for the inter-rater ICC.
* Columns ``truth_*`` hold the planted latent values (for tests; never model inputs).
* **Outcomes** (ICI cohorts): PFS from an exponential proportional-hazards model with a
  planted **hazard ratio of label-positive vs negative** (``hr_pfs``) and a smaller ECOG
  effect; OS = PFS + post-progression survival; administrative censoring; DCB = PFS > 6
  months (missing when censored before 6 months).

Patients are generated independently from ``(seed, cohort index, patient index)``, so the
planned patient list is known without generating anything (``planned_patients``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

@dataclass(frozen=True)
class PlannedPatient:
    patient_id: str
    cohort: str
    role: str
    raters: tuple[str, ...]
    cohort_index: int
    index: int


def planned_patients(phantom_cfg: Mapping[str, Any]) -> list[PlannedPatient]:
    """Patients the phantom will generate, in a fixed order (no image is made)."""
    out = []
    for ci, c in enumerate(phantom_cfg["cohorts"]):
        raters = ("r1", "r2") if c.get("second_rater", False) else ("r1",)
        for i in range(int(c["n"])):
            out.append(PlannedPatient(f"{c['name']}-{i + 1:03d}", c["name"], c["role"], raters, ci, i))
    return out


def _lobulation(rng: np.random.Generator, amplitude: float, n_terms: int = 4):
    """Random smooth radial modulation r(theta, phi) = 1 + sum a_k cos(...)."""
    terms = [(rng.integers(2, 6), rng.integers(1, 4), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi),
              rng.normal(0, amplitude)) for _ in range(n_terms)]

    def f(theta, phi):
        out = np.ones_like(theta)
        for m, n, p1, p2, a in terms:
            out = out + a * np.cos(m * phi + p1) * np.sin(n * theta + p2)
        return np.clip(out, 0.6, 1.4)

    return f


def _norm_radius(shape_zyx, spacing_xyz, origin_xyz, centre_xyz, radii_xyz, lobes) -> np.ndarray:
    """Normalised radius d (z, y, x): d <= 1 inside the (lobulated) ellipsoid."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape_zyx), indexing="ij")
    px = origin_xyz[0] + x * spacing_xyz[0] - centre_xyz[0]
    py = origin_xyz[1] + y * spacing_xyz[1] - centre_xyz[1]
    pz = origin_xyz[2] + z * spacing_xyz[2] - centre_xyz[2]
    ex, ey, ez = px / radii_xyz[0], py / radii_xyz[1], pz / radii_xyz[2]
    r = np.sqrt(ex**2 + ey**2 + ez**2) + 1e-9
    theta = np.arccos(np.clip(ez / r, -1, 1))
    phi = np.arctan2(ey, ex)
    return r / lobes(theta, phi)


def _image(arr_zyx: np.ndarray, spacing_xyz, origin_xyz) -> sitk.Image:
    img = sitk.GetImageFromArray(arr_zyx)
    img.SetSpacing(tuple(float(v) for v in spacing_xyz))
    img.SetOrigin(tuple(float(v) for v in origin_xyz))
    return img


def simulate_outcomes(rng: np.random.Generator, label: int, ecog: int, surv: Mapping[str, Any]) -> dict[str, Any]:
    """PFS/OS (months), events and DCB of one ICI-treated patient.

    PFS ~ exponential with hazard ln2 / median_pfs_negative x hr_pfs^label x hr_ecog^(ecog>=1);
    OS = PFS + exponential post-progression survival; uniform administrative follow-up.
    DCB = 1 if PFS > 6 months, 0 if progression by 6 months, missing if censored before 6.
    """
    rate = np.log(2) / surv["median_pfs_negative_months"]
    lin = np.log(surv["hr_pfs"]) * label + np.log(surv["hr_ecog"]) * (ecog >= 1)
    pfs = rng.exponential(1.0 / (rate * np.exp(lin)))
    os_t = pfs + rng.exponential(surv["median_pps_months"] / np.log(2))
    follow = rng.uniform(*surv["follow_up_months"])
    out = {"pfs_time": round(min(pfs, follow), 3), "pfs_event": int(pfs <= follow),
           "os_time": round(min(os_t, follow), 3), "os_event": int(os_t <= follow)}
    out["dcb"] = 1 if out["pfs_time"] > 6 else (0 if out["pfs_event"] == 1 else np.nan)
    return out


def _pet(rng: np.random.Generator, cfg: Mapping[str, Any], cohort_cfg: Mapping[str, Any], app: Mapping[str, Any],
         s: float, d: np.ndarray, tumour: np.ndarray, core: np.ndarray, wall: np.ndarray, ct_sp: np.ndarray,
         ct_origin: np.ndarray, extent: np.ndarray) -> tuple[sitk.Image, float]:
    """PET (SUV) of one patient: uptake modelled on the CT grid (tumour, necrotic core, halo,
    chest wall; ``d`` the normalised tumour radius, shape (z, y, x)), blurred by a 6 mm PSF,
    resampled on the coarser PET grid with multiplicative noise. Returns (image, true SUVmax)."""
    shape_zyx = d.shape
    suv_max_true = float(np.exp(rng.normal(np.log(cfg["suv_tumour"]), 0.3)))
    pet_hr = np.full(shape_zyx, 0.6)
    pet_hr[wall] = 1.0
    pet_hr[tumour] = suv_max_true
    pet_hr[core] = suv_max_true * (1 - app["core_uptake_drop"])
    halo = (d > 1.0) & (d <= 1.0 + app["halo_width"])
    pet_hr[halo] += app["halo_suv"] * s
    fwhm = 6.0
    pet_hr = ndimage.gaussian_filter(pet_hr, sigma=fwhm / 2.355 / ct_sp[::-1])
    pet_hr_img = _image(pet_hr.astype(np.float32), ct_sp, ct_origin)
    pet_sp = np.array(cohort_cfg.get("pet_spacing", [4.0, 4.0, 3.0]), dtype=float)
    pet_origin = ct_origin - 6.0 + rng.uniform(0, 2, size=3)
    pet_size = np.ceil((extent + 12.0) / pet_sp).astype(int) + 1
    ref = sitk.Image([int(v) for v in pet_size], sitk.sitkFloat32)
    ref.SetSpacing(tuple(pet_sp))
    ref.SetOrigin(tuple(pet_origin))
    pet = sitk.Resample(pet_hr_img, ref, sitk.Transform(), sitk.sitkLinear, 0.6)
    pet_arr = sitk.GetArrayFromImage(pet)
    pet_arr = np.clip(pet_arr * (1 + rng.normal(0, cohort_cfg.get("pet_noise", 0.08), pet_arr.shape)), 0, None)
    return _image(pet_arr.astype(np.float32), pet_sp, pet_origin), suv_max_true


def simulate_patient(p: PlannedPatient, cohort_cfg: Mapping[str, Any], cfg: Mapping[str, Any],
                     seed: int) -> tuple[dict[str, sitk.Image], dict[str, Any]]:
    """Images (ct, pet, mask_r1[, mask_r2]) and the clinical row of one patient."""
    rng = np.random.default_rng([int(seed), p.cohort_index, p.index])
    app = cfg["appearance"]
    # --- biomarker -------------------------------------------------------------------
    z = rng.normal()
    label = int(z > cfg["label_threshold"])
    s = 1.0 / (1.0 + np.exp(-app["slope"] * z)) + rng.normal(0, app["strength_noise"])
    s = float(np.clip(s, 0.0, 1.0))
    tps = 0.0 if not label else float(np.clip(np.round(1 + 99 * (1 - np.exp(-1.2 * (z - cfg["label_threshold"]))), 0), 1, 100))
    # --- CT grid ----------------------------------------------------------------------
    ct_sp = np.array(cohort_cfg.get("ct_spacing", [0.98, 0.98, 3.0]), dtype=float)
    ct_size = np.array(cohort_cfg.get("ct_size", [96, 96, 24]), dtype=int)  # x, y, z
    ct_origin = rng.uniform(-200, 200, size=3).round(1)
    extent = ct_sp * (ct_size - 1)
    centre = ct_origin + extent / 2 + rng.normal(0, 3.0, size=3) * np.array([1, 1, 0.5])
    radii = rng.uniform(*cfg["radius_mm"], size=3)
    radii[2] = min(radii[2], extent[2] / 2 - 6)
    lobes = _lobulation(rng, app["lobulation"] * (0.3 + s))
    shape_zyx = tuple(int(v) for v in ct_size[::-1])
    d = _norm_radius(shape_zyx, ct_sp, ct_origin, centre, radii, lobes)
    tumour = d <= 1.0
    core = d <= app["core_max"] * s
    # CT (HU): lung parenchyma, a chest-wall band, soft-tissue tumour, necrotic core
    noise_ct = cohort_cfg.get("ct_noise_hu", 25.0)
    ct = np.full(shape_zyx, -820.0)
    wall = np.zeros(shape_zyx, bool)
    wall[:, :, : max(2, ct_size[0] // 10)] = True
    ct[wall] = 40.0
    ct[tumour] = 38.0 + rng.normal(0, 6)
    ct[core] = 38.0 - app["core_hu_drop"]
    ct = ndimage.gaussian_filter(ct, sigma=(0.4, 0.8, 0.8)) + rng.normal(0, noise_ct, shape_zyx)
    # PET (SUV) modelled on the CT grid, blurred by the PSF, sampled on the PET grid
    ct_img = _image(ct.astype(np.float32), ct_sp, ct_origin)
    pet, suv_max_true = _pet(rng, cfg, cohort_cfg, app, s, d, tumour, core, wall, ct_sp, ct_origin, extent)
    images = {"ct": ct_img, "pet": pet,
              "mask_r1": _image(tumour.astype(np.uint8), ct_sp, ct_origin)}
    if "r2" in p.raters:
        lobes2 = _lobulation(rng, cfg["rater2"]["lobulation"])
        d2 = _norm_radius(shape_zyx, ct_sp, ct_origin, centre + rng.normal(0, cfg["rater2"]["shift_mm"], 3),
                          radii * (1 + rng.normal(0, cfg["rater2"]["radius_sd"])),
                          lambda t, f: lobes(t, f) * lobes2(t, f))
        images["mask_r2"] = _image((d2 <= 1.0).astype(np.uint8), ct_sp, ct_origin)
    # --- clinical --------------------------------------------------------------------
    row: dict[str, Any] = {
        "patient_id": p.patient_id, "cohort": p.cohort, "role": p.role, "label": label, "tps": tps,
        "age": int(np.clip(np.round(rng.normal(63, 9)), 35, 88)),
        "sex": ["female", "male"][int(rng.random() < 0.65)],
        "smoking": ["never", "former", "current"][int(rng.choice(3, p=[0.25, 0.45, 0.30]))],
        "histology": ["adenocarcinoma", "squamous"][int(rng.random() < 0.35)],
        "stage": ["III", "IV"][int(rng.random() < 0.7)],
        "ecog": int(rng.choice(3, p=[0.35, 0.5, 0.15])),
        "truth_suv_max": round(suv_max_true, 3), "truth_expression": round(z, 4),
    }
    if p.role == "ici":
        row.update(simulate_outcomes(rng, label, row["ecog"], cfg["survival"]))
    return images, row


def identity(patient_id: str):
    """The made-up DICOM identifiers of a phantom patient (``phantom.format: dicom``):
    distinctive strings a privacy test can grep every output for."""
    from dlscore.cohorts.dicom_phantom import Identity
    tag = "".join(ch for ch in patient_id if ch.isalnum())
    return Identity(patient_name=f"Secretname{tag}^Privatus", patient_id=f"MRN{tag}X77",
                    birth_date="19310709", institution=f"Hospital Confidential {tag}",
                    accession=f"ACCN{tag}Q5")


def patient_files(patient_id: str, raters: Sequence[str], fmt: str = "nifti") -> dict[str, str]:
    """Manifest column -> path (relative to the phantom folder) of one patient's inputs.
    NIfTI: one file each; DICOM: series folders ``CT``/``PET``, rater 1 as RTSTRUCT and
    rater 2 as DICOM SEG, all under ``images/<patient>/``."""
    if fmt == "dicom":
        base = f"images/{patient_id}"
        out = {"image_ct": f"{base}/CT", "image_pet": f"{base}/PET", "mask_r1": f"{base}/RS.dcm"}
        if "r2" in raters:
            out["mask_r2"] = f"{base}/SEG.dcm"
        return out
    out = {f"image_{m}": f"images/{patient_id}_{m}.nii.gz" for m in ("ct", "pet")}
    out.update({f"mask_{r}": f"images/{patient_id}_mask_{r}.nii.gz" for r in raters})
    return out


#: PET tags of DICOM phantoms: values written in Bq/mL = SUV / SUV factor of these tags
PHANTOM_PET_TAGS = dict(weight_kg=72.0, dose_bq=350e6, injection_time="094500", series_time="104500")


def _write_dicom(p: PlannedPatient, images: Mapping[str, sitk.Image], outdir: Path) -> None:
    from dlscore.dicom import suv_bw_factor
    from dlscore.cohorts.dicom_phantom import PetTags, write_rtstruct, write_seg, write_series
    files = patient_files(p.patient_id, p.raters, "dicom")
    ident = identity(p.patient_id)
    ct = images["ct"]
    sp, org = ct.GetSpacing(), ct.GetOrigin()
    ref = write_series(sitk.GetArrayFromImage(ct), sp, org, outdir / files["image_ct"], "CT", ident)
    tags = PetTags(**PHANTOM_PET_TAGS)
    import pydicom
    probe = pydicom.Dataset()
    probe.Units, probe.DecayCorrection, probe.PatientWeight = "BQML", "START", tags.weight_kg
    probe.SeriesDate, probe.SeriesTime = ident.study_date, tags.series_time
    rp = pydicom.Dataset()
    rp.RadiopharmaceuticalStartTime, rp.RadionuclideTotalDose, rp.RadionuclideHalfLife = \
        tags.injection_time, tags.dose_bq, tags.half_life_s
    probe.RadiopharmaceuticalInformationSequence = [rp]
    factor = suv_bw_factor(probe).factor  # g/Bq: SUV -> Bq/mL is a division by it
    pet = images["pet"]
    write_series(sitk.GetArrayFromImage(pet) / factor, pet.GetSpacing(), pet.GetOrigin(), outdir / files["image_pet"],
                 "PT", ident, tags, study_uid=ref.study_uid, frame_of_reference=ref.frame_of_reference)
    write_rtstruct(sitk.GetArrayFromImage(images["mask_r1"]).astype(bool), sp, org, ref, outdir / files["mask_r1"],
                   "GTV", ident, extra_rois=["External"])
    if "mask_r2" in images:
        write_seg(sitk.GetArrayFromImage(images["mask_r2"]).astype(bool), sp, org, ref, outdir / files["mask_r2"],
                  "GTV", ident)


def _write_patient(args) -> dict[str, Any]:
    p, cohort_cfg, cfg, seed, outdir = args
    images, row = simulate_patient(p, cohort_cfg, cfg, seed)
    fmt = cfg.get("format", "nifti")
    files = patient_files(p.patient_id, p.raters, fmt)
    if fmt == "dicom":
        _write_dicom(p, images, Path(outdir))
    else:
        for key, img in images.items():
            col = f"image_{key}" if key in ("ct", "pet") else key
            sitk.WriteImage(img, str(Path(outdir) / files[col]), useCompression=True)
    row.update(files)
    return row


def generate_cohort(cfg: Mapping[str, Any], seed: int, outdir: str | Path, workers: int = 1) -> pd.DataFrame:
    """Write every patient's NIfTI files under ``outdir/images`` and return the manifest.

    Manifest paths are relative to ``outdir`` (where ``manifest.csv`` is written). The
    result does not depend on ``workers`` (each patient has its own random stream).
    """
    outdir = Path(outdir)
    (outdir / "images").mkdir(parents=True, exist_ok=True)
    cohorts = {c["name"]: c for c in cfg["cohorts"]}
    jobs = [(p, cohorts[p.cohort], cfg, seed, str(outdir)) for p in planned_patients(cfg)]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_write_patient, jobs, chunksize=4))
    else:
        rows = [_write_patient(j) for j in jobs]
    df = pd.DataFrame(rows)
    if "mask_r2" not in df:
        df["mask_r2"] = np.nan
    return df


def build(section: Mapping[str, Any], outdir: str | Path, workers: int = 1) -> tuple[pd.DataFrame, None]:
    """Registry entry point: write the phantom cohort under ``outdir`` (seed ``section.seed``)
    and return its manifest (no mapping table)."""
    return generate_cohort(section, int(section["seed"]), outdir, workers), None


def plan(section: Mapping[str, Any], root: str, modalities: Sequence[str]) -> list[tuple[PlannedPatient, dict]]:
    """The patients and the files the ``cohort`` rule will write under ``root``, known from the
    config alone: (patient, manifest column -> path). DICOM: one folder per patient."""
    out = []
    for p in planned_patients(section):
        if section.get("format", "nifti") == "dicom":
            files = {"dicom": f"{root}/images/{p.patient_id}"}
        else:
            files = {k: f"{root}/{v}" for k, v in patient_files(p.patient_id, p.raters).items()
                     if not k.startswith("image_") or k[len("image_"):] in modalities}
        out.append((p, files))
    return out
