import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlscore.slices import SliceSet, crop_square, extract_slices, keep_large, tumour_squares


def _disc_mask(shape=(5, 80, 100), radius_px=(6, 10, 14, 10, 3), centre=(40, 50)):
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    m = np.zeros(shape, bool)
    for k, r in enumerate(radius_px):
        m[k] = (y[0] - centre[0]) ** 2 + (x[0] - centre[1]) ** 2 <= r**2
    return m


def test_square_side_and_margin_in_mm():
    m = _disc_mask()
    sq = tumour_squares(m, (0.5, 0.5, 3.0), margin_mm=20)
    assert [s.z for s in sq] == [0, 1, 2, 3, 4]
    # disc of radius 14 px spans 29 px = 14.5 mm; dilated by 20 mm on each side
    assert sq[2].tumour_side_mm == pytest.approx(29 * 0.5)
    assert sq[2].side_mm == pytest.approx(29 * 0.5 + 40)
    assert sq[2].centre_x_mm == pytest.approx(50 * 0.5) and sq[2].centre_y_mm == pytest.approx(40 * 0.5)


def test_anisotropic_pixels_use_the_larger_physical_extent():
    m = np.zeros((1, 50, 50), bool)
    m[0, 20:30, 10:40] = True  # 10 rows x 30 cols
    sq = tumour_squares(m, (0.5, 2.0, 1.0), margin_mm=0)[0]
    assert sq.tumour_side_mm == pytest.approx(max(30 * 0.5, 10 * 2.0))


def test_area_filter_keeps_more_than_30_percent():
    m = _disc_mask()
    kept = keep_large(tumour_squares(m, (1, 1, 1), 20), 0.30)
    sides = {s.z: s.tumour_side_mm for s in tumour_squares(m, (1, 1, 1), 20)}
    biggest = max(sides.values()) ** 2
    assert [s.z for s in kept] == [z for z, v in sides.items() if v**2 > 0.3 * biggest]
    assert 4 not in [s.z for s in kept]  # the radius-3 slice is dropped


def test_crop_is_exact_on_a_linear_ramp_and_pads_outside():
    sl = np.tile(np.arange(100, dtype=np.float32), (80, 1))  # value = x index
    sq = tumour_squares(_disc_mask()[:1], (1, 1, 1), 0)[0]
    out = crop_square(sl, sq, (1, 1, 1), size=13, order=3)
    xs = sq.centre_x_mm + (np.arange(13) + 0.5) * sq.side_mm / 13 - sq.side_mm / 2
    np.testing.assert_allclose(out[6], xs, atol=1e-3)  # cubic spline reproduces linear data
    near_edge = tumour_squares(np.pad(np.ones((1, 3, 3), bool), ((0, 0), (0, 5), (0, 5))), (1, 1, 1), 10)[0]
    img = crop_square(np.ones((8, 8), np.float32), near_edge, (1, 1, 1), 16, order=1)
    assert img[0, 0] == 0.0 and img[8, 8] == pytest.approx(1.0)


def test_extract_slices_fusion_and_roundtrip(tmp_path):
    m = _disc_mask()
    pet = np.where(m, 0.8, 0.1).astype(np.float32)
    ct = np.where(m, 0.4, 0.0).astype(np.float32)
    ss = extract_slices({"pet": pet, "ct": ct}, m, (0.5, 0.5, 3.0), ["pet", "ct", "fusion"], size=64)
    assert ss.images.shape == (len(ss.z_index), 3, 64, 64)
    # fusion is blended before resampling; spline overshoot clipped at 0/1 makes small differences
    np.testing.assert_allclose(ss.images[:, 2], (ss.images[:, 1] + ss.images[:, 0]) / 2, atol=0.02)
    assert ss.images.min() >= 0 and ss.images.max() <= 1
    ss.save(tmp_path / "s.npz")
    back = SliceSet.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.images, ss.images)
    assert back.channels == ss.channels and back.meta["margin_mm"] == 20.0


def test_mask_channel_is_the_resampled_tumour_mask():
    """``mask`` in the channels: 1 in the tumour, 0 in the margin, the same squares as the images."""
    m = _disc_mask()
    ct = np.where(m, 0.9, 0.0).astype(np.float32)
    ss = extract_slices({"ct": ct}, m, (0.5, 0.5, 3.0), ["ct", "mask"], size=64, order=3)
    plain = extract_slices({"ct": ct}, m, (0.5, 0.5, 3.0), ["ct"], size=64, order=3)
    np.testing.assert_array_equal(ss.images[:, 0], plain.images[:, 0])  # the image channel is unchanged
    assert ss.channels == ("ct", "mask") and ss.images.min() >= 0 and ss.images.max() <= 1
    # the mask channel is the ct's step from 0 to 0.9, rescaled (both clipped at [0, 1]): the same pixels
    np.testing.assert_allclose(ss.images[:, 1], np.clip(ss.images[:, 0] / 0.9, 0, 1), atol=1e-5)
    c = ss.images.shape[-1] // 2
    assert (ss.images[:, 1, c, c] > 0.99).all() and (ss.images[:, 1, :2, :2] < 0.01).all()
    linear = extract_slices({"ct": ct}, m, (0.5, 0.5, 3.0), ["mask"], size=64, order=1)
    assert 0.95 < linear.images.max() <= 1 and linear.images.min() == 0


def test_distance_channel_is_the_squashed_signed_distance_to_the_mask_surface():
    """``distance``: 1 / (1 + exp(d / scale)) of the signed 3-D distance d (mm, negative inside);
    on a ball of radius R mm the centre has d = -R, and a slice near the pole is shallower than
    the equator although both show the tumour (the mask channel cannot tell them apart)."""
    from dlscore.slices import distance_map
    sp = (1.0, 1.0, 2.0)  # x, y, z (mm)
    z, y, x = np.meshgrid(np.arange(31) * 2.0, np.arange(61) * 1.0, np.arange(61) * 1.0, indexing="ij")
    ball = (z - 30) ** 2 + (y - 30) ** 2 + (x - 30) ** 2 <= 20 ** 2  # R = 20 mm
    d = distance_map(ball, sp, scale_mm=5.0)
    assert d.shape == ball.shape and d.dtype == np.float32 and 0 <= d.min() and d.max() < 1
    def squash(d_mm):
        return 1 / (1 + np.exp(d_mm / 5.0))
    # distances are to the voxelised surface (flat caps of 2 mm slices): within 1.5 voxels of the ball's;
    # in voxel units the centre would be 10 deep (z)
    assert squash(-20) >= d[15, 30, 30] >= squash(-17)  # centre: 20 mm deep
    assert squash(9) >= d[15, 30, 0] >= squash(12)  # 10 mm outside
    assert d[15, 30, 10] == pytest.approx(0.5, abs=0.1)  # on the outline (within a voxel)
    assert d[6, 30, 30] < d[15, 30, 30] - 0.3  # 2 mm under the pole vs 20 mm deep
    assert distance_map(np.zeros((3, 4, 5), bool), sp).max() == 0
    # as a slice channel: the same squares, resampled like the images, in [0, 1]
    ss = extract_slices({"ct": ball.astype(np.float32)}, ball, sp, ["ct", "mask", "distance"], size=32,
                        margin_mm=5.0, min_area_fraction=0.0, distance_scale_mm=5.0)
    assert ss.channels == ("ct", "mask", "distance") and 0 <= ss.images.min() and ss.images.max() <= 1
    c = 16
    deep = ss.images[:, 2, c, c]
    assert deep[len(deep) // 2] > 0.95 and deep[0] < deep[len(deep) // 2] - 0.3


@settings(max_examples=40, deadline=None)
@given(sx=st.floats(0.4, 2.5), sy=st.floats(0.4, 2.5), r0=st.integers(0, 30), c0=st.integers(0, 30),
       h=st.integers(1, 20), w=st.integers(1, 20), margin=st.floats(0, 30))
def test_roi_always_holds_tumour_plus_margin(sx, sy, r0, c0, h, w, margin):
    m = np.zeros((1, 60, 60), bool)
    m[0, r0:r0 + h, c0:c0 + w] = True
    sq = tumour_squares(m, (sx, sy, 1.0), margin)[0]
    half = sq.side_mm / 2
    # tumour voxel edges, in mm, must lie inside the square shrunk by the margin
    assert sq.centre_x_mm - half + margin <= (c0 - 0.5) * sx + 1e-9
    assert sq.centre_x_mm + half - margin >= (c0 + w - 0.5) * sx - 1e-9
    assert sq.centre_y_mm - half + margin <= (r0 - 0.5) * sy + 1e-9
    assert sq.centre_y_mm + half - margin >= (r0 + h - 0.5) * sy - 1e-9
    # and it is the smallest such square
    assert sq.tumour_side_mm == pytest.approx(max(w * sx, h * sy))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), sx=st.floats(0.5, 3.0), sy=st.floats(0.5, 3.0), margin=st.floats(0, 25),
       size=st.sampled_from([16, 33, 64]))
def test_batched_resampling_equals_the_per_slice_spline(seed, sx, sy, margin, size):
    """resample_squares (windows, one prefilter, separable matrix products) vs scipy's
    map_coordinates on the whole slice (crop_square): same cubic spline, tumours at borders."""
    from dlscore.slices import resample_squares
    rng = np.random.default_rng(seed)
    vol = rng.random((2, 4, 40, 50)).astype(np.float32)
    m = rng.random((4, 40, 50)) > 0.995
    m[rng.integers(4), rng.integers(40), rng.integers(50)] = True
    sq = tumour_squares(m, (sx, sy, 2.0), margin)
    got = resample_squares(vol, sq, (sx, sy, 2.0), size)
    ref = np.stack([[crop_square(vol[c][s.z], s, (sx, sy, 2.0), size, 3) for c in range(2)] for s in sq])
    np.testing.assert_allclose(got, ref, atol=2e-4)


def test_slices_record_physical_positions():
    m = _disc_mask()
    vol = {"ct": np.where(m, 0.5, 0.0).astype(np.float32)}
    ss = extract_slices(vol, m, (0.5, 0.5, 3.0), ["ct"], size=16, min_area_fraction=0.0,
                        origin_xyz=(-100.0, 20.0, 7.0))
    np.testing.assert_allclose(ss.z_mm, 7.0 + 3.0 * np.arange(5))
    np.testing.assert_allclose(ss.centre_mm[:, 0], -100.0 + 50 * 0.5)
    np.testing.assert_allclose(ss.centre_mm[:, 1], 20.0 + 40 * 0.5)
