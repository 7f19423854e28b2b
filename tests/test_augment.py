"""Tests for train/augment.py (random zero-padded crop + horizontal flip).

Most tests use "position-coded" images: channel 0 holds row + 1, channel 1
col + 1 and channel 2 the image index + 1 (mod 256), so from any output pixel that is
not padding one can read back exactly which input pixel (of which image) it
came from, and hence each image's crop offset and flip. The output is then
compared with a NumPy reference of torchvision's RandomCrop(padding=p,
fill=0) + RandomHorizontalFlip with those parameters.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from train.augment import random_crop_flip

H, W, P = 32, 32, 4


def coded_images(batch, height=H, width=W):
  """uint8 (batch, height, width, 3): (row + 1, col + 1, index + 1 mod 256)."""
  rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
  x = np.empty((batch, height, width, 3), np.uint8)
  x[..., 0] = rows + 1
  x[..., 1] = cols + 1
  x[..., 2] = (np.arange(batch) + 1)[:, None, None]
  return x


def reference(image, dy, dx, flip, padding):
  """NumPy RandomCrop(padding, fill=0) then optional horizontal flip."""
  h, w = image.shape[:2]
  padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
  crop = padded[dy : dy + h, dx : dx + w]
  return crop[:, ::-1] if flip else crop


def read_params(out, padding):
  """(dy, dx, flip) per image of an output of coded_images."""
  params = []
  for img in out:
    valid = img[..., 0] > 0
    i, j = np.argwhere(valid)[0]
    r, c = int(img[i, j, 0]) - 1, int(img[i, j, 1]) - 1
    # A crop keeps at least a (H - 2p) x (W - 2p) >= 2 wide block of pixels,
    # so a horizontal neighbour that is also valid exists on one side.
    if j + 1 < img.shape[1] and valid[i, j + 1]:
      flip = int(img[i, j + 1, 1]) - 1 < c
    else:
      flip = int(img[i, j - 1, 1]) - 1 > c
    jj = img.shape[1] - 1 - j if flip else j
    params.append((r - i + padding, c - jj + padding, bool(flip)))
  return params


def check_exact(x, out, padding):
  """out is, per image, the reference crop/flip of the same input image."""
  params = read_params(out, padding)
  for b, (dy, dx, flip) in enumerate(params):
    assert 0 <= dy <= 2 * padding and 0 <= dx <= 2 * padding
    np.testing.assert_array_equal(out[b], reference(x[b], dy, dx, flip, padding))
  return params


augment = jax.jit(random_crop_flip, static_argnames='padding')


def test_shape_dtype_and_exact_semantics():
  x = coded_images(32)
  out = augment(jax.random.key(0), jnp.asarray(x))
  assert out.shape == x.shape and out.dtype == jnp.uint8
  out = np.asarray(out)
  # Every image is exactly a zero-padded crop (+ mirror) of the same image.
  params = check_exact(x, out, P)
  assert len(set(params)) > 20  # offsets/flips really vary within a batch


@pytest.mark.parametrize(
  'shape,padding', [((5, 28, 28, 1), 4), ((6, 9, 13, 2), 2), ((3, 4, 4, 3), 6)]
)
def test_any_shape_and_padding(shape, padding):
  rng = np.random.default_rng(1)
  x = rng.integers(1, 256, shape, dtype=np.uint8)
  out = np.asarray(augment(jax.random.key(3), jnp.asarray(x), padding=padding))
  assert out.shape == shape and out.dtype == np.uint8
  for b in range(shape[0]):
    # Some (dy, dx, flip) reproduces image b from the same input image.
    assert any(
      np.array_equal(out[b], reference(x[b], dy, dx, f, padding))
      for dy in range(2 * padding + 1)
      for dx in range(2 * padding + 1)
      for f in (False, True)
    ), b


def test_value_range_and_images_stay_with_their_index():
  # Image i is constant i + 1 (labels are never touched; the batch order is).
  b = 32  # same shape as the other tests: one compilation
  x = np.broadcast_to((np.arange(b, dtype=np.uint8) + 1)[:, None, None, None], (b, H, W, 3))
  out = np.asarray(augment(jax.random.key(7), jnp.asarray(x)))
  for i in range(b):
    values = set(np.unique(out[i]).tolist())
    assert values <= {0, i + 1}, (i, values)
    assert i + 1 in values
  # All-255 images: padding is the only source of another value.
  full = np.full((32, H, W, 3), 255, np.uint8)
  out = np.asarray(augment(jax.random.key(8), jnp.asarray(full)))
  assert set(np.unique(out).tolist()) <= {0, 255}
  assert (out == 0).any()


def test_padding_zero_is_identity_or_mirror():
  x = np.random.default_rng(2).integers(0, 256, (200, 8, 8, 3), np.uint8)
  out = np.asarray(augment(jax.random.key(1), jnp.asarray(x), padding=0))
  same = np.all(out == x, axis=(1, 2, 3))
  mirror = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
  assert np.all(same ^ mirror)  # exactly one of them (images not symmetric)
  assert 60 < mirror.sum() < 140


def test_offsets_and_flips_uniform():
  # Many 1-image batches (one key each), read back (dy, dx, flip).
  n = 16_200  # 100 expected per (dy, dx, flip) cell
  x = jnp.asarray(coded_images(1))
  keys = jax.random.split(jax.random.key(123), n)
  out = np.asarray(jax.jit(jax.vmap(lambda k: random_crop_flip(k, x)))(keys))
  params = np.array([p for o in out for p in read_params(o, P)])
  side = 2 * P + 1
  cells = np.bincount(params[:, 0] * side + params[:, 1], minlength=side * side)
  assert cells.size == side * side
  assert stats.chisquare(cells).pvalue > 1e-3
  joint = np.bincount(
    (params[:, 0] * side + params[:, 1]) * 2 + params[:, 2], minlength=2 * side * side
  )
  assert stats.chisquare(joint).pvalue > 1e-3
  assert stats.binomtest(int(params[:, 2].sum()), n, 0.5).pvalue > 1e-3


def test_offsets_uniform_and_independent_within_a_batch():
  b = 4096
  x = coded_images(b)
  out = np.asarray(augment(jax.random.key(5), jnp.asarray(x)))
  params = np.array(check_exact(x[:64], out[:64], P) + read_params(out[64:], P))
  side = 2 * P + 1
  cells = np.bincount(params[:, 0] * side + params[:, 1], minlength=side * side)
  assert stats.chisquare(cells).pvalue > 1e-3
  assert stats.binomtest(int(params[:, 2].sum()), b, 0.5).pvalue > 1e-3
  # dy and dx independent, and neighbouring images independent.
  table = np.zeros((side, side))
  np.add.at(table, (params[:, 0], params[:, 1]), 1)
  assert stats.chi2_contingency(table).pvalue > 1e-3
  table = np.zeros((side, side))
  np.add.at(table, (params[:-1, 1], params[1:, 1]), 1)
  assert stats.chi2_contingency(table).pvalue > 1e-3


def test_reproducible_and_key_dependent():
  x = jnp.asarray(coded_images(32))
  a = np.asarray(augment(jax.random.key(11), x))
  np.testing.assert_array_equal(a, np.asarray(augment(jax.random.key(11), x)))
  # A raw uint32 key with the same seed gives the same result.
  raw = augment(jax.random.PRNGKey(11), x)
  np.testing.assert_array_equal(np.asarray(raw), a)
  assert not np.array_equal(a, np.asarray(augment(jax.random.key(12), x)))


def test_vmap_over_trials():
  x = coded_images(32)
  keys = jax.random.split(jax.random.key(0), 3)
  per_trial = jax.jit(jax.vmap(random_crop_flip, in_axes=(0, None)))
  out = np.asarray(per_trial(keys, jnp.asarray(x)))
  assert out.shape == (3,) + x.shape and out.dtype == np.uint8
  for t in range(3):
    check_exact(x, out[t], P)
  for s in range(3):
    for t in range(s + 1, 3):
      assert not np.array_equal(out[s], out[t]), (s, t)
      # Differs image by image, not just somewhere.
      differ = np.any(out[s] != out[t], axis=(1, 2, 3))
      assert differ.mean() > 0.8
  # vmap over (keys, batches) equals one call per trial.
  xs = np.stack([x, x[::-1], np.roll(x, 1, axis=0)])
  vm = np.asarray(jax.jit(jax.vmap(random_crop_flip))(keys, jnp.asarray(xs)))
  for t in range(3):
    np.testing.assert_array_equal(vm[t], np.asarray(augment(keys[t], jnp.asarray(xs[t]))))


def test_inside_scan_with_per_step_keys():
  # The trainer's pattern: per-step keys folded in inside a lax.scan.
  x = jnp.asarray(coded_images(32))

  def body(carry, step):
    out = random_crop_flip(jax.random.fold_in(jax.random.key(4), step), x)
    return carry, out

  _, outs = jax.jit(lambda: jax.lax.scan(body, 0, jnp.arange(4)))()
  outs = np.asarray(outs)
  for s in range(4):
    np.testing.assert_array_equal(
      outs[s], np.asarray(augment(jax.random.fold_in(jax.random.key(4), s), x))
    )
  assert len({outs[s].tobytes() for s in range(4)}) == 4


@pytest.mark.parametrize('kwargs,shape', [({'padding': -1}, (2, 4, 4, 3)), ({}, (4, 4, 3))])
def test_rejects_bad_arguments(kwargs, shape):
  with pytest.raises(ValueError):
    random_crop_flip(jax.random.key(0), jnp.zeros(shape, jnp.uint8), **kwargs)
