"""One picture of the sample before any gene: H&E, tissue mask, QC of the bins, spatial folds."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .gene_map import faded, scale_bar  # noqa: E402
from .thumbnail import grid_to  # noqa: E402

PANEL_IN = 5.0


def _mask_panel(ax, thumb, factor, mask):
    tissue = grid_to(mask, factor, thumb.shape[:2])
    shown = thumb.astype(np.float32) / 255
    shown[~tissue] = shown[~tissue] * 0.35
    ax.imshow(shown, interpolation="none")
    ax.contour(tissue.astype(np.uint8), levels=[0.5], colors=["#00a0ff"], linewidths=1)
    ax.set_title(f"tissue mask ({int(mask.sum())} superpixels)")


def _bins_panel(ax, thumb, factor, bins: pd.DataFrame, colour, title, legend):
    ax.imshow(faded(thumb), interpolation="none")
    size = max(2.0, min(30.0, 2e4 / max(1, len(bins))))
    ax.scatter(bins.x / factor, bins.y / factor, c=colour, s=size, linewidths=0)
    ax.set_title(title)
    if legend:
        ax.legend(handles=legend, loc="upper right", fontsize=8, framealpha=0.8)


def _qc_colours(bins):
    state = np.where(~bins.on_tissue, "#9e9e9e", np.where(bins.keep, "#2e7d32", "#d81b60"))
    legend = [Line2D([], [], marker="o", ls="", color=c, label=lab) for c, lab in
              (("#2e7d32", f"trains ({int(bins.keep.sum())})"),
               ("#d81b60", f"dropped by QC ({int((bins.on_tissue & ~bins.keep).sum())})"),
               ("#9e9e9e", f"off tissue ({int((~bins.on_tissue).sum())})"))]
    return state, legend


def draw_overview(path, thumb, factor: int, um_per_px: float, mask: np.ndarray, bins=None, name="", dpi=100):
    n = 2 if bins is None else 4
    h, w = thumb.shape[:2]
    aspect = h / w
    fig, axes = plt.subplots(1, n, figsize=(PANEL_IN * n, PANEL_IN * aspect + 0.8), dpi=dpi)
    axes[0].imshow(thumb, interpolation="none")
    axes[0].set_title(f"H&E {name}", parse_math=False)
    scale_bar(axes[0], um_per_px, w, h)
    _mask_panel(axes[1], thumb, factor, mask)
    if bins is not None:
        colour, legend = _qc_colours(bins)
        _bins_panel(axes[2], thumb, factor, bins, colour, "measured bins: QC", legend)
        n_folds = int(bins.fold.max()) + 1
        cmap = plt.get_cmap("tab20" if n_folds > 10 else "tab10")
        _bins_panel(axes[3], thumb, factor, bins, [cmap(f % cmap.N) for f in bins.fold],
                    f"spatial folds ({n_folds})", None)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
