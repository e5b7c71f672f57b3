"""Journal-style figures (matplotlib, Agg backend): labelled axes with units, CIs, drawn at the
size they are printed (a journal column) so that their text stays legible there."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from dlscore.typography import math_signs  # noqa: E402

STYLE = {"font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "legend.fontsize": 7,
         "legend.title_fontsize": 7, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5,
         "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 300,
         "figure.dpi": 100, "font.family": "DejaVu Sans"}
PALETTE = ("#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#5d6d7e")
#: print width (mm) of a journal's single and double column: every figure is checked at the
#: width of the column it is meant for
COLUMN_MM = {"single": 85.0, "double": 180.0}
#: smallest font (pt) a figure may print at its column width
MIN_FONT_PT = 7.0
#: PNG resolution (dots per inch)
DPI = 300
#: PNG text key holding :func:`legibility` of the figure (JSON)
LEGIBILITY_KEY = "dlscore-legibility"


def new_figure(w: float = 3.35, h: float = 3.35):
    """A figure ``w`` x ``h`` inches (3.35 in = 85 mm, one journal column) in the house style."""
    plt.rcParams.update(STYLE)
    return plt.subplots(figsize=(w, h))


def channel_label(channel: str) -> str:
    """A hyper-image channel as figures print it: modalities in capitals (PET, CT, FLAIR), "fusion",
    "mask" and "distance" as they are."""
    from dlscore.slices import DERIVED_CHANNELS
    return channel if channel in DERIVED_CHANNELS else channel.upper()


def _undrawn_tick_labels(fig) -> set[int]:
    """ids of the tick labels matplotlib keeps but does not draw (their tick is outside the view)."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            tol = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                loc = tick.get_loc()
                if loc is not None and not lo - tol <= loc <= hi + tol:
                    out |= {id(tick.label1), id(tick.label2)}
    return out


def _texts(fig) -> list[Text]:
    """The visible, non-empty text artists ``fig`` draws (titles, labels, ticks, legends, annotations)."""
    hidden = _undrawn_tick_labels(fig)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is fig
            and id(t) not in hidden]


def legibility(fig, column: str = "single") -> dict:
    """How ``fig`` prints in a journal ``column`` ("single" 85 mm, "double" 180 mm wide): a figure
    wider than the column (its tight bounding box) is scaled down to it, fonts with it.

    Returns {"column", "width_mm", "min_font_pt" (smallest font once printed), "smallest" (its
    text), "overlaps" (up to 10 pairs of texts whose boxes overlap by more than 1 pt), "texts"
    (every distinct text that is not a number: titles, labels, legends, for tests to read)}."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width_in = fig.get_tightbbox(renderer).width
    scale = min(COLUMN_MM[column] / 25.4 / width_in, 1.0)  # a narrower figure prints at 100 %
    texts = _texts(fig)
    small = min(texts, key=lambda t: t.get_fontsize(), default=None)
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    pad = fig.dpi / 72  # 1 pt in display pixels
    overlaps = []
    for (a, ba), (b, bb) in combinations(boxes, 2):
        w = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        h = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if w > pad and h > pad:
            overlaps.append([a[:40], b[:40]])
    return {"column": column, "width_mm": COLUMN_MM[column],
            "min_font_pt": round(float(small.get_fontsize() * scale), 2) if small else None,
            "smallest": small.get_text()[:40] if small else None, "overlaps": overlaps[:10],
            "texts": sorted({t.get_text() for t in texts if not _is_number(t.get_text())})}


def _is_number(text: str) -> bool:
    try:
        float(text.replace("−", "-"))
        return True
    except ValueError:
        return False


def typeset(fig) -> None:
    """Journal typography in every text of ``fig``: ≥ and ≤ for >= and <= (config labels such as
    "TPS >= 1 %" are typed in ASCII)."""
    for t in _texts(fig):
        if math_signs(t.get_text()) != t.get_text():
            t.set_text(math_signs(t.get_text()))


def fit_to_column(fig, column: str = "single", rounds: int = 6) -> None:
    """Shrink ``fig`` (axes, not fonts) until its tight bounding box — legends and labels outside
    the axes included — is at most the ``column``'s width, so that it prints at 100 % there and
    every font keeps its size in points. A figure already narrower is left as it is."""
    limit = COLUMN_MM[column] / 25.4
    target = 0.99 * limit  # aim 1 % below: the tight box moves a little on every draw
    for _ in range(rounds):
        fig.canvas.draw()
        width = fig.get_tightbbox(fig.canvas.get_renderer()).width
        if width <= limit:
            return
        w, h = fig.get_size_inches()
        k = max((w - (width - target)) / w, 0.3)
        fig.set_size_inches(w * k, h * k)


def save(fig, path, column: str = "single", tight: bool = True, pdf: bool = True) -> dict:
    """Write ``fig`` as a PNG at :data:`DPI`, typeset and fitted to a journal ``column``
    ("single" 85 mm or "double" 180 mm), carrying its :func:`legibility` there (PNG text key
    :data:`LEGIBILITY_KEY`, read back by :func:`read_legibility`), and (``pdf``) the same figure
    as vector PDF beside it (``<name>.pdf``, no creation date: reruns write the same bytes);
    returns the check."""
    typeset(fig)
    fig.set_dpi(DPI)  # measured as written: text extents at 100 dpi differ by a few % (glyph hinting)
    if tight:
        fit_to_column(fig, column)
    check = legibility(fig, column)
    box = {"bbox_inches": "tight" if tight else None, "pad_inches": 0.03}  # 0.76 mm margin
    fig.savefig(path, dpi=DPI, metadata={LEGIBILITY_KEY: json.dumps(check)}, **box)
    if pdf:
        fig.savefig(Path(path).with_suffix(".pdf"), metadata={"CreationDate": None}, **box)
    plt.close(fig)
    return check


def read_legibility(path) -> dict | None:
    """The :func:`legibility` a PNG written by :func:`save` carries (None when it carries none)."""
    from PIL import Image
    with Image.open(path) as im:
        text = im.text.get(LEGIBILITY_KEY) if hasattr(im, "text") else None
    return json.loads(text) if text else None


def placeholder_figure(path, text: str) -> None:
    """A small figure that says why the expected plot cannot be drawn (the workflow's
    outputs are fixed in advance; an empty file would hide the reason)."""
    fig, ax = new_figure(3.35, 1.0)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    save(fig, path)
