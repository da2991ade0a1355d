"""Training curves as inline SVG: no plotting library and no network needed to view them."""
from html import escape

import numpy as np

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
W, H, PAD, LEGEND = 700, 300, 56, 110
MAX_LEGEND = 12


def _path(xs, ys, sx, sy):
    pts = [(sx(x), sy(y)) for x, y in zip(xs, ys) if y is not None and np.isfinite(y)]
    return " ".join(("M" if i == 0 else "L") + f"{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))


def curves_svg(curves: dict, folds, title: str, steps_per_epoch: float = 0.0) -> str:
    """Training (solid) and held-out (dashed) loss per fold against epochs (or optimiser steps), with a legend."""
    steps = curves.get("step") or []
    train = np.array(curves.get("train") or [], dtype=float)
    val = np.array([[np.nan if v is None else v for v in row] for row in curves.get("val") or []], dtype=float)
    if curves.get("epoch"):  # the trainer records epochs (each fold has its own steps per epoch)
        xs, unit = list(curves["epoch"]), "epoch"
    elif steps_per_epoch > 0:  # older records: steps, converted
        xs, unit = [s / steps_per_epoch for s in steps], "epoch"
    else:
        xs, unit = list(steps), "optimiser step"
    if not xs or train.size == 0:
        return f"<p>{escape(title)}: no curves recorded.</p>"
    values = np.concatenate([train[np.isfinite(train)], val[np.isfinite(val)]]) if val.size else train.ravel()
    lo, hi = float(values.min()), float(values.max())
    hi = hi if hi > lo else lo + 1
    x0, x1 = (0.0 if unit == "epoch" else xs[0]), xs[-1]
    sx = lambda x: PAD + (x - x0) / max(1e-9, x1 - x0) * (W - PAD - LEGEND)
    sy = lambda y: H - PAD + 10 - (y - lo) / (hi - lo) * (H - PAD - 10)
    base = H - PAD + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" font-size="11">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{PAD}" y1="{base}" x2="{W - LEGEND}" y2="{base}" stroke="#555"/>',
             f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{base}" stroke="#555"/>',
             f'<text x="{PAD}" y="{base + 14}">{x0:g}</text>',
             f'<text x="{W - LEGEND}" y="{base + 14}" text-anchor="end">{x1:.3g}</text>',
             f'<text x="{(PAD + W - LEGEND) / 2}" y="{H - 6}" text-anchor="middle">{unit}</text>',
             f'<text x="{PAD - 4}" y="18" text-anchor="end">{hi:.3g}</text>',
             f'<text x="{PAD - 4}" y="{base}" text-anchor="end">{lo:.3g}</text>',
             f'<text transform="translate(12,{base / 2 + 20}) rotate(-90)" text-anchor="middle">'
             'loss (MSE, min–max scaled counts)</text>']
    for k, fold in enumerate(folds):
        c = COLOURS[k % len(COLOURS)]
        parts.append(f'<path d="{_path(xs, train[:, k], sx, sy)}" fill="none" stroke="{c}" stroke-width="1.5">'
                     f'<title>fold {fold} training</title></path>')
        if val.size and np.isfinite(val[:, k]).any():
            parts.append(f'<path d="{_path(xs, val[:, k], sx, sy)}" fill="none" stroke="{c}" '
                         f'stroke-width="1.5" stroke-dasharray="5,3"><title>fold {fold} held-out</title></path>')
    parts += _legend(folds)
    parts.append("</svg>")
    return "".join(parts)


def _legend(folds):
    x, out = W - LEGEND + 14, []
    for row, (label, dash) in enumerate((("training", ""), ("held-out", ' stroke-dasharray="5,3"'))):
        y = 20 + 16 * row
        out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 24}" y2="{y - 4}" stroke="#333" stroke-width="1.5"{dash}/>'
                   f'<text x="{x + 30}" y="{y}">{label}</text>')
    for k, fold in enumerate(folds[:MAX_LEGEND]):
        y = 60 + 14 * k
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{COLOURS[k % len(COLOURS)]}"/>'
                   f'<text x="{x + 16}" y="{y}">fold {fold}</text>')
    if len(folds) > MAX_LEGEND:
        out.append(f'<text x="{x}" y="{60 + 14 * MAX_LEGEND}">… {len(folds) - MAX_LEGEND} more</text>')
    return out
