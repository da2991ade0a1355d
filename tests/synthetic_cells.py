"""A Xenium-style synthetic section with known per-cell truth, as step folders (no chain run needed).

Cells are irregular polygons on a jittered 10 µm lattice (they never overlap), of three types laid out in
sectors with some mixing, each type with its own expression per 100 µm². A cell's expression is spread
evenly over its area and binned into 8 µm superpixels: those are the maps a perfect model would predict.
The same cells are written as a label image (rasterised here, pixel centres, independently of the
package), as GeoJSON and as Xenium boundaries in µm with an alignment matrix.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.path import Path as MPath

from pixel2gene.artifacts.rescaled import Rescaled
from pixel2gene.artifacts.result import Result
from pixel2gene.tool.stamps import file_fingerprint

PX_RAW = 0.25          # µm per he-raw pixel (a 40x scan)
PX = 0.5               # µm per rescaled pixel
SIDE_RAW = 1280        # he-raw is SIDE_RAW x SIDE_RAW pixels: 320 µm
MORPH_UM = 0.2125      # Xenium morphology pixel
# H&E pixel -> morphology pixel, as Xenium Explorer exports it: a small rotation, the pixel-size ratio, a shift
ANGLE = 0.1
ALIGNMENT = np.array([[np.cos(ANGLE), -np.sin(ANGLE), 310.0], [np.sin(ANGLE), np.cos(ANGLE), -45.0], [0, 0, 1]])
ALIGNMENT[:2, :2] *= PX_RAW / MORPH_UM


def cell_polygons(rng, spacing_um=10.0):
    """Non-overlapping cell outlines in he-raw pixels (x = column, y = row) and each cell's type."""
    step = spacing_um / PX_RAW
    rings, types = [], []
    centre = SIDE_RAW / 2
    for cy in np.arange(step, SIDE_RAW - step / 2, step):
        for cx in np.arange(step, SIDE_RAW - step / 2, step):
            c = np.array([cx, cy]) + rng.uniform(-0.12, 0.12, 2) * step
            t = np.sort(rng.uniform(0, 2 * np.pi, 9))
            r = rng.uniform(0.25, 0.38) * step * rng.uniform(0.8, 1.0, len(t))  # 5-7.6 µm across at most
            rings.append(np.c_[c[0] + r * np.cos(t), c[1] + r * np.sin(t)])
            sector = int(((np.arctan2(c[1] - centre, c[0] - centre) + np.pi) / (2 * np.pi / 3)) % 3)
            types.append(sector if rng.random() > 0.2 else int(rng.integers(3)))
    return rings, np.array(types)


def label_image(rings) -> np.ndarray:
    """Cell k + 1 on every he-raw pixel whose centre lies inside its polygon."""
    labels = np.zeros((SIDE_RAW, SIDE_RAW), np.uint32)
    for k, ring in enumerate(rings):
        x0, y0 = np.floor(ring.min(0)).astype(int)
        x1, y1 = np.ceil(ring.max(0)).astype(int) + 1
        yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
        inside = MPath(ring).contains_points(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
        labels[y0:y1, x0:x1][inside] = k + 1
    return labels


def truth_and_maps(labels, types, n_genes, rng, mask):
    """Per-cell truth (cells x genes) and the superpixel maps made from it (genes x grid)."""
    profiles = rng.uniform(0.2, 1.0, (3, n_genes))
    for g in range(n_genes):
        profiles[g % 3, g] *= 6
    n_cells = len(types)
    flat = labels.ravel()
    on = flat > 0
    side = int(16 * PX / PX_RAW)  # he-raw pixels per superpixel side
    rows, cols = np.nonzero(labels)
    grid = (rows // side) * mask.shape[1] + cols // side
    cell = flat[on].astype(np.int64) - 1
    area = np.bincount(cell, minlength=n_cells) * PX_RAW ** 2
    truth = profiles[types] * (area / 100)[:, None]
    per_pixel = truth / np.maximum(area / PX_RAW ** 2, 1)[:, None]
    maps = np.zeros((n_genes, mask.size))
    for g in range(n_genes):
        maps[g] = np.bincount(grid, per_pixel[cell, g], mask.size)
    maps = maps.reshape(n_genes, *mask.shape).astype(np.float32)
    maps[:, ~mask] = np.nan
    return truth, maps, area


def write_he_raw(path, seed=0):
    """A he-raw TIFF (in strips) whose pixels say where they are: red = column, green = row, both mod 256."""
    import tifffile
    yy, xx = np.mgrid[:SIDE_RAW, :SIDE_RAW]
    rgb = np.stack([xx % 256, yy % 256, np.full_like(xx, 128 + seed)], -1).astype(np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, rgb, rowsperstrip=64)
    return rgb


def write_section(root, n_genes=12, seed=0, he_raw=False):
    """`he_raw`: also write the H&E the section was 'rescaled' from (root/S/he-raw.tif), in its record."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    rings, types = cell_polygons(rng)
    labels = label_image(rings)
    scale = PX_RAW / PX
    shape = [int(SIDE_RAW * scale)] * 2
    padded = [768, 768]
    mask = np.zeros((padded[0] // 16, padded[1] // 16), bool)
    mask[:shape[0] // 16, :shape[1] // 16] = True
    mask[:4, :4] = False  # a corner of glass: cells there lie off tissue
    truth, maps, area = truth_and_maps(labels, types, n_genes, rng, mask)
    genes = [f"GENE{g:03d}" for g in range(n_genes)]
    files = {}
    if he_raw:
        files["image"] = str(root / "S" / "he-raw.tif")
        write_he_raw(files["image"], seed)
    sample = {"name": "S", "prefix": str(root / "S") + "/", "measured": False, "files": files, "pixel_size_raw": PX_RAW,
              "pixel_size": PX, "scale": scale, "diameter_um": None, "diameter_px": None, "n_bins": 0,
              "raw_shape": [SIDE_RAW, SIDE_RAW], "shape": shape, "padded_shape": padded,
              "grid_shape": [mask.shape[0], mask.shape[1]]}
    # what p2g-rescale's step.json records of the image it read (tool/stamps.py: the sample's files)
    inputs = {"synthetic": seed, "files": {"prefix": {"image": file_fingerprint(files["image"])}}} if he_raw else \
        {"synthetic": seed}
    with Rescaled.create(root / "rescale", inputs) as folder:
        folder.image.write(np.full(padded + [3], 220, np.uint8))
        folder.record.write(sample)
    with Result.create(root / "result", {"synthetic": seed}) as folder:
        folder.start_maps(genes)
        for g, gene in enumerate(genes):
            np.save(folder.map_file(gene), maps[g], allow_pickle=False)
        folder.tissue.write(mask)
        novelty = np.where(mask, np.linspace(0, 1, mask.size).reshape(mask.shape), np.nan).astype(np.float32)
        folder.novelty.write(novelty)
        folder.record.write({"sample": {"name": "S"}, "units": "counts per 8 µm superpixel", "n_models": 1})
    ids = [f"cell-{k:05d}" for k in range(len(rings))]
    return {"root": root, "rings": rings, "types": types, "labels": labels, "truth": truth, "area": area,
            "genes": genes, "mask": mask, "ids": ids, "maps": maps}


def write_geojson(path, rings, ids, types):
    features = [{"type": "Feature", "id": i, "geometry": {"type": "Polygon",
                                                          "coordinates": [np.r_[r, r[:1]].tolist()]},
                 "properties": {"objectType": "cell", "classification": {"name": f"type{t}"}}}
                for i, r, t in zip(ids, rings, types)]
    Path(path).write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def write_xenium(folder, rings, ids):
    """cell_boundaries.parquet (µm in the Xenium frame), experiment.xenium and the alignment matrix."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    xy = np.concatenate([np.r_[r, r[:1]] for r in rings])
    morph = (ALIGNMENT @ np.c_[xy, np.ones(len(xy))].T).T[:, :2]
    cell = np.repeat([i.encode() for i in ids], [len(r) + 1 for r in rings])
    pd.DataFrame({"cell_id": cell, "vertex_x": morph[:, 0] * MORPH_UM, "vertex_y": morph[:, 1] * MORPH_UM,
                  "label_id": 1}).to_parquet(folder / "cell_boundaries.parquet")
    (folder / "experiment.xenium").write_text(json.dumps({"pixel_size": MORPH_UM}))
    np.savetxt(folder / "he_imagealignment.csv", ALIGNMENT, delimiter=",")
    return folder / "cell_boundaries.parquet", folder / "he_imagealignment.csv"
