"""Reading images and masks: NIfTI, NRRD, MetaImage files and DICOM series folders.

Only pixel data and geometry are read; no DICOM identifier (name, birth date, IDs,
institution) is ever copied into an output: images are rewritten as NIfTI without
metadata by :func:`write_image`.
"""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from dlscore.errors import InputError

FILE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def read_image(path: str | Path, patient: str | None = None, what: str = "image",
               expected_modality: str | None = None, suv: bool = False) -> sitk.Image:
    """Read a volume from a file or a folder holding exactly one DICOM series.

    For a DICOM folder, ``expected_modality`` (e.g. ``"PT"``) is checked and ``suv``
    converts a PET series to SUV body weight (:func:`dlscore.dicom.read_series`); image
    files (NIfTI, NRRD, ...) carry no such tags and are read as they are (a PET file must
    already hold SUV)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} file does not exist", "correct the path in the manifest "
                         "(relative paths are relative to the manifest's folder)", patient, str(p))
    try:
        if p.is_dir():
            from dlscore.dicom import read_series
            return read_series(p, patient, what, expected_modality, suv)
        return sitk.ReadImage(str(p))
    except InputError:
        raise
    except RuntimeError as exc:  # SimpleITK's error for unreadable/corrupt files
        first = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else "unreadable"
        raise InputError(f"{what} cannot be read ({first})",
                         f"re-export the file as NIfTI/NRRD or a DICOM series ({', '.join(FILE_SUFFIXES)})",
                         patient, str(p)) from None


def write_image(image: sitk.Image, path: str | Path) -> None:
    """Write ``image`` compressed, keeping geometry only (no metadata dictionary)."""
    clean = sitk.Image(image)
    for key in clean.GetMetaDataKeys():
        clean.EraseMetaData(key)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(clean, str(path), useCompression=True)
