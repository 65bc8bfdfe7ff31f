"""The ``demo`` dataset: procedurally generated "horse -> zebra" scenes, offline and deterministic.

Both domains draw the same kind of scene (sky and ground split by a tilted horizon, soft gradients,
clouds, a little noise, and one or two four-legged "animals" standing on the ground). Each scene has a
*variant* k, drawn uniformly from ``n_modes``, that sets its animals' build (body proportions, leg length,
neck, head and tail: ``_BUILDS``) in both domains. In domain A variant k also sets a plain coat colour
(``_COATS``); in domain B the animals of variant k wear texture mode k (``MODE_NAMES``). So content decides
the mode, as in real data (a grey horse and a bay horse should not become the same zebra): a translator that
keeps the animal's build and coat information and paints what domain B shows on that build covers every
mode, and a translator that paints one texture on every animal is visibly wrong to a discriminator that
has seen which texture goes with which build. The background is never changed by the domain: smooth gradients,
or with ``background="textured"`` grass noise below the horizon and sky noise above it (datasets/textures.py).

The test split also gets ``testA_gt/`` (each testA scene with its animals re-textured in the mode of
their variant; background untouched), ``testA_mask/`` and ``testB_mask/`` (object masks, 0/255), and
``labels.json`` (the mode names, the variant of each testA image and the mode of each testB and
testA_gt image).
Every image is a pure function of (seed, domain, split, index): numpy and PIL only, no files or fonts.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from translate.atomic import remove_stale_temps
from translate.config import Background, SyntheticConfig, choices
from translate.datasets.textures import sample_texture, textured_ground, textured_sky
from translate.errors import ConfigError, DataError
from translate.locks import cache_lock
from translate.paths import data_root

log = logging.getLogger(__name__)

GENERATOR_VERSION = 2  # bump when the pictures change, so cached copies are regenerated
MODE_NAMES = ("zebra_stripes", "red_yellow_checker", "blue_dots_on_white", "green_purple_diagonals",
              "black_spots_on_cyan", "magenta_white_bands", "orange_navy_rings", "white_grid_on_black")
_DOMAIN = {"A": 0, "B": 1}
_SPLIT = {"train": 0, "test": 1}
_COLOURS = {"white": (0.95, 0.95, 0.93), "black": (0.08, 0.08, 0.09), "red": (0.85, 0.10, 0.10),
            "yellow": (0.97, 0.85, 0.15), "blue": (0.10, 0.25, 0.85), "green": (0.10, 0.70, 0.20),
            "purple": (0.50, 0.10, 0.60), "cyan": (0.10, 0.80, 0.85), "magenta": (0.85, 0.15, 0.70),
            "orange": (0.98, 0.55, 0.10), "navy": (0.10, 0.10, 0.40)}
# Domain A's coat of each variant (RGB in [0, 1]), each a hint of its mode's colours: dark for zebra
# stripes, chestnut for red/yellow, pale blue-grey for blue dots on white, and so on.
_COATS = ((0.22, 0.20, 0.19), (0.62, 0.28, 0.12), (0.70, 0.74, 0.80), (0.42, 0.46, 0.24),
          (0.20, 0.40, 0.42), (0.74, 0.50, 0.60), (0.80, 0.60, 0.28), (0.40, 0.40, 0.40))
# The build of each variant, shared by both domains: (body height / length, leg length / body height,
# neck length, head size, tail length), the last three relative to the plain build.
_BUILDS = ((0.45, 1.85, 1.0, 1.0, 1.0),  # 0 slender, long legs
           (0.66, 1.05, 0.7, 0.9, 0.6),  # 1 stocky, short legs
           (0.50, 1.45, 1.7, 1.35, 1.0),  # 2 long neck, big head
           (0.55, 1.45, 1.0, 0.8, 2.0),  # 3 long tail, small head
           (0.42, 1.20, 1.3, 1.0, 0.5),  # 4 long low body, short tail
           (0.60, 1.70, 1.0, 1.2, 1.4),  # 5 tall
           (0.52, 1.00, 1.5, 0.8, 1.2),  # 6 short legs, long neck
           (0.62, 1.45, 0.8, 1.4, 0.8))  # 7 heavy head


# ---------------------------------------------------------------------------------------------
# Shapes: soft-edged alpha maps on the pixel grid (about one pixel of anti-aliasing)


def _ellipse(xx, yy, x0, y0, ax, ay, angle=0.0):
    c, s = np.cos(angle), np.sin(angle)
    xr, yr = (xx - x0) * c + (yy - y0) * s, -(xx - x0) * s + (yy - y0) * c
    q2 = (xr / ax) ** 2 + (yr / ay) ** 2
    # (1 - q^2) / |grad q^2| approximates the signed distance to the outline in pixels.
    grad = 2.0 * np.sqrt((xr / ax**2) ** 2 + (yr / ay**2) ** 2) + 1e-6
    return np.clip((1.0 - q2) / grad + 0.5, 0.0, 1.0)


def _bar(xx, yy, x0, half_w, top, bottom):
    return np.clip(half_w - np.abs(xx - x0) + 0.5, 0, 1) * np.clip(np.minimum(yy - top, bottom - yy) + 0.5, 0, 1)


# ---------------------------------------------------------------------------------------------
# Scene parameters: every random number is drawn here, so one scene can be rendered in several styles


def _sample_animal(rng, size, horizon, scale, variant):
    aspect, leg, neck, head, tail = _BUILDS[variant]
    a = size * rng.uniform(*scale)  # body half-length, pixels
    b = a * aspect * rng.uniform(0.93, 1.07)  # body half-height
    legs = b * leg * rng.uniform(0.93, 1.07)
    feet = rng.uniform(min(horizon + 0.08 * size, 0.95 * size), 0.97 * size)
    return {"cx": rng.uniform(0.15 * size, 0.85 * size), "cy": feet - 0.3 * b - legs, "a": a, "b": b,
            "legs": legs, "neck": neck, "head": head, "tail": tail, "facing": float(rng.choice([-1.0, 1.0])),
            "coat": np.array(_COATS[variant]), "tint": rng.uniform(-0.04, 0.04, 3),  # domain A colour
            "period": rng.uniform(0.32, 0.45), "phase": rng.uniform(0, 1, 3)}  # domain B pattern


def _sample_scene(rng, size, n_modes, background="smooth"):
    variant = int(rng.integers(n_modes))  # first, so that it sets the build of the animals drawn below
    horizon = size * rng.uniform(0.3, 0.6)
    sky_top = np.array([0.30, 0.50, 0.85]) + rng.uniform(-0.08, 0.08, 3)
    grass, dry = np.array([0.35, 0.60, 0.25]), np.array([0.70, 0.65, 0.40])
    ground_far = grass + rng.uniform(0.0, 0.6) * (dry - grass) + rng.uniform(-0.05, 0.05, 3)
    n_animals = 2 if rng.random() < 0.35 else 1
    scale = (0.12, 0.2) if n_animals == 1 else (0.09, 0.14)
    animals = sorted((_sample_animal(rng, size, horizon, scale, variant) for _ in range(n_animals)),
                     key=lambda an: an["cy"] + an["legs"])  # far animals first, near ones drawn on top
    clouds = [(rng.uniform(0, size), rng.uniform(0, horizon), size * rng.uniform(0.1, 0.25),
               size * rng.uniform(0.04, 0.08), rng.uniform(0.3, 0.7)) for _ in range(rng.integers(0, 3))]
    scene = {"variant": variant, "horizon": horizon, "tilt": rng.uniform(-0.15, 0.15), "sky_top": sky_top,
             "sky_haze": rng.uniform(0.35, 0.65), "ground_far": ground_far, "ground_dark": rng.uniform(0.6, 0.8),
             "ripple": rng.uniform(0, 2 * np.pi, 2), "clouds": clouds, "animals": animals,
             "noise": rng.normal(0.0, 0.015, (size, size, 3))}
    if background == "textured":  # drawn last: the scene above is the smooth one's
        scene["texture"] = sample_texture(rng, size)
    return scene


def _scene(cfg: SyntheticConfig, domain: str, split: str, index: int) -> dict:
    return _sample_scene(scene_rng(cfg.seed, domain, split, index), cfg.size, cfg.n_modes, cfg.background)


# ---------------------------------------------------------------------------------------------
# Rendering


def _background(scene, xx, yy, size):
    line = scene["horizon"] + scene["tilt"] * (xx - size / 2)  # (H, W) horizon height per column
    t_sky = np.clip(yy / np.maximum(line, 1.0), 0, 1)[..., None]
    sky = scene["sky_top"] + t_sky * scene["sky_haze"] * (1.0 - scene["sky_top"])
    if "texture" in scene:
        sky = textured_sky(sky, scene["texture"])
    for x0, y0, ax, ay, opacity in scene["clouds"]:
        sky = sky + (opacity * _ellipse(xx, yy, x0, y0, ax, ay))[..., None] * (1.0 - sky)
    t_ground = np.clip((yy - line) / np.maximum(size - line, 1.0), 0, 1)[..., None]
    ground = scene["ground_far"] * (1.0 - t_ground * (1.0 - scene["ground_dark"]))
    p = scene["ripple"]
    ground = ground * (1.0 + 0.04 * (np.sin(xx * 0.31 + p[0]) * np.sin(yy * 0.47 + p[1])))[..., None]
    if "texture" in scene:
        ground = textured_ground(ground, scene["texture"], t_ground)
    is_ground = np.clip(yy - line + 0.5, 0, 1)[..., None]
    return sky * (1.0 - is_ground) + ground * is_ground


def _animal_alpha(an, xx, yy):
    cx, cy, a, b, f = an["cx"], an["cy"], an["a"], an["b"], an["facing"]
    neck, head, tail = an["neck"], an["head"], an["tail"]
    parts = [_ellipse(xx, yy, cx, cy, a, b),
             _ellipse(xx, yy, cx + f * a * 0.85, cy - b * 0.7 * neck, a * 0.22, b * 0.7 * neck, f * 0.6),  # neck
             _ellipse(xx, yy, cx + f * a * 1.1, cy - b * (0.6 + 0.7 * neck), a * 0.34 * head, b * 0.36 * head,
                      f * 0.45),  # head
             _ellipse(xx, yy, cx - f * a * (0.68 + 0.32 * tail), cy + b * 0.1, a * 0.32 * tail, max(a * 0.06, 0.7),
                      -f * 1.0)]  # tail
    half_w = max(0.09 * a, 0.8)
    for dx in (-0.7, -0.45, 0.45, 0.7):
        parts.append(_bar(xx, yy, cx + f * a * dx, half_w, cy + 0.3 * b, cy + 0.3 * b + an["legs"]))
    return np.max(parts, axis=0)


def _pattern(mode, u, v, an):
    """(H, W, 3) colours of texture ``mode`` in the animal's own coordinates (u along the body, v down)."""
    p, ph = an["period"], an["phase"]
    if mode == 0:
        t = np.sin(2 * np.pi * (u / p + 0.15 * np.sin(2 * np.pi * v * 1.2) + ph[0]))
        pair = ("white", "black")
    elif mode == 1:
        t = np.sin(np.pi * (u / p + ph[0])) * np.sin(np.pi * (v / p + ph[1])) * 4
        pair = ("red", "yellow")
    elif mode == 2:
        # Coarser than the other patterns: dots one pixel wide would read as a blue grid at 64 px.
        du, dv = (u / (1.6 * p) + ph[0]) % 1.0 - 0.5, (v / (1.6 * p) + ph[1]) % 1.0 - 0.5
        t, pair = 4.0 * (np.sqrt(du**2 + dv**2) - 0.3), ("white", "blue")
    elif mode == 3:
        t, pair = np.sin(2 * np.pi * ((u + v) / p + ph[0])), ("green", "purple")
    elif mode == 4:
        t = np.sin(2 * np.pi * (u / (1.3 * p) + ph[0])) * np.sin(2 * np.pi * (v / p + ph[1]))
        t, pair = 0.55 - (t + 0.5 * np.sin(2 * np.pi * ((u - v) / (1.7 * p) + ph[2]))), ("cyan", "black")
    elif mode == 5:
        t, pair = np.sin(2 * np.pi * (v / (0.8 * p) + ph[0])), ("magenta", "white")
    elif mode == 6:
        t, pair = np.sin(2 * np.pi * (np.sqrt(u**2 + v**2) / p + ph[0])), ("orange", "navy")
    else:
        du, dv = np.abs((u / p + ph[0]) % 1.0 - 0.5), np.abs((v / p + ph[1]) % 1.0 - 0.5)
        t, pair = 4.0 * (np.maximum(du, dv) - 0.36), ("white", "black")
    w = np.clip(0.5 + 2.0 * t, 0, 1)[..., None]  # a soft edge so patterns do not alias
    return np.array(_COLOURS[pair[0]]) * w + np.array(_COLOURS[pair[1]]) * (1.0 - w)


def _animal_colour(an, style, xx, yy):
    """The animal's colour everywhere: its variant's plain coat for style None (domain A), pattern ``style``
    otherwise."""
    u, v = (xx - an["cx"]) / an["a"] * an["facing"], (yy - an["cy"]) / an["a"]
    if style is None:
        colour = np.broadcast_to(an["coat"] + an["tint"], u.shape + (3,))
    else:
        colour = _pattern(style, u, v, an)
    shade = np.clip(1.08 - 0.3 * (v + 0.6) / 1.9, 0.75, 1.1)  # lit from above, in both domains
    return colour * shade[..., None]


def render_scene(scene: dict, size: int, style: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 image and (H, W) uint8 object mask (0/255) of a sampled scene."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    img = _background(scene, xx, yy, size)
    mask = np.zeros((size, size))
    for an in scene["animals"]:
        alpha = _animal_alpha(an, xx, yy)
        img = img * (1.0 - alpha[..., None]) + _animal_colour(an, style, xx, yy) * alpha[..., None]
        mask = np.maximum(mask, alpha)
    img = np.clip(img + scene["noise"], 0.0, 1.0)
    return np.rint(img * 255).astype(np.uint8), np.where(mask >= 0.5, 255, 0).astype(np.uint8)


def scene_rng(seed: int, domain: str, split: str, index: int) -> np.random.Generator:
    """Each image has its own stream, so changing n_train does not change the other images."""
    return np.random.default_rng([seed, _DOMAIN[domain], _SPLIT[split], index])


def render_a_pair(cfg: SyntheticConfig, split: str, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Domain A's image ``index`` of ``split``, its ground truth (the same scene in its variant's mode), the
    object mask and the variant: what testA, testA_gt, testA_mask and labels.json hold, for any split."""
    scene = _scene(cfg, "A", split, index)
    img, mask = render_scene(scene, cfg.size, None)
    return img, render_scene(scene, cfg.size, scene["variant"])[0], mask, scene["variant"]


def render_a_background(cfg: SyntheticConfig, split: str, index: int) -> np.ndarray:
    """(H, W, 3) uint8: domain A's image ``index`` of ``split`` without its animals, the same sky, ground and
    noise. What a translator must leave alone; the shape figure (translate/metrics/shape.py) reads the
    translated animal's silhouette against it."""
    scene = _scene(cfg, "A", split, index)
    return render_scene({**scene, "animals": []}, cfg.size, None)[0]


# ---------------------------------------------------------------------------------------------
# Writing the dataset folder


def _save(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(arr).save(path, compress_level=1)  # small files anyway; speed matters more


def _write_split(cfg: SyntheticConfig, out: Path, split: str, n: int) -> dict:
    labels: dict[str, dict[str, int]] = {"testA": {}, "testB": {}, "testA_gt": {}}
    extra = ("testA_gt", "testA_mask", "testB_mask") if split == "test" else ()
    for name in (f"{split}A", f"{split}B", *extra):
        (out / name).mkdir()
    for i in range(n):
        fname = f"{i:05d}.png"
        img, gt, mask, variant = render_a_pair(cfg, split, i)
        _save(img, out / f"{split}A" / fname)
        if split == "test":
            _save(mask, out / "testA_mask" / fname)
            _save(gt, out / "testA_gt" / fname)
            labels["testA"][fname] = labels["testA_gt"][fname] = variant
        scene = _scene(cfg, "B", split, i)
        mode = scene["variant"]  # domain B wears the texture that belongs with the build
        img, mask = render_scene(scene, cfg.size, mode)
        _save(img, out / f"{split}B" / fname)
        if split == "test":
            _save(mask, out / "testB_mask" / fname)
            labels["testB"][fname] = mode
    return labels


def generate_synthetic(cfg: SyntheticConfig, out: Path) -> None:
    """Write the dataset into the empty or missing folder ``out`` (not atomic: see ensure_synthetic)."""
    if not 1 <= cfg.n_modes <= len(MODE_NAMES):
        raise ConfigError(f"data.synthetic.n_modes: expected 1 to {len(MODE_NAMES)}, got {cfg.n_modes}")
    if cfg.background not in choices(Background):
        raise ConfigError(f"data.synthetic.background: expected {' or '.join(choices(Background))}, "
                          f"got {cfg.background!r}")
    if cfg.size < 16 or cfg.n_train < 1 or cfg.n_test < 1:
        raise ConfigError(f"data.synthetic: need size >= 16 and n_train, n_test >= 1, got {cfg}")
    out.mkdir(parents=True, exist_ok=True)
    _write_split(cfg, out, "train", cfg.n_train)
    labels = _write_split(cfg, out, "test", cfg.n_test)
    meta = {"modes": list(MODE_NAMES[: cfg.n_modes]), **labels,
            "config": _identity(cfg), "generator_version": GENERATOR_VERSION}
    # Written last: its presence marks a complete dataset.
    (out / "labels.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def _identity(cfg: SyntheticConfig) -> dict:
    """The fields that name a dataset (its cache key, labels.json's config): all of ``cfg`` but ``background``
    at its default, so the smooth datasets made before that field existed keep their folders and files."""
    fields = dataclasses.asdict(cfg)
    return {k: v for k, v in fields.items() if k != "background" or v != SyntheticConfig.background}


def synthetic_key(cfg: SyntheticConfig) -> str:
    fields = {**_identity(cfg), "generator_version": GENERATOR_VERSION}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def synthetic_dir(cfg: SyntheticConfig, root: Path | None = None) -> Path:
    """Where the dataset for ``cfg`` lives: under root, $TRANSLATE_DATA or ~/.cache/translate."""
    return data_root(root) / f"demo-{synthetic_key(cfg)}"


def ensure_synthetic(cfg: SyntheticConfig, root: Path | None = None) -> Path:
    """The demo dataset folder for ``cfg``, generated on first use and cached by a hash of ``cfg``.

    It is generated in a hidden temp folder next to the target and renamed into place (``labels.json``, written
    last, marks it complete), so an interrupted run never leaves half a dataset. Concurrent runs (DDP ranks, a
    sweep of trainings, parallel tests) generate it once: the first holds ``.demo-<key>.lock`` in the data root
    (translate/locks.py) and the others wait for it, for a bounded time, then use its copy. The next run
    removes the temp folder of a generation that was killed.
    """
    final = synthetic_dir(cfg, root)
    if (final / "labels.json").is_file():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with cache_lock(final.parent / f".{final.name}.lock", f"the demo dataset {final}"):
            if (final / "labels.json").is_file():  # another process generated it while this one waited
                return final
            # Temp folders of killed generations: every generator holds this lock, so none is running.
            remove_stale_temps(final.parent, re.compile(rf"^\.{re.escape(final.name)}\.tmp-"), locked=True)
            return _generate_into(cfg, final)
    except OSError as e:  # the data root is read-only, full, or under a file
        where = e.filename or final.parent
        raise DataError(f"cannot write the demo dataset into the data root {final.parent} ({where}: "
                        f"{e.strerror or e}); choose a writable one with $TRANSLATE_DATA, or free some space") from None


def _generate_into(cfg: SyntheticConfig, final: Path) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        t0 = time.perf_counter()
        generate_synthetic(cfg, tmp)
        if final.exists() and not (final / "labels.json").is_file():
            shutil.rmtree(final)  # an incomplete folder not made by us (renames are atomic)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "labels.json").is_file():
                raise
            # Another process finished first (one without the lock: no fcntl); its copy is identical.
        log.info("generated the synthetic dataset in %s (%.1f s)", final, time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
