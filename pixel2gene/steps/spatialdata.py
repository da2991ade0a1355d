"""Write a sample's predictions as one SpatialData store (SAMPLE.zarr) for the scverse tools: the H&E, the
superpixels and cells as shapes, the predictions as tables, in he-raw pixels. Needs the spatialdata extra."""
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..artifacts.base import STAMP
from ..artifacts.cells import Cells
from ..artifacts.domains import Domains
from ..artifacts.files import SpatialDataStore
from ..artifacts.rescaled import Rescaled
from ..artifacts.result import Result, check_same_sample
from ..errors import InputError
from ..io.plausible import check_free_space
from ..tool.options import out_field, upstream_field
from ..tool.progress import say
from ..tool.stamps import file_fingerprint, input_stamp
from .export import _domains


@dataclass
class Args:
    result: str = upstream_field(Result, "(the sample's results)")
    rescaled: str = upstream_field(Rescaled, "for this sample")
    out: str = out_field("the store to write, SAMPLE.zarr")
    tissue_domains: Optional[str] = upstream_field(Domains, "for this sample (adds obs['domain'])", default=None)
    cells: Optional[str] = upstream_field(Cells, "for this sample (adds the cells and their table)", default=None)
    he_raw: Optional[str] = field(default=None, metadata=dict(role="file", help=(
        "the sample's he-raw image where it is now, when it has moved since p2g-rescale read it (default: the "
        "place sample.json records); it must be the same image")))


def _he_raw(args: Args, rescaled: Rescaled) -> Path:
    sample = rescaled.sample
    if args.he_raw:  # a copy elsewhere (a pipeline task stages it): the image rescaled, not another one
        _check_same_image(Path(args.he_raw), rescaled)
        return Path(args.he_raw)
    path = sample["files"].get("image")
    if not path or not Path(path).is_file():
        raise InputError(path or sample["prefix"], "he-raw, the H&E this sample was rescaled from, is missing",
                         "put the image back where p2g-rescale read it, give --he-raw where it is now, or rescale "
                         "the sample again")
    return Path(path)


def _check_same_image(path: Path, rescaled: Rescaled) -> None:
    """Size (and content, for a small file) against what p2g-rescale recorded; modification times differ in a copy,
    so a big file is known by its size here, and by its pixel dimensions when it is read (_write)."""
    # p2g-rescale's stamp of its sample's files (tool/stamps.py): {"prefix": {"image": fingerprint, ...}}
    recorded = rescaled.stamp["inputs"]["files"]["prefix"].get("image", {})
    now = file_fingerprint(path)
    differs = [k for k in ("size", "sha256") if k in recorded and recorded[k] != now.get(k)]
    if differs:
        raise InputError(path, f"is not the image this sample was rescaled from (its {differs[0]} differs from "
                         f"{rescaled.path / STAMP})", "give --he-raw the sample's own he-raw image")


def _check_cells(args: Args, sample: dict) -> Optional[Path]:
    if not args.cells:
        return None
    cells = Cells(args.cells)
    if cells.record.read()["sample"] != sample["name"]:
        raise InputError(cells.path, f"cells of another sample than '{sample['name']}'",
                         "give --cells the p2g-cells output of this same sample")
    return cells.table


def run(args: Args) -> SpatialDataStore:
    out = Path(args.out)
    SpatialDataStore.check_out(out)
    input_stamp(args)  # not reused (one store), but its inputs are checked the same way
    t0 = time.time()
    rescaled, result = Rescaled(args.rescaled), Result(args.result)
    sample, meta = rescaled.sample, check_same_sample(result, rescaled)
    he_raw, cells_h5ad = _he_raw(args, rescaled), _check_cells(args, sample)
    mask, genes = result.tissue.read(), result.genes.read()
    domains = _domains(args, mask)
    sd = _spatialdata()  # before any work: without the extra nothing is written
    h, w = sample["raw_shape"]
    check_free_space(out.parent, h * w * 3 * 4 // 3 + int(mask.sum()) * len(genes) * 4, "the SpatialData store")
    say(f"spatialdata {sample['name']}: H&E {w}x{h} px, {int(mask.sum())} superpixels x {len(genes)} genes"
        + (" and cells" if cells_h5ad else "") + f" -> {out}")
    _write(out, sd, he_raw, sample, meta, result, genes, mask, domains, cells_h5ad)
    say(f"spatialdata {sample['name']}: done in {time.time() - t0:.0f} s")
    return SpatialDataStore(out)


def require() -> None:
    """The one-line error that says how to install the extra, when it is missing (the runner asks first)."""
    _spatialdata()


def _spatialdata():
    from ..export import spatialdata as sd
    sd.require()
    return sd


def _write(out, sd, he_raw, sample, meta, result, genes, mask, domains, cells_h5ad):
    from ..export.anndata import sample_uns
    from ..io.image_reader import ImageReader
    table, _ = sd.superpixel_table(result, genes, mask, sample["scale"], sample_uns(sample, meta), domains)
    tables = {SpatialDataStore.TABLE: table}
    shapes = {SpatialDataStore.SUPERPIXELS: sd.superpixel_shapes(mask, table.obs_names, sample["scale"])}
    if cells_h5ad is not None:
        shapes[SpatialDataStore.CELLS], tables[SpatialDataStore.CELL_TABLE] = sd.cell_elements(
            cells_h5ad, sample["pixel_size_raw"])
    with ImageReader(he_raw) as reader:
        if list(reader.shape[:2]) != list(sample["raw_shape"]):
            raise InputError(he_raw, f"is {reader.shape[1]}x{reader.shape[0]} px, the image this sample was rescaled "
                             f"from {sample['raw_shape'][1]}x{sample['raw_shape'][0]} px",
                             "give --he-raw the sample's own he-raw image")
        with SpatialDataStore.writing(out) as tmp:
            sd.write_store(tmp, reader, tables, shapes)
