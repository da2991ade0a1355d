"""Space Ranger layout shared by Visium and Visium HD: positions, scale factors, the image and its fit.

Positions are `barcode, in_tissue, array_row, array_col, pxl_row_in_fullres,
pxl_col_in_fullres` (row = y, col = x, in pixels of the full-resolution
image given to Space Ranger). `hires`/`lowres` images in `spatial/` are that
image scaled by `tissue_hires_scalef`/`tissue_lowres_scalef`.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .images import check_not_blank, image_size
from .prefix import Imported, counts_dtype, warn
from .tenx_matrix import GENE_TYPE, is_matrix, open_matrix

POSITION_COLUMNS = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
POSITION_FILES = ("tissue_positions.parquet", "tissue_positions.csv", "tissue_positions_list.csv")
SCALEF = {"hires": "tissue_hires_scalef", "lowres": "tissue_lowres_scalef"}


def outs_folder(outs) -> Path:
    """The folder Space Ranger wrote (`outs/`), given it or its parent."""
    outs = Path(outs)
    if not outs.is_dir():
        raise InputError(outs, "folder is missing", "give the Space Ranger output folder (outs/)")
    return outs / "outs" if (outs / "outs").is_dir() else outs


def spatial_folder(folder: Path) -> Path:
    spatial = folder / "spatial"
    if not spatial.is_dir():
        raise InputError(spatial, "spatial/ folder is missing",
                         "give the Space Ranger output folder (outs/) that holds spatial/ and the matrix")
    return spatial


def scalefactors_file(spatial: Path) -> Path:
    path = spatial / "scalefactors_json.json"
    if not path.is_file():
        raise InputError(path, "scale factors are missing", "copy scalefactors_json.json from Space Ranger's spatial/")
    return path


def read_scalefactors(path: Path, need) -> dict:
    """The scale factors, with every key in `need` a positive number."""
    try:
        factors = json.loads(path.read_text())
    except ValueError:
        raise InputError(path, "is not valid JSON", "copy scalefactors_json.json from Space Ranger's spatial/") from None
    for key in need:
        value = factors.get(key) if isinstance(factors, dict) else None
        if not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
            raise InputError(path, f"scale factor '{key}' is missing or not a positive number",
                             "use the scalefactors_json.json Space Ranger wrote for this run")
    return factors


def positions_file(spatial: Path) -> Path:
    path = next((spatial / n for n in POSITION_FILES if (spatial / n).is_file()), None)
    if path is None:
        raise InputError(spatial / POSITION_FILES[1], "spot/bin positions are missing",
                         f"give the outs/ folder with spatial/{' or '.join(POSITION_FILES)}")
    return path


def read_positions(path: Path) -> pd.DataFrame:
    """Positions indexed by barcode."""
    try:
        if path.suffix == ".parquet":
            table = pd.read_parquet(path)
        else:
            with open(path) as fh:
                header = fh.readline().lower().startswith("barcode")  # Space Ranger >= 2 writes a header row
            table = pd.read_csv(path, header=0 if header else None)
            if not header and table.shape[1] == len(POSITION_COLUMNS):
                table.columns = POSITION_COLUMNS
    except Exception as exc:  # any parser failure is a user-fixable layout problem
        raise InputError(path, f"cannot be read ({type(exc).__name__})",
                         "give the positions file exactly as Space Ranger wrote it") from None
    missing = [c for c in POSITION_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, f"columns {missing} are missing", f"the file must hold {', '.join(POSITION_COLUMNS)}")
    table = table[POSITION_COLUMNS].copy()
    table["barcode"] = table["barcode"].astype(str)
    numeric = table[POSITION_COLUMNS[1:]].apply(pd.to_numeric, errors="coerce")
    if numeric.isna().any().any():
        raise InputError(path, "positions hold non-numeric or empty values", "give the file as Space Ranger wrote it")
    table[POSITION_COLUMNS[1:]] = numeric
    table = table.set_index("barcode")
    if table.index.has_duplicates:
        raise InputError(path, f"barcode '{table.index[table.index.duplicated()][0]}' appears twice",
                         "give the positions file exactly as Space Ranger wrote it")
    return table


@dataclass
class ImageChoice:
    path: Path
    scale: float   # image pixels per full-resolution pixel
    which: str     # "full-resolution", "hires" or "lowres"
    size: tuple    # (width, height)


def downscaled_image(spatial: Path, which: str) -> Path:
    """Space Ranger's hires or lowres H&E in a spatial/ folder."""
    return spatial / f"tissue_{which}_image.png"


def spatial_images(folder: Path, image: str) -> dict:
    """The hires/lowres PNGs in `folder` that an import opens, by name: the one chosen, or with a
    full-resolution H&E the ones check_fit compares it with (passing one of them instead is a common mistake)."""
    if image in SCALEF:
        path = downscaled_image(folder, image)
        if not path.is_file():
            raise InputError(path, f"the {image} image is missing",
                             "give --image PATH with the full-resolution H&E, or the other of hires/lowres")
        return {image: path}
    return {name: downscaled_image(folder, name) for name in SCALEF if downscaled_image(folder, name).is_file()}


def choose_image(image: str, images: dict, factors: dict, factors_path: Path) -> ImageChoice:
    if image in SCALEF:
        path = images[image]
        key = SCALEF[image]
        if not isinstance(factors.get(key), (int, float)) or factors[key] <= 0:
            raise InputError(factors_path, f"scale factor '{key}' is missing", "use Space Ranger's own scalefactors file")
        return ImageChoice(path, float(factors[key]), image, image_size(path))
    path = Path(image)
    return ImageChoice(path, 1.0, "full-resolution", image_size(path))


def check_fit(choice: ImageChoice, x: np.ndarray, y: np.ndarray, factors: dict, positions_path: Path,
              images: dict) -> None:
    """Every in-tissue spot/bin must fall inside the image; say which image it looks like when not."""
    w, h = choice.size
    if len(x) and x.min() >= 0 and y.min() >= 0 and x.max() < w and y.max() < h:
        return
    reach = f"positions reach x={x.max():.0f}, y={y.max():.0f}" if len(x) else "no positions"
    if choice.which == "full-resolution":
        for name, key in SCALEF.items():
            s = factors.get(key)
            if not isinstance(s, (int, float)) or s <= 0:
                continue
            own = images.get(name)
            same_size = own is not None and image_size(own) == (w, h)
            # the positions scaled by this factor fill the image the way they would fill that image
            fills = x.max() * s < w and y.max() * s < h and x.max() * s > 0.3 * w and y.max() * s > 0.3 * h
            if same_size or fills:
                raise InputError(choice.path, f"image is {w}x{h} px but the {reach} of the full-resolution image: "
                                 f"it looks like the {name} image (scaled by {key} = {s:g})",
                                 "give the full-resolution H&E that was given to Space Ranger, "
                                 f"or --image {name} to use the image in spatial/")
        raise InputError(choice.path, f"image is {w}x{h} px but the {reach} (from {positions_path.name})",
                         "give the full-resolution H&E that was given to Space Ranger for this run")
    raise InputError(choice.path, f"{choice.which} image is {w}x{h} px but the scaled {reach}",
                     f"check that spatial/ and {positions_path.name} come from the same run")


MATRICES = ("filtered_feature_bc_matrix.h5", "filtered_feature_bc_matrix",
            "raw_feature_bc_matrix.h5", "raw_feature_bc_matrix")


def find_matrix(folder: Path) -> Path:
    for name in MATRICES:
        path = folder / name
        if is_matrix(path):
            return path
    raise InputError(folder / MATRICES[0], "no feature-barcode matrix",
                     f"give the Space Ranger output folder that holds {MATRICES[0]} (or the {MATRICES[1]}/ folder)")


def in_tissue_rows(matrix, positions: pd.DataFrame, positions_path: Path):
    """(sorted matrix rows of the in-tissue barcodes, in-tissue flag of every matrix barcode)."""
    known = matrix.barcodes.isin(positions.index)
    if not known.all():
        raise InputError(positions_path, f"{int((~known).sum())} of {len(known)} barcodes of {matrix.path.name} "
                         f"have no position (first: '{matrix.barcodes[~known][0]}')",
                         "give the positions file of the same run (and bin size) as the matrix")
    in_tissue = positions.loc[matrix.barcodes, "in_tissue"].to_numpy() == 1
    if not in_tissue.any():
        raise InputError(positions_path, f"none of the {len(known)} barcodes of {matrix.path.name} is in tissue",
                         "give the positions file of the same run as the matrix")
    return np.flatnonzero(in_tissue), in_tissue


@dataclass
class SpotFiles:
    """Every file a Space Ranger import opens, found before any is read. The import reads these and no
    others, so `p2g-import --list-inputs` (what the pipeline stages, issue #27 A6) cannot leave one out."""
    folder: Path        # outs/, or a Visium HD bin size's folder: where the matrix is
    scalefactors: Path
    positions: Path
    images: dict        # hires/lowres PNGs by name (spatial_images)
    matrix: Path        # an .h5 file or a Matrix Market folder

    def inputs(self) -> list:
        return [self.scalefactors, self.positions, *self.images.values(), self.matrix]


def locate_spots(folder: Path, spatial: Path, image: str, image_folder: Path) -> SpotFiles:
    """The files of one import, found in the order they are read; `image_folder` holds the hires/lowres
    images (beside the positions or not)."""
    return SpotFiles(folder=folder, scalefactors=scalefactors_file(spatial), positions=positions_file(spatial),
                     images=spatial_images(image_folder, image), matrix=find_matrix(folder))


def import_spots(vendor: str, files: SpotFiles, image: str, diameter_um: float, um_per_fullres: float,
                 derivation: str, factors: dict) -> Imported:
    """In-tissue spots/bins of a Space Ranger output with counts, placed on the chosen image."""
    folder, factors_path, positions_path, matrix_path = files.folder, files.scalefactors, files.positions, files.matrix
    positions = read_positions(positions_path)
    choice = choose_image(image, files.images, factors, factors_path)
    matrix = open_matrix(matrix_path)
    matrix.check_has_counts()
    rows, in_tissue = in_tissue_rows(matrix, positions, positions_path)
    spots = positions.loc[matrix.barcodes[rows]]
    x = spots["pxl_col_in_fullres"].to_numpy(np.float64) * choice.scale
    y = spots["pxl_row_in_fullres"].to_numpy(np.float64) * choice.scale
    check_fit(choice, x, y, factors, positions_path, files.images)
    check_not_blank(choice.path)
    cols, genes, renamed = matrix.gene_columns()
    pixel_size_raw = um_per_fullres / choice.scale
    notes = []
    if choice.which != "full-resolution":
        notes.append(f"the {choice.which} image is coarse ({pixel_size_raw:.3g} µm/px): maps from it carry no detail "
                     f"finer than about {2 * pixel_size_raw:.0f} µm, however sharp they look; the full-resolution "
                     "H&E given to Space Ranger gives 8 µm detail (--image PATH)")
    if matrix_path.name.startswith("raw_"):
        notes.append(f"no filtered matrix in {folder}; used {matrix_path.name} and kept its in-tissue barcodes")
    warn(vendor, notes, renamed)
    locs = pd.DataFrame({"x": x, "y": y, "array_row": spots["array_row"].to_numpy(np.int64),
                         "array_col": spots["array_col"].to_numpy(np.int64)})
    record = {
        "sources": {"outs": str(folder), "matrix": str(matrix_path), "positions": str(positions_path),
                    "scalefactors": str(factors_path), "image": str(choice.path)},
        "image": {"which": choice.which, "size": list(choice.size), "scale_from_fullres": choice.scale},
        "derivation": {"pixel_size_raw_um": f"{derivation} / {choice.scale:g} (image px per full-res px)",
                       "locations": "pxl_col_in_fullres, pxl_row_in_fullres x the image's scale",
                       "genes": f"'{GENE_TYPE}' features without control probes"},
        "dropped": {"not_in_tissue": int((~in_tissue).sum()), **matrix.dropped_features(cols)},
        "renamed_genes": renamed, "warnings": notes,
    }
    return Imported(vendor=vendor, ids=pd.Index(matrix.barcodes[rows]), genes=genes,
                    blocks=lambda: matrix.blocks(rows, cols), dtype=counts_dtype(matrix.dtype),
                    matrix_path=matrix_path, locs=locs, image=choice.path, diameter_um=diameter_um,
                    pixel_size_raw=pixel_size_raw, record=record, var=matrix.var_columns(cols))
