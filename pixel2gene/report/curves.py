"""Training curves as inline SVG: no plotting library and no network needed to view them."""
from html import escape

import numpy as np

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
W, H, PAD = 640, 300, 48


def _path(xs, ys, sx, sy):
    pts = [(sx(x), sy(y)) for x, y in zip(xs, ys) if y is not None and np.isfinite(y)]
    return " ".join(("M" if i == 0 else "L") + f"{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))


def curves_svg(curves: dict, folds, title: str) -> str:
    """Training (solid) and validation (dashed) loss per fold against optimiser steps."""
    steps = curves.get("step") or []
    train = np.array(curves.get("train") or [], dtype=float)
    val = np.array([[np.nan if v is None else v for v in row] for row in curves.get("val") or []], dtype=float)
    if not steps or train.size == 0:
        return f"<p>{escape(title)}: no curves recorded.</p>"
    values = np.concatenate([train[np.isfinite(train)], val[np.isfinite(val)]]) if val.size else train.ravel()
    lo, hi = float(values.min()), float(values.max())
    hi = hi if hi > lo else lo + 1
    sx = lambda x: PAD + (x - steps[0]) / max(1, steps[-1] - steps[0]) * (W - PAD - 10)
    sy = lambda y: H - PAD + 10 - (y - lo) / (hi - lo) * (H - PAD - 10)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{PAD}" y1="{H - PAD + 10}" x2="{W - 10}" y2="{H - PAD + 10}" stroke="#555"/>',
             f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD + 10}" stroke="#555"/>',
             f'<text x="{PAD}" y="{H - 8}" font-size="11">step {steps[0]}</text>',
             f'<text x="{W - 10}" y="{H - 8}" font-size="11" text-anchor="end">{steps[-1]}</text>',
             f'<text x="4" y="18" font-size="11">{hi:.3g}</text>',
             f'<text x="4" y="{H - PAD + 8}" font-size="11">{lo:.3g}</text>']
    for k, fold in enumerate(folds):
        c = COLOURS[k % len(COLOURS)]
        parts.append(f'<path d="{_path(steps, train[:, k], sx, sy)}" fill="none" stroke="{c}" stroke-width="1.5">'
                     f'<title>fold {fold} training</title></path>')
        if val.size and np.isfinite(val[:, k]).any():
            parts.append(f'<path d="{_path(steps, val[:, k], sx, sy)}" fill="none" stroke="{c}" '
                         f'stroke-width="1.5" stroke-dasharray="5,3"><title>fold {fold} validation</title></path>')
    parts.append("</svg>")
    return "".join(parts)
