"""Synthetic 10x outputs (Visium, Visium HD, Xenium) of the synthetic tissue in pixel2gene.synthetic.

The same three-region tissue and expression profiles as the seed-layout
samples, written in each vendor's own layout, so tests can run
`p2g-import` -> `p2g-run` and check that the predicted maps recover the
regions; `bench/visium_hd_scale.py` uses the streaming 10x HDF5 writer to
build a section of real size. Layout facts (column names, file names, scale
factors) follow 10x's documented outputs.
"""
import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from synthetic import expression_profiles, paint, region_map

GENE_TYPE = "Gene Expression"


class TenxH5Writer:
    """A 10x feature-barcode HDF5 (features x barcodes CSC = barcodes x features CSR), barcode rows streamed."""

    def __init__(self, path, barcodes, feature_ids, feature_names, feature_types, chunk=1 << 20):
        self._f = h5py.File(path, "w")
        self._f.attrs["filetype"] = "matrix"
        self._f.attrs["version"] = 2
        m = self._f.create_group("matrix")
        m.create_dataset("barcodes", data=np.array(barcodes, dtype="S"))
        m.create_dataset("shape", data=np.array([len(feature_ids), len(barcodes)], np.int32))
        f = m.create_group("features")
        f.create_dataset("id", data=np.array(feature_ids, dtype="S"))
        f.create_dataset("name", data=np.array(feature_names, dtype="S"))
        f.create_dataset("feature_type", data=np.array(feature_types, dtype="S"))
        f.create_dataset("genome", data=np.array(["synthetic"] * len(feature_ids), dtype="S"))
        f.create_dataset("_all_tag_keys", data=np.array(["genome"], dtype="S"))
        opts = dict(shape=(0,), maxshape=(None,), chunks=(chunk,), compression="gzip", compression_opts=4)
        self._data = m.create_dataset("data", dtype=np.int32, **opts)
        self._indices = m.create_dataset("indices", dtype=np.int64, **opts)
        self._indptr, self._nnz, self._m = [np.zeros(1, np.int64)], 0, m

    def add(self, rows: sp.csr_matrix) -> None:
        rows = sp.csr_matrix(rows)
        rows.sort_indices()
        k = rows.nnz
        for ds, values in ((self._data, rows.data), (self._indices, rows.indices)):
            ds.resize((self._nnz + k,))
            ds[self._nnz:] = values
        self._indptr.append(rows.indptr[1:].astype(np.int64) + self._nnz)
        self._nnz += k

    def close(self) -> None:
        self._m.create_dataset("indptr", data=np.concatenate(self._indptr))
        self._f.close()


def write_10x_h5(path, counts: sp.csr_matrix, barcodes, names, ids=None, types=None) -> None:
    writer = TenxH5Writer(path, barcodes, ids if ids is not None else [f"SYN{i:06d}" for i in range(len(names))],
                          names, types if types is not None else [GENE_TYPE] * len(names))
    writer.add(counts)
    writer.close()


def region_fractions(regions: np.ndarray, centres_px: np.ndarray, radius_px: float, square: bool = False):
    """(n, 3) fraction of each region over every bin/spot (disk, or square of side 2 radius), by 7x7 samples."""
    t = np.linspace(-1, 1, 7) * radius_px * (6 / 7)
    dx, dy = (a.ravel() for a in np.meshgrid(t, t))
    if not square:
        inside = dx ** 2 + dy ** 2 <= radius_px ** 2
        dx, dy = dx[inside], dy[inside]
    x = np.clip(np.round(centres_px[:, :1] + dx), 0, regions.shape[1] - 1).astype(int)
    y = np.clip(np.round(centres_px[:, 1:] + dy), 0, regions.shape[0] - 1).astype(int)
    r = regions[y, x]
    return np.stack([(r == k).mean(1) for k in range(3)], 1)


def simulate(fractions: np.ndarray, area_um2: float, n_genes: int, rng, depth: float = 0.5):
    """Poisson counts (n, G) CSR: each region's expression profile weighted by its share of the bin."""
    profiles = expression_profiles(n_genes, np.random.default_rng(1234))  # same biology as synthetic.py
    rate = fractions @ profiles * (area_um2 / 100) * depth
    return sp.csr_matrix(rng.poisson(rate).astype(np.int32))


def gene_features(n_genes: int, extra=()):
    names = [f"GENE{g:03d}" for g in range(n_genes)]
    return names + [e[0] for e in extra], [f"SYN{g:06d}" for g in range(n_genes)] + [e[1] for e in extra], \
        [GENE_TYPE] * n_genes + [e[2] for e in extra]


def _section(size_um, px_um, seed, rotate):
    rng = np.random.default_rng(seed)
    side = int(round(size_um / px_um))
    regions = region_map(side, side, rotate)
    return rng, regions, paint(regions, px_um, rng)


def _write_tiff(path: Path, image: np.ndarray) -> None:
    import tifffile
    tifffile.imwrite(path, image, photometric="rgb", metadata={"axes": "YXC"} if path.name.endswith(".ome.tif")
                     else None)


def _spatial_images(spatial: Path, image: np.ndarray, factors: dict) -> None:
    for name in ("hires", "lowres"):
        s = factors[f"tissue_{name}_scalef"]
        small = cv2.resize(image, (max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s))),
                           interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(spatial / f"tissue_{name}_image.png"), small[..., ::-1])


def write_visium(root, size_um=800.0, px_um=0.5, n_genes=30, seed=0, rotate=0.0, sr1=False, hires_scalef=0.5):
    """outs/ of a Space Ranger run on a synthetic section; the full-resolution H&E lies beside outs/.

    Spots: 55 µm on Visium's hexagonal 100 µm pitch. Returns {'outs', 'image', 'regions', 'px_um'}.
    """
    root = Path(root)
    outs, spatial = root / "outs", root / "outs" / "spatial"
    spatial.mkdir(parents=True, exist_ok=True)
    rng, regions, image = _section(size_um, px_um, seed, rotate)
    _write_tiff(root / "he-fullres.tif", image)
    pitch = 100 / px_um
    rows, cols, xs, ys = [], [], [], []
    for r, y in enumerate(np.arange(pitch / 2, image.shape[0], pitch * np.sqrt(3) / 2)):
        for c, x in enumerate(np.arange(pitch / 2 + (r % 2) * pitch / 2, image.shape[1], pitch)):
            rows.append(r), cols.append(2 * c + r % 2), xs.append(x), ys.append(y)
    centres = np.column_stack([xs, ys])
    fractions = region_fractions(regions, centres, 27.5 / px_um)
    in_tissue = fractions.sum(1) > 0
    barcodes = [f"SPOT{r:03d}{c:03d}-1" for r, c in zip(rows, cols)]
    positions = pd.DataFrame({"barcode": barcodes, "in_tissue": in_tissue.astype(int), "array_row": rows,
                              "array_col": cols, "pxl_row_in_fullres": np.round(ys).astype(int),
                              "pxl_col_in_fullres": np.round(xs).astype(int)})
    if sr1:  # Space Ranger 1.x: no header
        positions.to_csv(spatial / "tissue_positions_list.csv", header=False, index=False)
    else:
        positions.to_csv(spatial / "tissue_positions.csv", index=False)
    factors = {"spot_diameter_fullres": 55 / px_um, "fiducial_diameter_fullres": 89.5 / px_um,
               "tissue_hires_scalef": hires_scalef, "tissue_lowres_scalef": hires_scalef / 4}
    (spatial / "scalefactors_json.json").write_text(json.dumps(factors))
    _spatial_images(spatial, image, factors)
    keep = np.flatnonzero(in_tissue)
    counts = simulate(fractions[keep], np.pi * 27.5 ** 2, n_genes, rng)
    # a repeated gene symbol, as real references have: imported as DUP_<id> both times
    names, ids, types = gene_features(n_genes, [("DUP", "SYNDUP1", GENE_TYPE), ("DUP", "SYNDUP2", GENE_TYPE)])
    counts = sp.hstack([counts, sp.csr_matrix(rng.poisson(1.0, (len(keep), 2)).astype(np.int32))], "csr")
    write_10x_h5(outs / "filtered_feature_bc_matrix.h5", counts, [barcodes[k] for k in keep], names, ids, types)
    return {"outs": outs, "image": root / "he-fullres.tif", "regions": regions, "px_um": px_um,
            "positions": positions}


def write_visium_hd(root, size_um=800.0, px_um=0.5, bin_um=8, n_genes=30, seed=0, rotate=0.0, depth=3.0,
                    hires_scalef=0.5):
    """outs/ of a Visium HD run with binned_outputs/square_NNNum/ for one bin size."""
    root = Path(root)
    outs = root / "outs"
    bins_dir = outs / "binned_outputs" / f"square_{bin_um:03d}um"
    (bins_dir / "spatial").mkdir(parents=True, exist_ok=True)
    (outs / "spatial").mkdir(parents=True, exist_ok=True)
    rng, regions, image = _section(size_um, px_um, seed, rotate)
    _write_tiff(root / "he-fullres.tif", image)
    side = bin_um / px_um
    n_rows, n_cols = int(image.shape[0] // side), int(image.shape[1] // side)
    rr, cc = (a.ravel() for a in np.mgrid[0:n_rows, 0:n_cols])
    centres = np.column_stack([(cc + 0.5) * side, (rr + 0.5) * side])
    fractions = region_fractions(regions, centres, side / 2, square=True)
    in_tissue = fractions.sum(1) > 0
    barcodes = [f"s_{bin_um:03d}um_{r:05d}_{c:05d}-1" for r, c in zip(rr, cc)]
    pd.DataFrame({"barcode": barcodes, "in_tissue": in_tissue.astype(np.int32), "array_row": rr, "array_col": cc,
                  "pxl_row_in_fullres": centres[:, 1], "pxl_col_in_fullres": centres[:, 0]}).to_parquet(
        bins_dir / "spatial" / "tissue_positions.parquet", index=False)
    factors = {"spot_diameter_fullres": side, "bin_size_um": float(bin_um), "microns_per_pixel": px_um,
               "tissue_hires_scalef": hires_scalef, "tissue_lowres_scalef": hires_scalef / 4,
               "fiducial_diameter_fullres": 1.0 / px_um * 150, "regist_target_img_scalef": hires_scalef}
    for spatial in (bins_dir / "spatial", outs / "spatial"):
        (spatial / "scalefactors_json.json").write_text(json.dumps(factors))
        _spatial_images(spatial, image, factors)
    keep = np.flatnonzero(in_tissue)
    counts = simulate(fractions[keep], bin_um ** 2, n_genes, rng, depth)
    names, ids, types = gene_features(n_genes)
    write_10x_h5(bins_dir / "filtered_feature_bc_matrix.h5", counts, [barcodes[k] for k in keep], names, ids, types)
    return {"outs": outs, "image": root / "he-fullres.tif", "regions": regions, "px_um": px_um}


def default_alignment(he_px_um: float, pixel_size: float = 0.2125) -> np.ndarray:
    """H&E pixel -> morphology pixel: rotated by 100 degrees, scaled, sheared a little, shifted."""
    s = he_px_um / pixel_size
    theta = np.deg2rad(100)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    m = np.eye(3)
    m[:2, :2] = s * rot @ np.array([[1.0, 0.05], [0.0, 1.0]])
    m[:2, 2] = [9000.0, 1200.0]
    return m


def write_xenium(root, size_um=800.0, he_px_um=0.5, n_genes=30, seed=0, rotate=0.0, spacing_um=12.0,
                 pixel_size=0.2125, depth=1.0):
    """A Xenium output folder plus its post-Xenium H&E (OME-TIFF) and *_he_imagealignment.csv.

    Cells are laid out in H&E pixels (jittered grid), then written in the Xenium frame (µm) through the
    alignment matrix, the way a real run relates the two.
    """
    root = Path(root)
    outs = root / "outs"
    outs.mkdir(parents=True, exist_ok=True)
    rng, regions, image = _section(size_um, he_px_um, seed, rotate)
    _write_tiff(root / "he_image.ome.tif", image)
    m = default_alignment(he_px_um, pixel_size)
    np.savetxt(root / "he_imagealignment.csv", m, delimiter=",", fmt="%.12g")
    step = spacing_um / he_px_um
    gy, gx = np.mgrid[step / 2:image.shape[0]:step, step / 2:image.shape[1]:step]
    he_xy = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-step / 3, step / 3, (gx.size, 2))
    he_xy = np.clip(he_xy, 0, np.array(image.shape[1::-1]) - 1)
    region_at = regions[he_xy[:, 1].astype(int), he_xy[:, 0].astype(int)]
    cells_xy = he_xy[region_at >= 0]
    area = rng.uniform(60, 140, len(cells_xy))
    fractions = region_fractions(regions, cells_xy, np.sqrt(area.mean() / np.pi) / he_px_um)
    xy_um = (m @ np.column_stack([cells_xy, np.ones(len(cells_xy))]).T).T[:, :2] * pixel_size
    ids = [f"cell{i:05d}-1" for i in range(len(cells_xy))]
    pd.DataFrame({"cell_id": ids, "x_centroid": xy_um[:, 0], "y_centroid": xy_um[:, 1],
                  "transcript_counts": 0, "cell_area": area, "nucleus_area": area / 3}).to_parquet(
        outs / "cells.parquet", index=False)
    counts = simulate(fractions, area.mean(), n_genes, rng, depth)
    controls = [("NegControlProbe_00001", "NegControlProbe_00001", "Negative Control Probe"),
                ("BLANK_0001", "BLANK_0001", "Unassigned Codeword")]
    counts = sp.hstack([counts, sp.csr_matrix(rng.poisson(0.2, (len(ids), 2)).astype(np.int32))], "csr")
    names, fids, types = gene_features(n_genes, controls)
    write_10x_h5(outs / "cell_feature_matrix.h5", counts, ids, names, fids, types)
    (outs / "experiment.xenium").write_text(json.dumps({"pixel_size": pixel_size, "run_name": "synthetic"}))
    return {"outs": outs, "image": root / "he_image.ome.tif", "alignment": root / "he_imagealignment.csv",
            "regions": regions, "px_um": he_px_um, "cells_he_xy": cells_xy, "matrix": m}
