"""Choose the model by spatial-block cross-validation inside the training bins only.

Every fold model (MLP or ridge) was fitted without its fold's bins, so predicting each bin with the
model of its own fold gives out-of-fold (OOF) predictions of the whole training set. Candidates:

- ridge (model/ridge.py), its penalty chosen first from a fixed log grid;
- the fold MLPs, at the epoch whose kept weights (training/trainer.py CHECKPOINTS) score best out of
  fold on their own: early stopping on the CV folds, one epoch for all folds;
- blends a * MLP + (1 - a) * ridge for a in BLENDS;
- each of those with a share c in COLOUR_SHARES of a ridge on the colour-context channels alone
  (features/colour.py: the colour floor's statistics), whose penalty is chosen the same way.

Each is scored with the referee's metric (composition r: counts of the top genes of the training
counts normalised per bin to 1e4, log1p, Pearson per gene over the bins, mean over genes), on bins'
predicted counts = the sum over their disk of clipped superpixel predictions, as the maps are scored.
The best score wins; ties go to the lower-capacity candidate (fewer epochs; less MLP weight, then more
colour).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np
import torch

from ..model.mlp import DEPTH, StackedMLP, gene_span
from ..evaluation.metrics import composition_r
from ..features.colour import is_colour_channel
from ..model import ridge
from .data import TrainData
from .trainer import TrainResult

TOP_GENES = 100          # as the referee's score
BLENDS = (0.25, 0.5, 0.75)  # MLP weights between pure ridge (0) and pure MLP (1)
COLOUR_SHARES = (0.1, 0.2, 0.3, 0.5)  # the colour ridge's share of the whole prediction, fixed a priori
MAX_SCORED_BINS = 20_000   # OOF scoring of Visium HD: a fixed random subset of the bins is plenty
CHUNK = 8192               # superpixels per forward pass
MODES = ("auto", "mlp", "ridge")


@dataclass
class Selection:
    mode: str
    mlp_weight: float                    # a: the MLP's weight in every fold model (1 = MLP, 0 = ridge)
    fold_ridge: Dict[int, dict] = field(default_factory=dict)   # fold -> ridge state (without that fold)
    full_ridge: Optional[dict] = None    # ridge on all training bins: what prediction uses
    record: dict = field(default_factory=dict)
    mlp_epoch: Optional[float] = None    # the epoch whose MLP weights the fold models keep (None: the last)

    def fold_state(self, fold: int, mlp_state: Optional[dict]) -> dict:
        state = dict(mlp_state or {})
        if fold in self.fold_ridge:
            state.update(self.fold_ridge[fold])
        state["blend.mlp"] = torch.tensor(float(self.mlp_weight))
        return state


def scored_rows(data: TrainData, folds: List[int], seed: int) -> np.ndarray:
    rows = np.flatnonzero(np.isin(data.fold, folds))
    if len(rows) > MAX_SCORED_BINS:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5e1ec7]))
        rows = np.sort(rng.choice(rows, MAX_SCORED_BINS, replace=False))
    return rows


def bin_counts(data: TrainData, rows, top) -> np.ndarray:
    return np.asarray(data.density[np.ix_(rows, top)], np.float64) * data.valid[rows].sum(1)[:, None]


def _superpixel_oof(data: TrainData, rows, fold_model, top) -> np.ndarray:
    """(len(rows), top) OOF counts: each bin's clipped superpixel predictions summed over its disk, by
    the model of its own fold; `fold_model(f, z)` maps (m, C) features to (m, top) counts."""
    out = np.zeros((len(rows), len(top)), np.float64)
    k, c = data.features.shape[1:]
    step = max(1, CHUNK // k)
    for f in np.unique(data.fold[rows]):
        idx = np.flatnonzero(data.fold[rows] == f)
        for s in range(0, len(idx), step):
            i = idx[s:s + step]
            r = rows[i]
            z = torch.from_numpy(np.asarray(data.features[r], np.float32)).view(-1, c)
            y = fold_model(int(f), z).view(len(r), k, -1) * torch.from_numpy(data.valid[r])[..., None]
            out[i] = y.sum(1).double().numpy()
    return out


def mlp_oof(data: TrainData, result: TrainResult, rows, top, epoch: Optional[float] = None) -> np.ndarray:
    """The fold MLPs' OOF counts of the `top` genes only (their output layers cut to those columns), with
    the weights kept at `epoch` (None: the last)."""
    last = f"layer{DEPTH}"
    cut = lambda s: {**s, f"{last}.weight": s[f"{last}.weight"][:, top], f"{last}.bias": s[f"{last}.bias"][top]}
    nets = {f: StackedMLP.from_states([cut(s)]).eval() for f, s in zip(result.folds, result.states_at(epoch))}
    span = torch.from_numpy(gene_span(result.gene_min, result.gene_max)[top])
    low = torch.from_numpy(result.gene_min.astype(np.float32)[top])

    @torch.no_grad()
    def predict(f, z):
        return nets[f](z[None])[0].mul(span).add(low).clamp(min=0)

    return _superpixel_oof(data, rows, predict, top)


def ridge_oof(data: TrainData, states: Dict[int, dict], rows, top) -> np.ndarray:
    return _superpixel_oof(data, rows, lambda f, z: ridge.apply(z, states[f], top), top)


def choose_penalty(systems: ridge.FoldSystems, data: TrainData, rows, top):
    """Penalty by OOF composition r of bin-level ridge predictions (n_b * (mean z . W + b), clipped):
    the same model, without per-superpixel clipping, so that the whole grid costs a few small products
    (one (bins, top genes) array at a time)."""
    lams = systems.lambdas()
    n_sp = data.valid[rows].sum(1)[:, None]
    by_fold = [(np.flatnonzero(data.fold[rows] == f), int(f)) for f in np.unique(data.fold[rows])]
    q = {f: systems.of_fold[f].project(systems.means(rows[i])) for i, f in by_fold}
    truth = bin_counts(data, rows, top)
    scores = []
    for lam in lams:
        pred = np.empty((len(rows), len(top)))
        for i, f in by_fold:
            pred[i] = systems.of_fold[f].predict_means(q[f], lam, top)
        scores.append(composition_r(np.clip(pred * n_sp, 0, None), truth))
    # among equal scores the stronger penalty (lower capacity): scan from the largest lambda down
    best = len(lams) - 1 - int(np.argmax(scores[::-1]))
    return lams[best], ridge.ALPHAS[best], dict(zip((f"{a:g}" for a in ridge.ALPHAS), map(_r4, scores)))


def _r4(x):
    return round(float(x), 4)


def select_model(data: TrainData, folds: List[int], mode: str, mlp: Optional[TrainResult], seed: int = 0,
                 say=None) -> Selection:
    """The fold models' form (ridge, MLP or a blend) by CV; `mlp` holds the trained fold MLPs (None for
    mode 'ridge')."""
    if mode not in MODES:
        raise ValueError(f"select mode {mode!r}")
    if mode == "mlp":
        return Selection("mlp", 1.0, record={"mode": "mlp", "choice": "mlp", "form": "MLP 100 %", "mlp_weight": 1.0,
                                              "chosen_by": "fixed (--select mlp)"})
    if data.n_folds < 2:
        if mode == "ridge":
            raise ValueError("ridge needs spatial folds to choose its penalty")
        return Selection("auto", 1.0, record={"mode": "auto", "choice": "mlp", "form": "MLP 100 %", "mlp_weight": 1.0,
                                               "chosen_by": "fixed: one fold leaves nothing to cross-validate"})
    top = np.arange(min(TOP_GENES, len(data.genes)))
    all_folds = sorted(int(f) for f in np.unique(data.fold))
    rows = scored_rows(data, folds, seed)
    truth = bin_counts(data, rows, top)
    deep = fit_ridge(data, data.features, None, all_folds, folds, seed, top)
    colour = colour_ridge(data, all_folds, folds, seed, top)
    epoch, epoch_scores, oof_mlp = choose_epoch(data, mlp, rows, top, truth) if mode == "auto" else (None, {}, None)
    mlp_shares = (0.0,) + (BLENDS + (1.0,) if mode == "auto" else ())
    colour_shares = (0.0,) + (COLOUR_SHARES if colour else ())
    deep_top = {f: _genes(st, top) for f, st in deep.folds.items()}  # scoring needs the top genes only
    colour_top = {f: _genes(st, top) for f, st in colour.folds.items()} if colour else {}
    columns = colour.columns if colour else None
    candidates, forms = {}, {}
    for c in colour_shares:
        for a in mlp_shares:
            form = Form(mlp=(1 - c) * a, ridge=(1 - c) * (1 - a), colour=c)
            states = {f: form.linear(deep_top[f], colour_top.get(f), columns) for f in folds}
            oof = form.linear_weight * ridge_oof(data, states, rows, top) if form.linear_weight else 0.0
            if form.mlp:
                oof = oof + form.mlp * oof_mlp
            name = form.name(a, epoch if mlp is not None and epoch != mlp.last_epoch else None)
            candidates[name], forms[name] = composition_r(oof, truth), form
    # ties go to the lower capacity: less MLP weight, then more colour
    choice = max(candidates, key=lambda k: (round(candidates[k], 6), -forms[k].mlp, forms[k].colour))
    form = forms[choice]
    record = {"mode": mode, "choice": choice, "form": form.plain(), "mlp_weight": _r4(form.mlp),
              "ridge_weight": _r4(form.ridge), "colour_weight": _r4(form.colour),
              "chosen_by": f"spatial-block CV on the training bins: out-of-fold composition r, top {len(top)} genes",
              "cv_composition_r": {k: _r4(v) for k, v in candidates.items()},
              "mlp_epoch": epoch, "mlp_epoch_cv_composition_r": epoch_scores,
              "ridge": deep.record("the training bins' feature scatter"),
              "n_bins_scored": int(len(rows)), "genes_scored": int(len(top))}
    if colour:
        record["colour_ridge"] = colour.record("the colour channels' scatter (features/colour.py)")
    if say and epoch_scores:
        say("train: MLP epochs by CV composition r " + ", ".join(f"{k} {v:.3f}" for k, v in epoch_scores.items())
            + f"; kept epoch {epoch:g}")
    if say:
        say("train: CV composition r " + ", ".join(f"{k} {v:.3f}" for k, v in candidates.items())
            + f"; ridge alpha {deep.alpha:g}; chose {choice}")
    fold_states = {f: form.linear(deep.folds[f], colour.folds.get(f) if colour else None, columns) for f in folds}
    full = form.linear(deep.full, colour.full if colour else None, columns)
    return Selection(mode, form.mlp, fold_states, full, record, epoch)


def choose_epoch(data: TrainData, mlp: TrainResult, rows, top, truth):
    """Early stopping on the CV folds: the kept epoch whose fold MLPs score best out of fold (ties: the
    earlier), its scores per epoch, and its OOF counts."""
    epochs = sorted(mlp.snapshots) or [None]
    oof = {e: mlp_oof(data, mlp, rows, top, e) for e in epochs}
    scores = {e: composition_r(oof[e], truth) for e in epochs}
    best = max(epochs, key=lambda e: (round(scores[e], 6), -(e or 0)))
    record = {f"{e:g}": _r4(v) for e, v in scores.items()} if epochs != [None] else {}
    return best, record, oof[best]


def _genes(state: dict, top) -> dict:
    return {"ridge.weight": state["ridge.weight"][:, top], "ridge.bias": state["ridge.bias"][top]}


@dataclass
class FittedRidge:
    """A ridge's penalty chosen by CV and its states (W over the channels `columns`; None: all)."""
    lam: float
    alpha: float
    grid: dict
    n_features: int
    folds: Dict[int, dict]
    full: dict
    columns: Optional[np.ndarray] = None

    def record(self, scatter: str) -> dict:
        return {"lambda": self.lam, "alpha": self.alpha, "alpha_grid_cv_composition_r": self.grid,
                "lambda_is": f"alpha x the mean eigenvalue of {scatter}", "n_features": self.n_features}


def fit_ridge(data: TrainData, features, columns, all_folds, folds, seed, top) -> FittedRidge:
    """Penalty from all folds, whichever this task trains, so every task's fold ridges are the same."""
    systems = ridge.FoldSystems(features, data.valid, data.density, data.fold, all_folds)
    lam, alpha, grid = choose_penalty(systems, data, scored_rows(data, all_folds, seed), top)
    state = lambda basis: ridge.ridge_state(*basis.coef(lam))
    return FittedRidge(lam, alpha, grid, int(features.shape[2]), {f: state(systems.of_fold[f]) for f in folds},
                       state(systems.full), columns)


def colour_columns(data: TrainData) -> Optional[np.ndarray]:
    if not data.channels:
        return None
    columns = [i for i, name in enumerate(data.channels) if is_colour_channel(name)]
    return np.array(columns) if columns else None


def colour_ridge(data: TrainData, all_folds, folds, seed, top) -> Optional[FittedRidge]:
    """A ridge on the colour-context channels only (None for features without them)."""
    columns = colour_columns(data)
    if columns is None:
        return None
    return fit_ridge(data, np.ascontiguousarray(data.features[..., columns]), columns, all_folds, folds, seed, top)


def colour_fallback(data: TrainData, seed: int) -> Optional[dict]:
    """The colour ridge on all training bins as a state over every channel (zero off the colour ones): what
    prediction leans on where tissue is novel. None with one fold (no penalty to choose) or no colour channels."""
    if data.n_folds < 2:
        return None
    all_folds = sorted(int(f) for f in np.unique(data.fold))
    fitted = colour_ridge(data, all_folds, [], seed, np.arange(min(TOP_GENES, len(data.genes))))
    if fitted is None:
        return None
    W = torch.zeros(data.features.shape[2], len(data.genes))
    W[torch.as_tensor(fitted.columns)] = fitted.full["ridge.weight"]
    return {"ridge.weight": W, "ridge.bias": fitted.full["ridge.bias"].clone()}


@dataclass
class Form:
    """A fold model's shares: mlp * MLP + (ridge + colour) * clip(linear), where the linear model is the
    shares' mix of the deep ridge and the colour ridge (two linear models mix into one)."""
    mlp: float
    ridge: float
    colour: float

    @property
    def linear_weight(self) -> float:
        return self.ridge + self.colour

    def linear(self, deep: Optional[dict], colour: Optional[dict], columns=None) -> dict:
        """The one linear model of the shares: the colour ridge's weights (over `columns`) added into the
        deep ridge's, so prediction needs no channel bookkeeping."""
        if not self.colour or colour is None or not self.linear_weight:
            return deep
        a, b = self.ridge / self.linear_weight, self.colour / self.linear_weight
        W = deep["ridge.weight"] * a
        W[torch.as_tensor(columns)] += b * colour["ridge.weight"]
        return {"ridge.weight": W, "ridge.bias": a * deep["ridge.bias"] + b * colour["ridge.bias"]}

    def plain(self) -> str:
        """The shares in words, e.g. "MLP 52 % + deep ridge 18 % + colour ridge 30 %"."""
        parts = [(self.mlp, "MLP"), (self.ridge, "deep ridge"), (self.colour, "colour ridge")]
        return " + ".join(f"{label} {100 * share:.0f} %" for share, label in parts if share > 0)

    def name(self, mlp_share: float, epoch: Optional[float] = None) -> str:
        """e.g. "blend 0.5 + colour 0.1"; an MLP stopped before the last epoch says so: "mlp (epoch 30)"."""
        base = {0.0: "ridge", 1.0: "mlp"}.get(mlp_share, f"blend {mlp_share:g}")
        if mlp_share and epoch is not None:
            base += f" (epoch {epoch:g})"
        return base if not self.colour else f"{base} + colour {self.colour:g}"
