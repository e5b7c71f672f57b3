"""QC montage pixels: the tumour outline, the ROI square and the scale bar sit where the
millimetres say, on anisotropic voxels too; the PNG holds the panels at 1:1."""

from __future__ import annotations

import numpy as np
from matplotlib.image import imread

from dlscore.plots import montage as M
from dlscore.slices import SliceSet, tumour_squares

SPACING = (0.5, 1.25, 3.0)   # x, y, z (mm): anisotropic in-plane on purpose
CENTRE = (30.0, 40.0)        # tumour centre, mm from the centre of voxel (0, 0)
RADIUS = 9.0                 # mm


def _disk(nz: int = 3, ny: int = 64, nx: int = 128):
    """(z, y, x) volume and mask: a disk of RADIUS mm at CENTRE on every slice."""
    y = np.arange(ny)[:, None] * SPACING[1]
    x = np.arange(nx)[None, :] * SPACING[0]
    disk = (x - CENTRE[0]) ** 2 + (y - CENTRE[1]) ** 2 <= RADIUS**2
    mask = np.repeat(disk[None], nz, axis=0)
    vol = np.where(mask, 0.9, 0.1).astype(np.float32)
    return vol, mask


def _panel_mm(square, px: int = M.PANEL_PX):
    """mm coordinates (x along columns, y along rows) of the panel's pixel centres."""
    half = M.FOV_FACTOR * square.side_mm / 2
    c = (np.arange(px) + 0.5) * (2 * half / px) - half
    return square.centre_x_mm + c, square.centre_y_mm + c, px / (2 * half)


def test_outline_is_the_border_of_the_mask():
    m = np.zeros((7, 7), bool)
    m[1:6, 1:6] = True
    o = M.outline(m)
    assert o.sum() == 16 and not o[2:5, 2:5].any() and o[1, 1:6].all()
    edge = np.ones((3, 3), bool)  # touching the image border: the border counts as outside
    assert M.outline(edge).sum() == 8


def test_scale_bar_is_a_round_length_at_most_a_third_of_the_field():
    assert [M.scale_bar_mm(f) for f in (3.5, 20, 31, 60, 299, 301)] == [1, 5, 10, 20, 50, 100]


def test_outline_square_and_bar_land_on_their_millimetres():
    vol, mask = _disk()
    sq = tumour_squares(mask, SPACING, margin_mm=10.0)[1]
    panel, bar = M.modality_panel(vol[1], mask[1], SPACING[:2], sq, invert=False)
    xs, ys, px_per_mm = _panel_mm(sq)
    red = np.argwhere((panel == M.RED).all(axis=2))
    r = np.hypot(xs[red[:, 1]] - CENTRE[0], ys[red[:, 0]] - CENTRE[1])
    # outline pixels show voxels of the disk at its edge: nearest-voxel sampling puts them
    # within half a voxel (and half a pixel) outside the radius, within a voxel inside it
    half_voxel = np.hypot(SPACING[0], SPACING[1]) / 2
    assert len(red) > 50 and r.max() <= RADIUS + half_voxel + 0.5 / px_per_mm
    assert r.min() >= RADIUS - 2 * half_voxel - 1 / px_per_mm
    # the dashed square: its yellow pixels are on the four sides of the dilated square
    yel = np.argwhere((panel == M.YELLOW).all(axis=2))
    dx, dy = np.abs(xs[yel[:, 1]] - sq.centre_x_mm), np.abs(ys[yel[:, 0]] - sq.centre_y_mm)
    on_side = np.isclose(np.maximum(dx, dy), sq.side_mm / 2, atol=1.0 / px_per_mm)
    assert len(yel) > 100 and on_side.all()
    # the white scale bar: `bar` mm long, at most a third of the field of view
    white = (panel == M.BAR).all(axis=2)
    edges = [np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0])) for row in white]
    longest = max((e[1::2] - e[::2]).max(initial=0) for e in edges)
    assert bar == M.scale_bar_mm(M.FOV_FACTOR * sq.side_mm)
    assert abs(longest - bar * px_per_mm) <= 1


def test_pet_is_inverted_and_the_outside_of_the_image_is_marked():
    vol, mask = _disk()
    sq = tumour_squares(mask, SPACING, margin_mm=40.0)[0]  # field wider than the image in y
    normal, _ = M.modality_panel(vol[0], mask[0], SPACING[:2], sq, invert=False)
    pet, _ = M.modality_panel(vol[0], mask[0], SPACING[:2], sq, invert=True)
    c = M.PANEL_PX // 2  # the tumour centre: bright, so dark when inverted
    assert normal[c, c, 0] == round(255 * 0.9) and pet[c, c, 0] == round(255 * 0.1)
    ys = _panel_mm(sq)[1]
    above = int(np.flatnonzero(ys < -0.5 * SPACING[1])[-1])  # a row above the image's first voxel
    for panel in (normal, pet):
        row = panel[above]
        outside = (row == M.OUTSIDE).all(axis=1)
        assert ((row[~outside] == M.YELLOW).all(axis=1)).all()  # the rest: the square's dashed sides
        assert outside.sum() > M.PANEL_PX - 10


def test_png_holds_every_panel_at_one_to_one(tmp_path):
    vol, mask = _disk(nz=6)
    sq = tumour_squares(mask, SPACING, 10.0)
    n, size = 6, 32
    images = np.random.default_rng(0).random((n, 2, size, size)).astype(np.float32)
    ss = SliceSet(images, np.arange(n), np.arange(n) * SPACING[2], np.array([s.tumour_side_mm for s in sq]),
                  np.array([s.side_mm for s in sq]), ("ct", "pet"), {"margin_mm": 10.0})
    rows = M.pick_rows(n, 4)
    assert rows == [0, 2, 3, 5]
    img, bars = M.montage_image({"pet": vol, "ct": vol}, mask, ss, sq, SPACING, rows)
    step = M.PANEL_PX + M.GAP_PX
    assert img.shape == (4 * step - M.GAP_PX, 4 * step - M.GAP_PX, 3) and len(bars) == 4
    # a hyper-image channel panel is its image, nearest-neighbour upsampled
    ch = img[step:step + M.PANEL_PX, 3 * step:3 * step + M.PANEL_PX, 0]
    assert np.array_equal(ch[:: M.PANEL_PX // size], np.rint(255 * images[2, 1][:, np.repeat(np.arange(size), M.PANEL_PX // size)]).astype(np.uint8))
    out = tmp_path / "m.png"
    M.montage({"pet": vol, "ct": vol}, mask, ss, sq, SPACING, "P01", out)
    png = (imread(out)[..., :3] * 255).round().astype(np.uint8)
    # the composed pixels appear unchanged somewhere in the PNG (no resampling)
    hits = np.argwhere((png[:, :, :] == img[0, 0]).all(axis=2))
    assert any(np.array_equal(png[y:y + img.shape[0], x:x + img.shape[1]], img) for y, x in hits[:2000])


def test_no_kept_slice_gives_a_one_line_figure(tmp_path):
    vol, mask = _disk()
    ss = SliceSet(np.zeros((0, 1, 8, 8), np.float32), np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros(0), ("ct",))
    M.montage({"ct": vol}, mask, ss, [], SPACING, "P02", tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 0
