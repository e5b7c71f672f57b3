"""Agreement between raters: intraclass correlation (Shrout & Fleiss 1979; McGraw & Wong 1996).

Forms, named as psych::ICC names them:

=======  =====================================================  ==========================
form     model                                                   psych / McGraw-Wong
=======  =====================================================  ==========================
ICC1     one-way random, single rater                            ICC(1)
ICC2     two-way random, absolute agreement, single rater        ICC(A,1)
ICC3     two-way mixed, consistency, single rater                ICC(C,1)
ICC1k    ICC1 for the mean of k raters                           ICC(k)
ICC2k    ICC2 for the mean of k raters                           ICC(A,k)
ICC3k    ICC3 for the mean of k raters                           ICC(C,k)
=======  =====================================================  ==========================

Confidence intervals are the F-distribution intervals of the same references (psych's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")


@dataclass(frozen=True)
class ICCResult:
    form: str
    icc: float
    ci_low: float
    ci_high: float
    f: float
    df1: float
    df2: float
    p: float
    n_subjects: int
    n_raters: int
    n_incomplete: int = 0  # subjects left out because a rater did not rate them


def icc(ratings, form: str = "ICC2", alpha: float = 0.05) -> ICCResult:
    """ICC of ``ratings``, an (n_subjects, n_raters) array. Subjects a rater did not rate
    (NaN) are left out and counted in ``n_incomplete`` (complete cases, as
    ``psych::ICC(na.omit(x))``)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"ratings must be (n_subjects, n_raters >= 2); got shape {x.shape}")
    complete = np.isfinite(x).all(axis=1)
    x = x[complete]
    if x.shape[0] < 2:
        raise ValueError(f"fewer than 2 subjects rated by every rater ({int(complete.sum())} of {complete.size})")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_tot = ((x - grand) ** 2).sum()
    ss_err = ss_tot - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_err) / (n * (k - 1))
    q = 1 - alpha / 2
    finv = _st.f.ppf

    if form[:4] in ("ICC1", "ICC3"):
        # one-way (error = within-subject MS) or two-way mixed (error = residual MS)
        err, df2 = (msw, n * (k - 1)) if form.startswith("ICC1") else (mse, (n - 1) * (k - 1))
        f, df1 = msr / err, n - 1
        fl, fu = f / finv(q, df1, df2), f * finv(q, df2, df1)
        if not form.endswith("k"):
            val = (msr - err) / (msr + (k - 1) * err)
            lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
        else:
            val = (msr - err) / msr
            lo, hi = 1 - 1 / fl, 1 - 1 / fu
    else:  # ICC2 / ICC2k
        f, df1, df2 = msr / mse, n - 1, (n - 1) * (k - 1)
        icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        fj = msc / mse
        vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v = vn / vd
        f2u, f2l = finv(q, n - 1, v), finv(q, v, n - 1)
        lo = n * (msr - f2u * mse) / (f2u * (k * msc + (k * n - k - n) * mse) + n * msr)
        hi = n * (f2l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f2l * msr)
        if form == "ICC2":
            val = icc2
        else:
            val = (msr - mse) / (msr + (msc - mse) / n)
            lo, hi = lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1))
    p = float(_st.f.sf(f, df1, df2))
    return ICCResult(form, float(val), float(lo), float(hi), float(f), float(df1), float(df2),
                     p, n, k, int((~complete).sum()))
