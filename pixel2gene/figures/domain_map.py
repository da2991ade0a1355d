"""Tissue domains drawn over the H&E: one colour per domain, a legend, a scale bar."""
import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and clusters
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap, to_hex  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .gene_map import faded, scale_bar  # noqa: E402
from .thumbnail import grid_to  # noqa: E402


def domain_colours(k: int):
    """k distinct colours as hex: tab10, then tab20, then evenly spaced hues for more domains."""
    if k <= 10:
        colours = plt.get_cmap("tab10").colors[:k]
    elif k <= 20:
        colours = plt.get_cmap("tab20").colors[:k]
    else:
        colours = plt.get_cmap("hsv")(np.linspace(0, 1, k, endpoint=False))
    return [to_hex(c) for c in colours]


def draw_domain_map(path, thumb, factor: int, um_per_px: float, grid: np.ndarray, colours, names, title: str,
                    dpi=100):
    """grid: the domain of each superpixel, -1 off tissue; names: the legend's label of each domain."""
    h, w = thumb.shape[:2]
    over = grid_to(grid.astype(np.float32), factor, (h, w))
    over[over < 0] = np.nan
    fig, ax = plt.subplots(figsize=(w / dpi + 2.8, h / dpi + 0.6), dpi=dpi)
    ax.imshow(faded(thumb), interpolation="none")
    ax.imshow(np.ma.masked_invalid(over), cmap=ListedColormap(colours), vmin=-0.5, vmax=len(colours) - 0.5,
              alpha=0.8, interpolation="none")
    scale_bar(ax, um_per_px, w, h)
    ax.set_title(title, fontsize=13, parse_math=False)
    ax.set_axis_off()
    ax.legend(handles=[Patch(color=c, label=n) for c, n in zip(colours, names)], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
