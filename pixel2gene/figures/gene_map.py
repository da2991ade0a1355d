"""A gene's predicted map drawn over the H&E, with a colour bar and a scale bar."""
import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and clusters
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .thumbnail import grid_to  # noqa: E402

CMAP = "viridis"  # perceptually uniform and readable for colour-blind viewers


def faded(thumb: np.ndarray) -> np.ndarray:
    """The H&E in light grey, so a colour map over it stays the thing that is read."""
    grey = thumb.astype(np.float32).mean(2, keepdims=True)
    return np.repeat((0.45 * grey + 0.55 * 255) / 255, 3, 2)


def colour_limits(values: np.ndarray):
    """0 to the 99th percentile of the tissue: one bright superpixel must not wash out the map."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 1.0
    hi = float(np.percentile(v, 99))
    return 0.0, hi if hi > 0 else float(v.max()) or 1.0


def scale_bar(ax, um_per_px: float, width_px: int, height_px: int):
    target = width_px * um_per_px / 5
    length_um = next((s for s in (5000, 2000, 1000, 500, 200, 100, 50, 20, 10) if s <= target), 10)
    n = length_um / um_per_px
    x0, y0 = width_px * 0.04, height_px * 0.96
    ax.plot([x0, x0 + n], [y0, y0], color="black", linewidth=3, solid_capstyle="butt")
    label = f"{length_um // 1000} mm" if length_um >= 1000 else f"{length_um} µm"
    ax.text(x0 + n / 2, y0 - height_px * 0.015, label, ha="center", va="bottom", fontsize=9)


def draw_gene_map(path, thumb, factor: int, um_per_px: float, values: np.ndarray, gene: str, units: str, dpi=100,
                  limits=None):
    """values: the gene on the superpixel grid, NaN off tissue; `limits` fixes the colour scale (a score's)."""
    h, w = thumb.shape[:2]
    over = grid_to(values, factor, (h, w))
    vmin, vmax = limits or colour_limits(values)
    fig, ax = plt.subplots(figsize=(w / dpi + 1.6, h / dpi + 0.6), dpi=dpi)
    ax.imshow(faded(thumb), interpolation="none")
    im = ax.imshow(np.ma.masked_invalid(over), cmap=CMAP, vmin=vmin, vmax=vmax, alpha=0.9, interpolation="none")
    scale_bar(ax, um_per_px, w, h)
    ax.set_title(gene, fontsize=13, parse_math=False)  # a name is text, never TeX ('$\\frac{$' is a name)
    ax.set_axis_off()
    bar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, extend="neither" if limits else "max")
    bar.set_label(units, fontsize=9)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return vmin, vmax
