#!/usr/bin/env python3
"""Reference fixtures for the ImageNet-C, Tiny-ImageNet-C, CIFAR-10-C and MNIST-C corruptions.

Run through bench/corruption_reference.sh, which creates the pinned venv
bench/.venv-corruptions and calls this file with its python.

Writes, under augment/tests/fixtures/corruptions/:
  inputs/{astronaut,coffee,chelsea}_{224,64,32}.png  the clean inputs
  reference.json                                   statistics of the outputs

Tables:
  imagenet_c  224 px  the 19 functions of imagecorruptions 1.1.2, called as
                      its corrupt() does (a PIL image in, output cast to uint8)
  tiny_imagenet_c
              64 px   the same at make_tinyimagenet_c.py's constants
  cifar10_c   32 px   CIFAR-10-C's algorithms and constants from Hendrycks'
                      make_cifar_c.py, re-implemented below on top of
                      imagecorruptions' size-generic helpers
  mnist_c     28 px   MNIST-C's corruptions.py (Mu & Gilmer), re-implemented
                      below, on three gray digits (inputs/digit*_28.png,
                      committed, not generated)

Per (table, image, op, severity 1..5) the output is converted the way the
benchmarks stored it, np.uint8(np.clip(out, 0, 255)) (truncation), and
compared with the uint8 input: mean_abs_change / mean_change are the mean
over all H*W*3 values of |out - in| / (out - in), averaged over `seeds`
runs (np.random.seed(s) before run s). Deterministic ops also store the
output's values at the fixed flat indices `sample_indices[size]` of the
row-major HxWx3 array.

Usage: corruption_reference.py [--sheets DIR] [--out DIR] [--only OP,...] [--tables T,...]
  --sheets DIR  also write one PNG contact sheet per table and op
                (input, then each severity, seed 0, the table's first image)
  --only OPS    recompute only these ops, keeping the other cases of the
                existing reference.json
  --tables T    recompute only these tables (same), e.g. tiny_imagenet_c
"""

import argparse
import functools
import importlib
import io
import json
import math
import os
import sys
import time
import types
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "augment" / "tests" / "fixtures" / "corruptions"

IMAGES = ["astronaut", "coffee", "chelsea"]
OPS = [
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur",
    "snow", "frost", "fog", "spatter", "brightness", "contrast", "saturate",
    "elastic_transform", "pixelate", "jpeg_compression",
]
DETERMINISTIC = {
    "gaussian_blur", "defocus_blur", "zoom_blur", "brightness", "contrast",
    "saturate", "pixelate", "jpeg_compression",
}
SEEDS = {224: 3, 64: 6, 32: 10, 28: 20}  # seeds per random op, by image size
# Ops whose strength varies much from seed to seed get more: frost draws
# one of five photographs of very different brightness, and spatter at
# severity 1 changes few pixels, through a threshold in the tail of a
# smooth random field (its strength varies by half from seed to seed).
SEEDS_BY_OP = {"frost": {224: 30, 64: 60, 32: 60}, "spatter": {224: 100, 64: 100, 32: 100, 28: 100}}
N_SAMPLES = 1024
SAMPLE_SEED = 12345


# ---------------------------------------------------------------------------
# Compatibility shims. imagecorruptions 1.1.2 was written against numpy 1.x,
# scikit-image < 0.19 and setuptools' pkg_resources; these make it import and
# behave the same way on the pinned current versions.
# ---------------------------------------------------------------------------

def apply_shims():
    # numpy 2 removed the np.float_ alias (plasma_fractal uses it).
    if not hasattr(np, "float_"):
        np.float_ = np.float64

    # `from scipy.ndimage.interpolation import map_coordinates`: deprecated
    # (removal announced for SciPy 2.0); alias the module if it is gone.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="scipy")
    warnings.filterwarnings("ignore", message=".*scipy.ndimage.interpolation.*")
    try:
        importlib.import_module("scipy.ndimage.interpolation")
    except ImportError:
        import scipy.ndimage
        sys.modules["scipy.ndimage.interpolation"] = scipy.ndimage

    # `from pkg_resources import resource_filename` (frost image paths):
    # setuptools may be missing or may have dropped pkg_resources.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module("pkg_resources")
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(module_name, resource):
            mod = importlib.import_module(module_name)
            return os.path.join(os.path.dirname(mod.__file__), resource)

        shim.resource_filename = resource_filename
        sys.modules["pkg_resources"] = shim

    # scikit-image 0.19 replaced gaussian(..., multichannel=bool) with
    # channel_axis; 0.26 rejects the old keyword.
    import skimage.filters
    original_gaussian = skimage.filters.gaussian

    def gaussian(image, *args, multichannel=None, **kwargs):
        if multichannel is not None:
            kwargs.setdefault("channel_axis", -1 if multichannel else None)
        return original_gaussian(image, *args, **kwargs)

    skimage.filters.gaussian = gaussian

    # scikit-image >= 0.19 draws random_noise's values from a fresh, unseeded
    # np.random.default_rng() unless rng is given, so impulse_noise ignored
    # np.random.seed. Seed it from the legacy global stream instead (same
    # per-value salt & pepper algorithm, reproducible under np.random.seed).
    import skimage.util
    original_random_noise = skimage.util.random_noise

    def random_noise(image, mode="gaussian", rng=None, clip=True, **kwargs):
        if rng is None:
            rng = int(np.random.randint(0, 2**31 - 1))
        return original_random_noise(image, mode=mode, rng=rng, clip=clip, **kwargs)

    skimage.util.random_noise = random_noise

    # imagecorruptions.corruptions did `from skimage.filters import gaussian`
    # at import, so patch its module-level name too.
    import imagecorruptions.corruptions as ic
    ic.gaussian = gaussian
    return gaussian


apply_shims()

import cv2  # noqa: E402
import skimage as sk  # noqa: E402
import skimage.color  # noqa: E402,F401
import skimage.feature  # noqa: E402,F401
import skimage.transform  # noqa: E402,F401
from PIL import Image  # noqa: E402
from scipy.ndimage import map_coordinates, zoom as scizoom  # noqa: E402

import imagecorruptions  # noqa: E402
import imagecorruptions.corruptions as ic  # noqa: E402

gaussian = ic.gaussian  # the shimmed skimage.filters.gaussian


# ---------------------------------------------------------------------------
# CIFAR-10-C. Algorithms and constants follow make_cifar_c.py in
# github.com/hendrycks/robustness (ImageNet-C/create_c/make_cifar_c.py,
# commit 8190fe3); "L123" below is a line of that file. The code is written
# anew; imagecorruptions' plasma_fractal, disk and _motion_blur, and its copy
# of the frost photos (byte-identical to create_c/frost*.{png,jpg}), are used
# where make_cifar_c.py's own helpers compute the same thing.
# ---------------------------------------------------------------------------

CIFAR = {
    "size": 32,
    "frost_scale": 0.2,                                                   # L242
    "gaussian_noise": [0.04, 0.06, 0.08, 0.09, 0.10],                     # L131
    "shot_noise": [500, 250, 100, 75, 50],                                # L138
    "impulse_noise": [0.01, 0.02, 0.03, 0.05, 0.07],                      # L145
    "speckle_noise": [0.06, 0.1, 0.12, 0.16, 0.2],                        # L152
    "gaussian_blur": [0.4, 0.6, 0.7, 0.8, 1.0],                           # L159
    # (sigma, max_delta, iterations)
    "glass_blur": [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1),
                   (0.25, 1, 2), (0.4, 1, 2)],                            # L167
    # (disk radius, alias blur)
    "defocus_blur": [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],  # L184
    # (radius, sigma) of ImageMagick's MotionBlurImage
    "motion_blur": [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)],          # L198
    "zoom_blur": [(1, 1.06, 0.01), (1, 1.11, 0.01), (1, 1.16, 0.01),
                  (1, 1.21, 0.01), (1, 1.26, 0.01)],                      # L216 (np.arange args)
    # (strength, wibble decay)
    "fog": [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)],        # L229
    # (image weight, frost weight)
    "frost": [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)],  # L238
    # (loc, scale, zoom, threshold, blur radius, blur sigma, image weight)
    "snow": [(0.1, 0.2, 1, 0.6, 8, 3, 0.95),
             (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
             (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
             (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
             (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)],                        # L251-255
    # (loc, scale, sigma, threshold, intensity / mud sigma, mud?)
    "spatter": [(0.62, 0.1, 0.7, 0.7, 0.5, 0),
                (0.65, 0.1, 0.8, 0.7, 0.5, 0),
                (0.65, 0.3, 1, 0.69, 0.5, 0),
                (0.65, 0.1, 0.7, 0.69, 0.6, 1),
                (0.65, 0.1, 0.5, 0.68, 0.6, 1)],                          # L279-283
    "contrast": [0.75, 0.5, 0.4, 0.3, 0.15],                              # L334
    "brightness": [0.05, 0.1, 0.15, 0.2, 0.3],                            # L342
    # (saturation scale, offset)
    "saturate": [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)],     # L353
    "jpeg_compression": [80, 65, 58, 50, 40],                             # L364
    "pixelate": [0.95, 0.9, 0.85, 0.75, 0.65],                            # L374
    # (alpha, sigma, affine jitter) = IMSIZE * (...), IMSIZE = 32
    "elastic_transform": [(32 * 0, 32 * 0, 32 * 0.08),
                          (32 * 0.05, 32 * 0.2, 32 * 0.07),
                          (32 * 0.08, 32 * 0.06, 32 * 0.06),
                          (32 * 0.1, 32 * 0.04, 32 * 0.05),
                          (32 * 0.1, 32 * 0.03, 32 * 0.03)],              # L384-389
}

# Tiny-ImageNet-C: make_tinyimagenet_c.py in the same repository and commit
# runs the same algorithms as make_cifar_c.py at 64 px with these constants
# ("L" below: lines of that file). Its driver then saved every image as a
# JPEG of quality 85 (L111); that is storage, not the corruption, and is
# not reproduced.
TINY = {
    "size": 64,
    "frost_scale": 0.3,                                                   # L360
    "gaussian_noise": [0.04, 0.08, 0.12, 0.15, 0.18],                     # L249
    "shot_noise": [250, 100, 50, 30, 15],                                 # L256
    "impulse_noise": [0.01, 0.02, 0.05, 0.08, 0.14],                      # L263
    "speckle_noise": [0.15, 0.2, 0.25, 0.3, 0.35],                        # L270
    "gaussian_blur": [0.5, 0.75, 1, 1.25, 1.5],                           # L277
    "glass_blur": [(0.1, 1, 1), (0.5, 1, 1), (0.6, 1, 2),
                   (0.7, 2, 1), (0.9, 2, 2)],                             # L285
    "defocus_blur": [(0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)],  # L302
    "motion_blur": [(10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)],     # L316
    "zoom_blur": CIFAR["zoom_blur"],                                      # L334-335
    "fog": [(0.4, 3), (0.7, 3), (1, 2.5), (1.5, 2), (2, 1.75)],           # L347
    "frost": [(1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)],  # L356
    "snow": [(0.1, 0.2, 1, 0.6, 8, 3, 0.8),
             (0.1, 0.2, 1, 0.5, 10, 4, 0.8),
             (0.15, 0.3, 1.75, 0.55, 10, 4, 0.7),
             (0.25, 0.3, 2.25, 0.6, 12, 6, 0.65),
             (0.3, 0.3, 1.25, 0.65, 14, 12, 0.6)],                        # L369-373
    "spatter": [(0.62, 0.1, 0.7, 0.7, 0.6, 0),
                (0.65, 0.1, 0.8, 0.7, 0.6, 0),
                (0.65, 0.3, 1, 0.69, 0.6, 0),
                (0.65, 0.1, 0.7, 0.68, 0.6, 1),
                (0.65, 0.1, 0.5, 0.67, 0.6, 1)],                          # L397-401
    "contrast": [0.4, 0.3, 0.2, 0.1, 0.05],                               # L452
    "brightness": [0.1, 0.2, 0.3, 0.4, 0.5],                              # L460
    "saturate": [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (30, 0.2)],        # L471
    "jpeg_compression": [65, 58, 50, 40, 25],                             # L482
    "pixelate": [0.9, 0.8, 0.7, 0.6, 0.5],                                # L492
    "elastic_transform": [(64 * 0, 64 * 0, 64 * 0.08),
                          (64 * 0.05, 64 * 0.3, 64 * 0.06),
                          (64 * 0.1, 64 * 0.08, 64 * 0.06),
                          (64 * 0.1, 64 * 0.03, 64 * 0.03),
                          (64 * 0.16, 64 * 0.03, 64 * 0.02)],             # L503-507
}

FROST_DIR = Path(ic.__file__).resolve().parent / "frost"
FROST_FILES = ["frost1.png", "frost2.png", "frost3.png",
               "frost4.jpg", "frost5.jpg", "frost6.jpg"]
_frost_cache = {}


def _unit(x, dtype=None):
    """PIL image or array -> float array scaled to [0, 1]."""
    if dtype is None:
        return np.array(x) / 255.0  # float64, as np.array(x) / 255. does
    return np.array(x, dtype=dtype) / 255.0


def _small_clipped_zoom(img, factor):
    """make_cifar_c.py L112-122: crop the central ceil(h / factor) square,
    zoom it bilinearly and cut the centre h x h out of the result.
    (imagecorruptions' clipped_zoom keeps the top-left corner instead.)"""
    h = img.shape[0]
    side = int(np.ceil(h / factor))
    top = (h - side) // 2
    zoomed = scizoom(img[top:top + side, top:top + side], (factor, factor, 1), order=1)
    cut = (zoomed.shape[0] - h) // 2
    return zoomed[cut:cut + h, cut:cut + h]


def small_gaussian_noise(x, severity, t):  # L130-134
    scale = t["gaussian_noise"][severity - 1]
    v = _unit(x)
    return np.clip(v + np.random.normal(size=v.shape, scale=scale), 0, 1) * 255


def small_shot_noise(x, severity, t):  # L137-141
    lam = t["shot_noise"][severity - 1]
    v = _unit(x)
    return np.clip(np.random.poisson(v * lam) / lam, 0, 1) * 255


def small_impulse_noise(x, severity, t):  # L144-148
    amount = t["impulse_noise"][severity - 1]
    v = sk.util.random_noise(_unit(x), mode="s&p", amount=amount)
    return np.clip(v, 0, 1) * 255


def small_speckle_noise(x, severity, t):  # L151-155
    scale = t["speckle_noise"][severity - 1]
    v = _unit(x)
    return np.clip(v + v * np.random.normal(size=v.shape, scale=scale), 0, 1) * 255


def small_gaussian_blur(x, severity, t):  # L158-162
    sigma = t["gaussian_blur"][severity - 1]
    return np.clip(gaussian(_unit(x), sigma=sigma, channel_axis=-1), 0, 1) * 255


def small_glass_blur(x, severity, t):  # L165-180
    sigma, delta, iterations = t["glass_blur"][severity - 1]
    img = np.uint8(gaussian(_unit(x), sigma=sigma, channel_axis=-1) * 255)
    rows, cols = img.shape[:2]  # the reference hard-codes 32
    for _ in range(iterations):
        for h in range(rows - delta, delta, -1):
            for w in range(cols - delta, delta, -1):
                dx, dy = np.random.randint(-delta, delta, size=(2,))
                # The reference "swaps" with a tuple assignment of two numpy
                # views; the second store reads the view the first store
                # already overwrote, so the pixel just takes its neighbour's
                # value and the neighbour is left unchanged.
                img[h, w] = img[h + dy, w + dx]
    return np.clip(gaussian(img / 255.0, sigma=sigma, channel_axis=-1), 0, 1) * 255


def small_defocus_blur(x, severity, t):  # L183-194
    radius, alias = t["defocus_blur"][severity - 1]
    v = _unit(x)
    kernel = ic.disk(radius=radius, alias_blur=alias)  # same as L34-46
    planes = [cv2.filter2D(v[:, :, ch], -1, kernel) for ch in range(3)]
    return np.clip(np.stack(planes, axis=2), 0, 1) * 255


def small_motion_blur(x, severity, t):  # L197-212
    radius, sigma = t["motion_blur"][severity - 1]
    angle = np.random.uniform(-45, 45)
    # DEVIATION: the reference runs ImageMagick's MotionBlurImage through Wand
    # and decodes its 8-bit PNG; here imagecorruptions' numpy emulation of it,
    # rounded to 8 bits as ImageMagick's PNG output is.
    out = ic._motion_blur(np.array(x), radius=radius, sigma=sigma, angle=angle)
    return np.clip(np.round(out), 0, 255)


def small_zoom_blur(x, severity, t):  # L215-225
    factors = np.arange(*t["zoom_blur"][severity - 1])
    v = _unit(x).astype(np.float32)
    acc = np.zeros_like(v)
    for factor in factors:
        acc += _small_clipped_zoom(v, factor)
    return np.clip((v + acc) / (len(factors) + 1), 0, 1) * 255


def small_fog(x, severity, t):  # L228-234
    strength, decay = t["fog"][severity - 1]
    v = _unit(x)
    peak = v.max()
    # make_cifar_c's plasma_fractal (L63) defaults to mapsize=32, Tiny's to 64
    n = t["size"]
    v += strength * ic.plasma_fractal(mapsize=n, wibbledecay=decay)[:n, :n][..., np.newaxis]
    return np.clip(v * peak / (peak + strength), 0, 1) * 255


def _frost_photo(idx, scale):
    if (idx, scale) not in _frost_cache:
        photo = cv2.imread(str(FROST_DIR / FROST_FILES[idx]))
        # L242: the photos are shrunk (bilinear) before cropping, to a fifth
        # for CIFAR-10-C and to 0.3 for Tiny-ImageNet-C
        _frost_cache[(idx, scale)] = cv2.resize(photo, (0, 0), fx=scale, fy=scale)
    return _frost_cache[(idx, scale)]


def small_frost(x, severity, t):  # L237-247
    w_img, w_frost = t["frost"][severity - 1]
    idx = np.random.randint(5)  # L239: randint(5), so frost6.jpg is never used
    photo = _frost_photo(idx, t["frost_scale"])
    n = t["size"]
    top = np.random.randint(0, photo.shape[0] - n)
    left = np.random.randint(0, photo.shape[1] - n)
    crop = photo[top:top + n, left:left + n][..., ::-1]  # BGR -> RGB
    return np.clip(w_img * np.array(x) + w_frost * crop, 0, 255)


def small_snow(x, severity, t):  # L250-275
    loc, scale, factor, thresh, radius, sigma, keep = t["snow"][severity - 1]
    v = _unit(x, np.float32)
    flakes = np.random.normal(size=v.shape[:2], loc=loc, scale=scale)
    flakes = _small_clipped_zoom(flakes[..., np.newaxis], factor)
    flakes[flakes < thresh] = 0
    # L263: the layer goes to ImageMagick as an 8-bit gray PNG (truncated)
    flakes8 = (np.clip(flakes.squeeze(), 0, 1) * 255).astype(np.uint8)
    angle = np.random.uniform(-135, -45)
    # DEVIATION: Wand's motion blur (L266-271) replaced by imagecorruptions'
    # numpy emulation, rounded back to 8 bits like the PNG Wand returns.
    blurred = ic._motion_blur(flakes8.astype(np.float32), radius=radius, sigma=sigma, angle=angle)
    flakes = (np.clip(np.round(blurred), 0, 255).astype(np.uint8) / 255.0)[..., np.newaxis]
    gray = cv2.cvtColor(v, cv2.COLOR_RGB2GRAY).reshape(v.shape[0], v.shape[1], 1)
    v = keep * v + (1 - keep) * np.maximum(v, gray * 1.5 + 0.5)
    return np.clip(v + flakes + np.rot90(flakes, k=2), 0, 1) * 255


def small_spatter(x, severity, t):  # L278-330
    loc, scale, sigma, thresh, strength, mud = t["spatter"][severity - 1]
    v = _unit(x, np.float32)
    liquid = np.random.normal(size=v.shape[:2], loc=loc, scale=scale)
    liquid = gaussian(liquid, sigma=sigma)
    liquid[liquid < thresh] = 0
    if mud == 0:
        # water: edge distance map of the liquid mask, embossed and equalised
        liquid = (liquid * 255).astype(np.uint8)
        dist = cv2.distanceTransform(255 - cv2.Canny(liquid, 50, 150), cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
        emboss = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        dist = cv2.blur(cv2.filter2D(dist, cv2.CV_8U, emboss), (3, 3)).astype(np.float32)
        m = cv2.cvtColor(liquid * dist, cv2.COLOR_GRAY2BGRA)
        m /= np.max(m, axis=(0, 1))
        m *= strength
        turquoise = np.ones(m.shape[:2] + (3,), np.float32) * (
            np.array([175, 238, 238], np.float32) / 255.0)
        turquoise = cv2.cvtColor(turquoise, cv2.COLOR_BGR2BGRA)
        v = cv2.cvtColor(v, cv2.COLOR_BGR2BGRA)
        return cv2.cvtColor(np.clip(v + m * turquoise, 0, 1), cv2.COLOR_BGRA2BGR) * 255
    # mud: blurred mask, hard-thresholded, replaces the image with brown
    m = gaussian((liquid > thresh).astype(np.float32), sigma=strength)
    m[m < 0.8] = 0
    brown = np.array([63, 42, 20], np.float32) / 255.0 * m[..., np.newaxis]
    v *= 1 - m[..., np.newaxis]
    return np.clip(v + brown, 0, 1) * 255


def small_contrast(x, severity, t):  # L333-338
    k = t["contrast"][severity - 1]
    v = _unit(x)
    mean = v.mean(axis=(0, 1), keepdims=True)
    return np.clip((v - mean) * k + mean, 0, 1) * 255


def small_brightness(x, severity, t):  # L341-349
    shift = t["brightness"][severity - 1]
    hsv = sk.color.rgb2hsv(_unit(x))
    hsv[:, :, 2] = np.clip(hsv[:, :, 2] + shift, 0, 1)
    return np.clip(sk.color.hsv2rgb(hsv), 0, 1) * 255


def small_saturate(x, severity, t):  # L352-360
    mul, add = t["saturate"][severity - 1]
    hsv = sk.color.rgb2hsv(_unit(x))
    hsv[:, :, 1] = np.clip(hsv[:, :, 1] * mul + add, 0, 1)
    return np.clip(sk.color.hsv2rgb(hsv), 0, 1) * 255


def small_jpeg_compression(x, severity, t):  # L363-370
    buf = io.BytesIO()
    x.save(buf, "JPEG", quality=t["jpeg_compression"][severity - 1])
    return Image.open(buf)


def small_pixelate(x, severity, t):  # L373-379: BOX down, BOX back up
    k = t["pixelate"][severity - 1]
    w, h = x.size  # the reference hard-codes 32
    return x.resize((int(w * k), int(h * k)), Image.BOX).resize((w, h), Image.BOX)


def small_elastic_transform(x, severity, t):  # L383-413
    alpha, sigma, jitter = t["elastic_transform"][severity - 1]
    v = _unit(x, np.float32)
    rows, cols, chans = v.shape
    # random affine: jitter three points around the centre
    centre = np.float32((rows, cols)) // 2
    half = min(rows, cols) // 3
    src = np.float32([centre + half,
                      [centre[0] + half, centre[1] - half],
                      centre - half])
    dst = src + np.random.uniform(-jitter, jitter, size=src.shape).astype(np.float32)
    v = cv2.warpAffine(v, cv2.getAffineTransform(src, dst), (cols, rows),
                       borderMode=cv2.BORDER_REFLECT_101)
    # smooth random displacement field
    dx = (gaussian(np.random.uniform(-1, 1, size=(rows, cols)), sigma,
                   mode="reflect", truncate=3) * alpha).astype(np.float32)
    dy = (gaussian(np.random.uniform(-1, 1, size=(rows, cols)), sigma,
                   mode="reflect", truncate=3) * alpha).astype(np.float32)
    yy, xx, zz = np.meshgrid(np.arange(rows), np.arange(cols), np.arange(chans), indexing="ij")
    coords = [(yy + dy[..., None]).reshape(-1), (xx + dx[..., None]).reshape(-1), zz.reshape(-1)]
    out = map_coordinates(v, coords, order=1, mode="reflect").reshape(v.shape)
    return np.clip(out, 0, 1) * 255


def small_table(t):
    """The small-image functions bound to one table's constants."""
    return {op: functools.partial(globals()["small_" + op], t=t) for op in OPS}


IMAGENET_FUNCS = {op: imagecorruptions.corruption_dict[op] for op in OPS}
TABLES = [
    ("imagenet_c", 224, IMAGENET_FUNCS),
    ("tiny_imagenet_c", 64, small_table(TINY)),
    ("cifar10_c", 32, small_table(CIFAR)),
]


# ---------------------------------------------------------------------------
# MNIST-C. Algorithms and constants follow corruptions.py in
# github.com/google-research/mnist-c (commit bba57e4); "M123" below is a
# line of that file. Written anew; imagecorruptions' plasma_fractal (the
# same diamond-square code) and _motion_blur are used where corruptions.py
# computes the same thing. Inputs are 28x28 gray digits (PIL mode L).
# MNIST-C's dataset uses one severity per corruption (`PUBLISHED`); ops with
# a five-level list are checked at all five levels, the four without a
# severity (stripe, dotted_line, zigzag, canny_edges) at Temper's severity 3.
# ---------------------------------------------------------------------------

MNIST = {
    "shot_noise": [60, 25, 12, 5, 3],                                     # M224
    "impulse_noise": [0.03, 0.06, 0.09, 0.17, 0.27],                      # M232
    # (sigma, max_delta, iterations)
    "glass_blur": [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)],  # M267
    # (radius, sigma) of ImageMagick's MotionBlurImage
    "motion_blur": [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],       # M297
    "shear": [0.2, 0.4, 0.6, 0.8, 1.0],                                   # M512
    "rotate": [0.2, 0.4, 0.6, 0.8, 1.0],                                  # M533
    "scale": [1 / 0.9, 1 / 0.8, 1 / 0.7, 1 / 0.6, 1 / 0.5],               # M553
    "translate": [1, 2, 3, 4, 5],                                         # M570
    "brightness": [0.1, 0.2, 0.3, 0.4, 0.5],                              # M423
    # (strength, wibble decay)
    "fog": [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)],      # M328
    # (loc, scale, sigma, threshold, mud sigma, unused)
    "spatter": [(0.65, 0.3, 4, 0.69, 0.6, 0),
                (0.65, 0.3, 3, 0.68, 0.6, 0),
                (0.65, 0.3, 2, 0.68, 0.5, 0),
                (0.65, 0.3, 1, 0.65, 1.5, 1),
                (0.67, 0.4, 1, 0.65, 1.5, 1)],                            # M389-393
}
# The severity each corruption's published dataset uses (the default
# argument of its function in corruptions.py).
PUBLISHED = {
    "shot_noise": 5, "impulse_noise": 4, "glass_blur": 1, "motion_blur": 1,
    "shear": 2, "scale": 3, "rotate": 2, "brightness": 5, "translate": 3,
    "fog": 5, "spatter": 4,
}
MNIST_OPS = [
    "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear",
    "scale", "rotate", "brightness", "translate", "stripe", "fog", "spatter",
    "dotted_line", "zigzag", "canny_edges",
]
MNIST_UNGRADED_SEVERITY = 3
MNIST_DETERMINISTIC = {"scale", "brightness", "stripe", "canny_edges"}
DIGITS = ["digit2", "digit4", "digit8"]


def mnist_shot_noise(x, severity):  # M223-228
    lam = MNIST["shot_noise"][severity - 1]
    v = _unit(x)
    return np.clip(np.random.poisson(v * lam) / float(lam), 0, 1) * 255


def mnist_impulse_noise(x, severity):  # M231-236
    amount = MNIST["impulse_noise"][severity - 1]
    return np.clip(sk.util.random_noise(_unit(x), mode="s&p", amount=amount), 0, 1) * 255


def mnist_glass_blur(x, severity):  # M265-282
    sigma, delta, iterations = MNIST["glass_blur"][severity - 1]
    # gaussian(..., multichannel=True) on a 2-D image: the last axis is
    # taken for channels, so this blurs along the rows' axis 0 only.
    img = np.uint8(gaussian(_unit(x), sigma=sigma, channel_axis=-1) * 255)
    for _ in range(iterations):
        for h in range(28 - delta, delta, -1):
            for w in range(28 - delta, delta, -1):
                if np.random.choice([True, False], 1)[0]:
                    dx, dy = np.random.randint(-delta, delta, size=(2,))
                    hp, wp = h + dy, w + dx
                    # scalars on a 2-D array: a real swap
                    img[h, w], img[hp, wp] = img[hp, wp], img[h, w]
    return np.clip(gaussian(img / 255.0, sigma=sigma, channel_axis=-1), 0, 1) * 255


def mnist_motion_blur(x, severity):  # M296-308
    radius, sigma = MNIST["motion_blur"][severity - 1]
    angle = np.random.uniform(-45, 45)
    # DEVIATION, as for CIFAR-10-C: imagecorruptions' numpy emulation of
    # ImageMagick's MotionBlurImage, rounded to 8 bits like Wand's PNG.
    out = ic._motion_blur(np.array(x).astype(np.float32), radius=radius, sigma=sigma, angle=angle)
    return np.clip(np.round(out), 0, 255)


def _mnist_warp(x, **affine):
    """M511-580: an affine map about the centre (13.5, 13.5), applied with
    skimage's warp as the inverse map (bilinear, zero outside)."""
    aff = sk.transform.AffineTransform(**affine)
    a1, a2 = aff.params[0, :2]
    b1, b2 = aff.params[1, :2]
    aff = sk.transform.AffineTransform(translation=[13.5 * (1 - a1 - a2), 13.5 * (1 - b1 - b2)], **affine)
    return np.clip(sk.transform.warp(_unit(x), inverse_map=aff), 0, 1) * 255


def mnist_shear(x, severity):  # M511-529
    c = MNIST["shear"][severity - 1] * np.random.choice([-1, 1], 1)[0]
    # MNIST-C was made with scikit-image 0.15, whose AffineTransform(shear=c)
    # is [[1, -sin c], [0, cos c]]; 0.20 changed it to [[1, -tan c], [0, 1]].
    a1, a2, b1, b2 = 1.0, -np.sin(c), 0.0, np.cos(c)
    m = np.array([[a1, a2, 13.5 * (1 - a1 - a2)], [b1, b2, 13.5 * (1 - b1 - b2)], [0, 0, 1]])
    return np.clip(sk.transform.warp(_unit(x), inverse_map=sk.transform.AffineTransform(matrix=m)), 0, 1) * 255


def mnist_rotate(x, severity):  # M532-549
    c = MNIST["rotate"][severity - 1] * np.random.choice([-1, 1], 1)[0]
    return _mnist_warp(x, rotation=c)


def mnist_scale(x, severity):  # M552-566
    c = MNIST["scale"][severity - 1]
    return _mnist_warp(x, scale=(c, c))


def mnist_translate(x, severity):  # M569-579
    c = MNIST["translate"][severity - 1]
    bit = np.random.choice([-1, 1], 2)
    aff = sk.transform.AffineTransform(translation=[c * bit[0], c * bit[1]])
    return np.clip(sk.transform.warp(_unit(x), inverse_map=aff), 0, 1) * 255


def mnist_brightness(x, severity):  # M422-433
    shift = MNIST["brightness"][severity - 1]
    hsv = sk.color.rgb2hsv(sk.color.gray2rgb(_unit(x)))
    hsv[:, :, 2] = np.clip(hsv[:, :, 2] + shift, 0, 1)
    return np.clip(sk.color.rgb2gray(sk.color.hsv2rgb(hsv)), 0, 1) * 255


def mnist_fog(x, severity):  # M327-334
    strength, decay = MNIST["fog"][severity - 1]
    v = _unit(x)
    peak = v.max()
    v = v + strength * ic.plasma_fractal(mapsize=256, wibbledecay=decay)[:28, :28]
    return np.clip(v * peak / (peak + strength), 0, 1) * 255


def mnist_spatter(x, severity):  # M388-410: mud at every severity
    loc, scale, sigma, thresh, mud_sigma, _ = MNIST["spatter"][severity - 1]
    v = _unit(x, np.float32)
    liquid = gaussian(np.random.normal(size=v.shape, loc=loc, scale=scale), sigma=sigma)
    liquid[liquid < thresh] = 0
    m = gaussian(np.where(liquid > thresh, 1, 0).astype(np.float32), sigma=mud_sigma)
    m[m < 0.8] = 0
    colour = 63 / 255.0 * np.ones_like(v) * m
    v *= 1 - m
    return np.clip(v + colour, 0, 1) * 255


def mnist_stripe(x, severity):  # M657-661
    v = np.array(x).astype(np.float32)
    v[:, :7] = 255.0 - v[:, :7]
    v[:, 21:] = 255.0 - v[:, 21:]
    return v


def _line_from_points(c0, r0, c1, r1):  # M185-207
    if c1 == c0:
        return np.zeros((28, 28))
    cc, rr = np.meshgrid(np.linspace(0, 27, 28), np.linspace(0, 27, 28), sparse=True)
    m = (r1 - r0) / (c1 - c0)
    dist = np.clip(np.abs(rr - (m * (cc - c0) + r0)), 0, 2.3 - 1e-10)
    line = np.clip(np.log(1 - dist / 2.3) + 1, 0, 1)
    line[:, :int(np.floor(c0))] = 0
    line[:, int(np.ceil(c1)):] = 0
    return np.clip(line, 0, 1)


def mnist_dotted_line(x, severity):  # M593-606
    v = _unit(x)
    r0, r1 = np.random.randint(low=0, high=27, size=2)
    line = _line_from_points(0, r0, 27, r1)
    idx = np.arange(0, 30, 2)
    off = True
    for i in range(1, len(idx)):
        if off:
            line[:, idx[i - 1]:idx[i]] = 0
        off = not off
    return np.clip(v + line, 0, 1) * 255


def mnist_zigzag(x, severity):  # M609-649
    v = _unit(x)
    a = b = 2.0
    c0, c1 = 2, 25
    r0 = np.random.randint(low=0, high=27)
    r1 = r0 + np.random.randint(low=-5, high=5)
    theta = np.arctan((r1 - r0) / (c1 - c0))
    d = (c1 - c0) / np.cos(theta)
    points = [(0, 0)]
    for i in range(int((d - a) // (2 * a)) + 1):
        r_i = (-1) ** i * b
        points.append(((2 * i + 1) * a, r_i))
    max_c = (2 * a) * (d // (2 * a))
    if d != max_c:
        points.append((d, r_i / (2 * (d - max_c))))
    points = np.array(points).T
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cs, rs = rot.dot(points)
    cs += c0
    rs += r0
    for i in range(1, len(cs)):
        v = np.clip(v + _line_from_points(cs[i - 1], rs[i - 1], cs[i], rs[i]), 0, 1)
    return v * 255


def mnist_canny_edges(x, severity):  # M664-667
    return sk.feature.canny(_unit(x)).astype(np.float32) * 255


MNIST_FUNCS = {op: globals()["mnist_" + op] for op in MNIST_OPS}


def mnist_severities(op):
    return range(1, 6) if op in MNIST else [MNIST_UNGRADED_SEVERITY]


TABLES.append(("mnist_c", 28, MNIST_FUNCS))


def table_cases(table):
    """(ops, images, deterministic ops, severities of an op) of a table."""
    if table == "mnist_c":
        return MNIST_OPS, DIGITS, MNIST_DETERMINISTIC, mnist_severities
    return OPS, IMAGES, DETERMINISTIC, lambda op: range(1, 6)


# ---------------------------------------------------------------------------
# Inputs, running, statistics
# ---------------------------------------------------------------------------

def make_inputs():
    """skimage.data photos, centre-cropped square, LANCZOS to 224, BOX to 64 and 32."""
    from skimage import data
    inputs = {}
    for name in IMAGES:
        a = getattr(data, name)()
        h, w = a.shape[:2]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        square = Image.fromarray(np.ascontiguousarray(a[top:top + s, left:left + s, :3]))
        im224 = square.convert("RGB").resize((224, 224), Image.LANCZOS)
        im32 = im224.resize((32, 32), Image.BOX)
        inputs[(name, 224)] = np.array(im224)
        inputs[(name, 32)] = np.array(im32)
        inputs[(name, 64)] = np.array(im224.resize((64, 64), Image.BOX))
    # MNIST-C: three of the project's own generated digits, committed once
    # (`temper synth --layout csv --train 20 --test 10 --seed 7`, test rows
    # 1, 2 and 5), 28x28 gray.
    for name in DIGITS:
        inputs[(name, 28)] = np.array(Image.open(FIXTURES / "inputs" / f"{name}_28.png").convert("L"))
    return inputs


def to_stored_uint8(out):
    """The benchmarks' storage: np.uint8 of the clipped output (truncation)."""
    if isinstance(out, Image.Image):
        out = np.array(out)
    out = np.asarray(out)
    nans = int(np.isnan(out).sum()) if out.dtype.kind == "f" else 0
    with np.errstate(invalid="ignore"):
        return np.uint8(np.clip(out, 0, 255)), nans


def run_once(fn, img, severity, seed):
    np.random.seed(seed)
    out, nans = to_stored_uint8(fn(Image.fromarray(img), severity))
    if out.shape != img.shape:
        raise RuntimeError(f"{getattr(fn, 'func', fn).__name__}: output shape {out.shape} != {img.shape}")
    return out, nans


def contact_sheet(img, outs, scale):
    tiles = [img] + outs
    h, w = img.shape[:2]
    sheet = Image.new("RGB", (len(tiles) * (w * scale + 4) - 4, h * scale), (255, 255, 255))
    for i, t in enumerate(tiles):
        tile = Image.fromarray(t)
        if scale != 1:
            tile = tile.resize((w * scale, h * scale), Image.NEAREST)
        sheet.paste(tile, (i * (w * scale + 4), 0))
    return sheet


def r4(v):
    return round(float(v), 4)


def dump_json(doc, path):
    """Valid JSON with one case per line (small diffs, no indentation bloat)."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))},")
    lines.append('  "cases": [')
    cases = [json.dumps(c, separators=(",", ":")) for c in doc["cases"]]
    lines.append(",\n".join("    " + c for c in cases))
    lines.append("  ]")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sheets", metavar="DIR", help="write contact sheets (PNG) here")
    ap.add_argument("--out", metavar="DIR", default=str(FIXTURES),
                    help=f"fixture directory (default {FIXTURES.relative_to(ROOT)})")
    ap.add_argument("--only", metavar="OPS", help="comma-separated ops to recompute")
    ap.add_argument("--tables", metavar="TABLES", help="comma-separated tables to recompute")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if only and not only <= set(OPS) | set(MNIST_OPS):
        raise SystemExit(f"unknown ops: {sorted(only - set(OPS) - set(MNIST_OPS))}")
    table_names = [t for t, _, _ in TABLES]
    tables = set(args.tables.split(",")) if args.tables else None
    if tables and not tables <= set(table_names):
        raise SystemExit(f"unknown tables: {sorted(tables - set(table_names))}")

    t_start = time.time()
    out_dir = Path(args.out)
    (out_dir / "inputs").mkdir(parents=True, exist_ok=True)
    sheets = Path(args.sheets) if args.sheets else None
    if sheets:
        sheets.mkdir(parents=True, exist_ok=True)

    inputs = make_inputs()
    for (name, size), img in inputs.items():
        if size == 28:
            continue  # committed, not generated
        p = out_dir / "inputs" / f"{name}_{size}.png"
        Image.fromarray(img).save(p, optimize=True)
        if not np.array_equal(np.array(Image.open(p).convert("RGB")), img):
            raise RuntimeError(f"{p} does not round-trip")

    sample_indices = {}
    for size in (224, 64, 32):
        rng = np.random.default_rng(SAMPLE_SEED)
        idx = rng.choice(size * size * 3, size=N_SAMPLES, replace=False)
        sample_indices[size] = np.sort(idx)
    sample_indices[28] = np.arange(28 * 28)  # gray digits: every pixel

    cases = []
    total_nans = 0
    for table, size, funcs in TABLES:
        ops, images, deterministic, severities = table_cases(table)
        for op in ops:
            if (only and op not in only) or (tables and table not in tables):
                continue
            t_op = time.time()
            fn = funcs[op]
            det = op in deterministic
            n_seeds = 1 if det else SEEDS_BY_OP.get(op, SEEDS)[size]
            per_sev = []
            sheet_outs = []
            for severity in severities(op):
                for name in images:
                    img = inputs[(name, size)]
                    base = img.astype(np.int16)
                    abs_means, means = [], []
                    first = None
                    for seed in range(n_seeds):
                        out, nans = run_once(fn, img, severity, seed)
                        if nans:
                            total_nans += nans
                            print(f"  warning: {table} {op} s{severity} {name} seed {seed}: "
                                  f"{nans} NaN values (stored as np.uint8(nan))", flush=True)
                        if first is None:
                            first = out
                        d = out.astype(np.int16) - base
                        abs_means.append(np.abs(d).mean())
                        means.append(d.mean())
                    case = {
                        "table": table, "size": size, "image": name, "op": op,
                        "severity": severity, "deterministic": det, "seeds": n_seeds,
                        "mean_abs_change": r4(np.mean(abs_means)),
                        "mean_change": r4(np.mean(means)),
                    }
                    if det:
                        again, _ = run_once(fn, img, severity, 1)
                        if not np.array_equal(again, first):
                            raise RuntimeError(f"{table} {op} is not deterministic")
                        case["samples"] = first.reshape(-1)[sample_indices[size]].tolist()
                    else:
                        case["mean_abs_change_sd"] = r4(np.std(abs_means, ddof=1))
                    cases.append(case)
                    if name == images[0]:
                        sheet_outs.append(first)
                per_sev.append(np.mean([c["mean_abs_change"] for c in cases[-len(images):]]))
            if sheets:
                contact_sheet(inputs[(images[0], size)], sheet_outs,
                              1 if size >= 128 else 4).save(sheets / f"{table}_{op}.png")
            print(f"[{table:10s} {size:3d}px] {op:18s} {time.time() - t_op:7.1f}s  "
                  f"mean |change| s1..s5: " + " ".join(f"{v:6.2f}" for v in per_sev), flush=True)

    versions = {
        "imagecorruptions": metadata.version("imagecorruptions"),
        "numpy": np.__version__,
        "scipy": metadata.version("scipy"),
        "scikit-image": sk.__version__,
        "opencv": cv2.__version__,
        "pillow": metadata.version("pillow"),
        "python": ".".join(map(str, sys.version_info[:3])),
    }
    doc = {
        "generator": "bench/corruption_reference.py",
        "versions": versions,
        "sample_indices": {str(k): v.tolist() for k, v in sample_indices.items()},
        "cases": cases,
    }
    path = out_dir / "reference.json"
    if only or tables:
        kept = [c for c in json.loads(path.read_text())["cases"]
                if (only and c["op"] not in only) or (tables and c["table"] not in tables)]
        order = {(t, op): i for i, (t, op) in enumerate((t, op) for t, _, _ in TABLES for op in table_cases(t)[0])}
        doc["cases"] = sorted(kept + cases, key=lambda c: (order[(c["table"], c["op"])], c["severity"]))
    dump_json(doc, path)
    json.loads(path.read_text())  # must parse
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(doc['cases'])} cases"
          f"{', %d NaN values' % total_nans if total_nans else ''}); "
          f"total {time.time() - t_start:.1f}s", flush=True)


if __name__ == "__main__":
    main()
