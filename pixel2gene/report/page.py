"""Assemble the report page: every image inlined, no script or style fetched from anywhere."""
import base64
import json
import time
from html import escape
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..artifacts.files import ReportFile
from .curves import curves_svg

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#263238;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cfd8dc;font-size:13px}
main{padding:8px 28px 40px;max-width:1500px}section{margin:26px 0}h2{font-size:18px;border-bottom:1px solid #ddd}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #e0e0e0;border-radius:6px;
padding:10px 14px;min-width:130px}.card b{display:block;font-size:20px}.card span{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:13px;background:#fff}td,th{border:1px solid #e0e0e0;padding:3px 8px;
text-align:right}th{background:#eceff1}td:first-child,th:first-child{text-align:left}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.gallery figure{margin:0;background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:6px}
.gallery img,.wide img{width:100%;height:auto;display:block}.curves{display:flex;flex-wrap:wrap;gap:16px}
table.kv td{text-align:left}pre{background:#fff;border:1px solid #e0e0e0;padding:10px;font-size:12px;overflow:auto;max-height:420px}
.note{color:#666;font-size:12px}
.warning{background:#fff4e5;border:1px solid #f0a030;border-left:6px solid #e65100;border-radius:6px;padding:10px 16px;
margin:18px 0}.warning b{color:#b33c00}tr.untrusted td{color:#9e9e9e}th.sortable{cursor:pointer}
"""
# Marks the page once every inlined image has decoded: the browser test reads it from the DOM.
CHECK = """<script>window.addEventListener('load',function(){var i=[].slice.call(document.images);
document.body.setAttribute('data-images',i.length);
document.body.setAttribute('data-images-ok',i.every(function(m){return m.complete&&m.naturalWidth>0})?'yes':'no');});
</script>"""


# Sorts a table by the column whose header is clicked (numbers as numbers), for the per-gene skill table.
SORT = """<script>document.querySelectorAll('table.sortable').forEach(function(t){
t.querySelectorAll('th').forEach(function(th,i){th.classList.add('sortable');th.addEventListener('click',function(){
var b=t.tBodies[0],r=[].slice.call(b.rows),up=th.dataset.up!=='1';th.dataset.up=up?'1':'0';
r.sort(function(x,y){var a=x.cells[i].dataset.v||x.cells[i].textContent,c=y.cells[i].dataset.v||y.cells[i].textContent,
m=parseFloat(a),n=parseFloat(c);if(!isNaN(m)&&!isNaN(n)){return up?n-m:m-n;}return up?c.localeCompare(a):a.localeCompare(c);});
r.forEach(function(x){b.appendChild(x);});});});});</script>"""
TOP_DOMAIN_GENES = 8  # genes named per domain in the report (top-genes.tsv holds more)
COMPOSITION_R = ("Composition r: for each gene, the Pearson correlation across bins between predicted and measured "
                 "counts after each bin is divided by its total and log-transformed (log1p of counts per 10,000), so "
                 "it scores where a gene is relatively high or low, not how deep a bin was sequenced; 1 is perfect, 0 "
                 "is no better than a constant.")


def png_data(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def table_html(df: pd.DataFrame, digits=3) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = "".join(f"<td>{escape(f'{v:.{digits}f}' if isinstance(v, float) else str(v))}</td>" for v in r)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def cards(items) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{escape(str(v))}</b><span>{escape(k)}</span></div>' for k, v in items) + "</div>"


def warning_banner(meta: dict) -> str:
    """What a reader must know before looking at the maps (evaluation/trust.py), at the top of the page."""
    warned = meta.get("warnings") or []
    if not warned:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in warned)
    return f'<div class="warning"><b>Read this first.</b><ul>{items}</ul></div>'


def trust_section(meta: dict, skill: Optional[pd.DataFrame], maps) -> str:
    """How far to trust the maps: the genes' out-of-fold skill (a sortable table) and the tissue's novelty."""
    out = []
    summary = meta.get("skill")
    if summary and skill is not None:
        out.append(f"<p>By spatial cross-validation on the training section ({summary['bins']} bins, each predicted "
                   f"by the fold model that never saw it), <b>{summary['skilful_genes']} of {summary['genes']} genes"
                   f"</b> reach composition r {summary['skilful_r_threshold']}; the median gene reaches "
                   f"{summary['median_cv_r_composition']}. Genes below that are greyed out and marked ✗: their maps "
                   f"show little more than the tissue's structure.</p><p class='note'>{escape(COMPOSITION_R)}</p>")
        out.append(skill_html(skill))
    else:
        out.append("<p class='note'>No per-gene skill: the model was trained with one fold, so nothing was held out "
                   "to test it on.</p>")
    familiarity = meta.get("familiarity")
    if familiarity:
        out.append(f"<p><b>{100 * familiarity['novel_fraction']:.0f}% of this section's tissue looks unlike the "
                   f"training section</b> (farther from the training tissue than {100 * familiarity['novel_quantile']:g}"
                   f" % of the training section's own held-out tissue). {fallback_sentence(familiarity)}</p>")
    info = maps.record.read() if maps is not None else {}
    if info.get("novelty"):
        out.append(f'<div class="wide"><img alt="novelty" src="{png_data(maps.file(info["novelty"]))}"></div>')
    return "".join(out)


def fallback_sentence(familiarity: dict) -> str:
    """What the maps are on the novel tissue: leaning on the colour ridge, or the model's own extrapolation."""
    if familiarity.get("leans_on_colour", familiarity["colour_share"] > 0):  # a result written before it was said
        return (f"The colour ridge (a ridge on the training tissue's colour statistics) carries "
                f"{100 * familiarity['colour_share']:.0f}% of the prediction, the more the more novel the tissue. "
                "It moves little beyond the training tissue's colours, so there it draws the maps toward the "
                "training tissue's average composition, and their contrast with the familiar tissue says less "
                "(<code>--unfamiliar keep</code> shows the model's own extrapolation).")
    if familiarity["novel_fraction"] > 0:
        return ("On the novel tissue the model's deep features are extrapolated "
                "(<code>--unfamiliar keep</code>, or no colour ridge to lean on).")
    return ""


def skill_html(skill: pd.DataFrame) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("gene", "out-of-fold composition r", "out-of-fold r of counts",
                                              "bins", "trusted"))
    rows = []
    for _, r in skill.iterrows():
        cells = [escape(str(r["gene"]))] + [("—" if not np.isfinite(v) else f"{v:.3f}")
                                            for v in (r["cv_r_composition"], r["cv_r_counts"])]
        cells += [str(int(r["cv_bins"])), "✓" if r["skilful"] else "✗"]
        value = r["cv_r_composition"] if np.isfinite(r["cv_r_composition"]) else -2
        row = "".join(f"<td>{c}</td>" if k != 1 else f'<td data-v="{value:.6f}">{c}</td>' for k, c in enumerate(cells))
        rows.append(f"<tr{'' if r['skilful'] else ' class=untrusted'}>{row}</tr>")
    return (f"<details><summary>per-gene skill ({len(skill)} genes; click a column to sort)</summary>"
            f"<table class='sortable'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></details>")


def evaluation_section(evaluations) -> str:
    if not evaluations:
        return ('<p class="note">No truth was given for this sample, so there is no accuracy table. Give a truth '
                'file, or predict a training sample to score its held-out folds.</p>')
    out = []
    for summary, table in evaluations:
        top = next(v for k, v in summary.items() if k.startswith("mean_top"))
        label = {"truth-file": "truth file", "held-out-folds": "held-out folds (each bin scored by the "
                                                                "model that never saw it)"}.get(summary["truth"])
        out.append(f"<h3>{escape(str(label))}: {summary['n_bins']} bins, {summary['n_genes']} genes</h3>")
        n_top = summary.get("n_top", min(summary["n_genes"], 100))
        out.append(cards([(f"mean {k} (top {n_top} genes)", "—" if v is None else v) for k, v in top.items()]))
        out.append(f"<p class='note'>Genes ordered by measured total; the first {min(30, len(table))} of "
                   f"{len(table)}. Pearson and Spearman across bins; fraction: after dividing each bin by its total; "
                   "SSIM: min–max scaled maps painted over the bins.</p>")
        out.append(f"<details><summary>per-gene table</summary>{table_html(table.head(30))}</details>")
    return "".join(out)


def gallery_section(maps) -> str:
    """The overview and gene maps of a p2g-maps folder (artifacts/maps.py), inlined."""
    if maps is None:
        return '<p class="note">No maps were drawn.</p>'
    info = maps.record.read()
    # each map carries its gene's name as its title: no caption repeats it
    figs = "".join(f'<figure><img alt="{escape(g["gene"])}" title="{escape(g["gene"])}" '
                   f'src="{png_data(maps.file(g["file"]))}"></figure>' for g in info["genes"])
    return (f'<div class="wide"><img alt="overview" src="{png_data(maps.file(info["overview"]))}"></div>'
            f'<h3>Gene maps</h3><p class="note">{escape(info["units"])}; colour scale 0 to the 99th percentile '
            f'of the tissue.</p><div class="gallery">{figs}</div>')


def domains_section(domains) -> str:
    """The domain map (artifacts/domains.py) and, per domain, its size and the genes most higher inside it."""
    record, table, picture = domains
    sizes = record["sizes"]
    rows = []
    for d in range(record["k"]):
        genes = table.loc[table["domain"] == d].head(TOP_DOMAIN_GENES)
        listed = ", ".join(f"{escape(str(g))} ({v:+.2f})" for g, v in zip(genes["gene"], genes["log_fold"]))
        swatch = f'<span style="color:{escape(record["colours"][d])}">■</span>'
        rows.append(f"<tr><td>{swatch} {d}</td><td>{sizes[d]}</td><td>{100 * sizes[d] / max(sum(sizes), 1):.0f}%</td>"
                    f"<td style='text-align:left'>{listed}</td></tr>")
    return (f'<div class="wide"><img alt="tissue domains" src="{png_data(picture)}"></div>'
            f"<p class='note'>{record['k']} domains: k-means (seed {record['seed']}) on {record['n_pcs']} principal "
            "components of the log-normalised predictions; domain 0 is the largest. Top genes: mean log-normalised "
            "prediction inside the domain minus outside it, the genes predicted with skill by cross-validation "
            "first.</p>"
            "<table><thead><tr><th>domain</th><th>superpixels</th><th>share</th><th>top genes (log fold)</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def curves_section(models) -> str:
    if not models:
        return '<p class="note">No training record was given.</p>'
    svgs = []
    for info in models:
        title = f"folds {', '.join(map(str, info['folds']))} ({info.get('seconds', '?')} s)"
        config = info.get("config") or {}
        per_epoch = config["steps"] / config["epochs"] if config.get("steps") and config.get("epochs") else 0.0
        svgs.append(f"<figure>{curves_svg(info.get('curves', {}), info['folds'], title, per_epoch)}"
                    f"<figcaption>{escape(title)}</figcaption></figure>")
    return ("".join(fold_note(info) + selection_note(info.get("selection")) for info in models)
            + '<p class="note">Loss on min–max scaled counts; solid: training, dashed: the fold\'s held-out bins.'
            '</p><div class="curves">' + "".join(svgs) + "</div>")


def fold_note(info) -> str:
    """The spatial folds as they were made: a small section's blocks are halved until its bins fill the folds."""
    blocks = info.get("fold_block_um") or []
    if not blocks:
        return ""
    sides = " and ".join(f"{b:g}" for b in blocks)
    return (f"<p>{info.get('n_folds')} spatial folds of {sides} µm blocks (a held-out bin's neighbours within its "
            "block are held out with it; blocks are halved from --fold-block-um where a section has too few bins "
            "for its folds).</p>")


def selection_note(sel) -> str:
    """Which form the fold models took (ridge, MLP or a blend) and the CV scores that chose it."""
    if not sel:
        return ""
    scores = sel.get("cv_composition_r") or {}
    rows = "".join(f"<tr><td>{escape(k)}{' (chosen)' if k == sel.get('choice') else ''}</td><td>{v}</td></tr>"
                   for k, v in scores.items())
    ridge = sel.get("ridge") or {}
    table = (f"<table class='kv'><thead><tr><th>candidate</th><th>out-of-fold composition r</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>") if rows else ""
    return (f"<p>Fold models: <b>{escape(str(sel.get('form') or sel.get('choice')))}</b> "
            f"({escape(str(sel.get('choice')))}), chosen by {escape(str(sel.get('chosen_by')))}"
            + (f"; ridge penalty alpha {ridge['alpha']:g} by the same CV" if "alpha" in ridge else "")
            + ".</p>" + epoch_note(sel) + table)


def epoch_note(sel) -> str:
    """The MLPs' early stopping: the kept epochs' out-of-fold scores and the one chosen."""
    scores = sel.get("mlp_epoch_cv_composition_r") or {}
    if not scores or sel.get("mlp_epoch") is None:
        return ""
    chosen = f"{sel['mlp_epoch']:g}"
    cells = ", ".join(f"<b>epoch {escape(k)}: {v}</b>" if k == chosen else f"epoch {escape(k)}: {v}"
                      for k, v in scores.items())
    return f"<p>MLP weights kept from epoch {chosen}, by the fold MLPs' out-of-fold composition r: {cells}.</p>"


def key_value_table(pairs) -> str:
    rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(_shown(v))}</td></tr>" for k, v in pairs)
    return f"<table class='kv'><tbody>{rows}</tbody></table>"


def _shown(value) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    return str(value)


def inputs_section(sample: dict, training: dict, params: dict) -> str:
    files = sample.get("files") or {}
    own = [(k, files[k]) for k in ("image", "counts", "locs", "pixel_size_raw", "pixel_size", "radius") if k in files]
    own += [("he-raw size (px)", " x ".join(map(str, (sample.get("raw_shape") or [])[::-1]))),
            ("rescaled size (px)", " x ".join(map(str, (sample.get("shape") or [])[::-1]))),
            ("bin/spot diameter (µm)", sample.get("diameter_um")), ("measured bins", sample.get("n_bins"))]
    prefixes = (params.get("args") or {}).get("train") or []
    trained_on = prefixes or (training or {}).get("samples") or []
    return (f"<h3>This sample ({escape(sample.get('prefix', ''))})</h3>" + key_value_table(own)
            + "<h3>Training samples</h3>" + key_value_table(
                [(f"training sample {i + 1}", t) for i, t in enumerate(trained_on)] or [("training samples", None)]))


def parameters_section(params: dict, enc: dict, training: dict) -> str:
    """The run's options as a table (run.json keeps the command line under 'args'), then encoder and training."""
    args = params.get("args")
    rows = [("--" + k.replace("_", "-"), v) for k, v in args.items()] if isinstance(args, dict) else \
        [(k, v) for k, v in params.items() if not isinstance(v, (dict, list)) or k in ("device",)]
    if isinstance(args, dict):
        rows += [(k, params[k]) for k in ("device", "seconds", "version") if k in params]
    config = (training or {}).get("config") or {}
    return (key_value_table(rows or [("parameters", None)]) + "<h3>Encoder and training</h3>"
            + key_value_table([("encoder", enc.get("name")), *[(f"encoder {k}", v) for k, v in enc.items()
                                                               if k != "name"],
                               ("training samples", (training or {}).get("samples")),
                               ("folds", (training or {}).get("n_folds")), *config.items()]))


def steps_section(steps) -> str:
    if not steps:
        return '<p class="note">No step records were given.</p>'
    df = pd.DataFrame(steps).sort_values("finished", kind="stable")
    total = float(df["seconds"].sum())
    return table_html(df) + f"<p class='note'>Total {total:.1f} s of compute (reused steps show their original time).</p>"


def build_page(*, sample: dict, meta: dict, evaluations, maps, models, steps, params, skill=None,
               domains=None) -> str:
    enc = (meta.get("prediction") or [{}])[0].get("encoder", {}) or {}
    facts = [("tissue superpixels", meta.get("n_tissue", "—")),
             ("genes", meta.get("n_genes")), ("fold models", meta.get("n_models")),
             ("encoder", enc.get("name", "?")), ("µm per pixel of he-raw", sample.get("pixel_size_raw")),
             ("µm per pixel, rescaled", sample.get("pixel_size")), ("superpixel µm", meta.get("superpixel_um"))]
    training = (meta.get("prediction") or [{}])[0].get("training") or {}
    body = [f"<header><h1>Pixel2Gene report: {escape(sample['name'])}</h1>"
            f"<p>{escape(time.strftime('%Y-%m-%d %H:%M'))} · pixel2gene "
            f"{escape(str(meta.get('versions', {}).get('pixel2gene', '?')))}</p></header><main>",
            warning_banner(meta),
            "<section><h2>Sample</h2>" + cards(facts) + "</section>",
            "<section><h2>Maps</h2>" + gallery_section(maps) + "</section>",
            ("<section><h2>Tissue domains</h2>" + domains_section(domains) + "</section>") if domains else "",
            "<section><h2>How far to trust these maps</h2>" + trust_section(meta, skill, maps) + "</section>",
            "<section><h2>Accuracy</h2>" + evaluation_section(evaluations) + "</section>",
            "<section><h2>Training</h2>" + curves_section(models) + "</section>",
            "<section><h2>Steps and timings</h2>" + steps_section(steps) + "</section>",
            "<section><h2>Inputs</h2>" + inputs_section(sample, training, params) + "</section>",
            "<section><h2>Parameters</h2>" + parameters_section(params, enc, training) + "</section>",
            "<section><h2>Versions</h2><pre>" + escape(json.dumps(meta.get("versions", {}), indent=2))
            + "</pre></section></main>"]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{ReportFile.TITLE}{escape(sample['name'])}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}{SORT}{CHECK}</body></html>")
