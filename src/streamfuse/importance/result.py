"""``StreamImportance``: the table, the agreement between the measures, and a plain verdict.

Agreement is Spearman's rank correlation of the mean learned weights with each other measure
(log-likelihood based: ablation loss increase and Shapley log-likelihood; the accuracy-based
variants are reported too). Thresholds for the verdict: rho >= 0.7 agree, 0.3 < rho < 0.7 partly
agree, rho <= 0.3 DISAGREE; NaN (a constant ranking, or a single stream) cannot be compared. With a
bootstrap (``bootstrap.py``) the whole 95% interval of rho must lie in one band, else the agreement
is "not settled" -- with two streams rho is +1 or -1 by construction, so only its interval tells
a settled order from a coin flip. Likewise the top stream is named only when its lead over every
other stream is outside the interval of the difference; otherwise the verdict calls a TIE.

A model no better than chance (1/K) or than the class prior (always answering the most frequent
class) gets a warning as its verdict and no importance claim.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard

from .spearman import spearman

if TYPE_CHECKING:
    import torch

    from .bootstrap import Bootstrap

Row = dict[str, Any]  # one table row: "stream", the COLUMNS (float or None) and "<column>_ci95" (low, high)
Interval = tuple[float, float]

COLUMNS = {  # key -> (header, what it is)
    "weight": ("weight", "mean learned weight"),
    "ablation_acc_drop": ("ablation acc drop", "accuracy lost when the stream is removed"),
    "ablation_loss_increase": ("ablation loss increase", "mean cross-entropy gained when removed"),
    "shapley_acc": ("Shapley acc", "Shapley value for accuracy"),
    "shapley_loglik": ("Shapley loglik", "Shapley value for mean log-likelihood (nats)"),
}
AGREEMENT = {  # agreement key -> (other column, label in the verdict)
    "weights_vs_ablation": ("ablation_loss_increase", "ablation"),
    "weights_vs_shapley": ("shapley_loglik", "Shapley"),
    "weights_vs_ablation_acc": ("ablation_acc_drop", "ablation (accuracy)"),
    "weights_vs_shapley_acc": ("shapley_acc", "Shapley (accuracy)"),
}


def _ok(v: object) -> TypeGuard[float]:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _num(v: float | None, nd: int = 3, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return f"{v:+.{nd}f}" if signed else f"{v:.{nd}f}"


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def _argmax(values: Sequence[float | None]) -> int | None:
    ok = {i: v for i, v in enumerate(values) if _ok(v)}
    return max(ok, key=ok.__getitem__) if ok else None  # the first of equal maxima


def compute_agreement(table: list[Row]) -> dict[str, float] | None:
    weights = [row["weight"] for row in table]
    if not any(_ok(w) for w in weights):
        return None
    out: dict[str, float] = {}
    for key, (col, _) in AGREEMENT.items():
        other = [row.get(col) for row in table]
        if any(v is not None for v in other):
            out[key] = spearman(weights, other)
    return out


def chance_warning(full_accuracy: float, class_counts: Iterable[float | torch.Tensor]) -> str | None:
    """A warning when the model is no better than chance (1/K) or than always answering the most
    frequent class of the data (the class prior); None otherwise."""
    counts = [float(c) for c in class_counts]
    k, n = len(counts), sum(counts)
    chance, prior = 1.0 / k, max(counts) / n
    if full_accuracy > max(chance, prior):
        return None
    majority = max(range(k), key=lambda c: counts[c])
    return (
        f"WARNING: the model does no better than chance or the class prior: accuracy {100 * full_accuracy:.1f}% vs chance "
        f"{100 * chance:.1f}% (1/K, K={k}) and the class prior {100 * prior:.1f}% (always answering class "
        f"{majority}). It has learned nothing these measurements could attribute to a stream, so no stream "
        f"is named as carrying the information; the table is for diagnosis only."
    )


def _ties(table: list[Row], streams: Sequence[str], key: str, top: int, boot: Bootstrap | None) -> list[int]:
    """Streams whose difference from the top one is within uncertainty: the 95% bootstrap interval of
    the difference contains 0, or (sampled Shapley) the permutation intervals overlap."""
    vals = [row.get(key) for row in table]
    tied = []
    for j in range(len(streams)):
        if j == top or not _ok(vals[j]):
            continue
        if boot is not None and key in boot.means:
            if boot.diff_interval(key, top, j)[0] <= 0:
                tied.append(j)
        elif f"{key}_ci95" in table[top] and table[top][f"{key}_ci95"][0] <= table[j][f"{key}_ci95"][1]:
            tied.append(j)
    return tied


def _source(table: list[Row]) -> tuple[str, str]:
    """The measure the verdict ranks by: Shapley log-likelihood, else ablation, else weights."""
    if any(row.get("shapley_loglik") is not None for row in table):
        return "Shapley", "shapley_loglik"
    if any(row.get("ablation_loss_increase") is not None for row in table):
        return "ablation", "ablation_loss_increase"
    return "weights", "weight"


def leading_streams(streams: list[str], table: list[Row], boot: Bootstrap | None = None, warning: str | None = None) -> list[str]:
    """The stream(s) the verdict names as carrying the most information: one, several for a TIE,
    none when there is no claim (a warning, no stream improving on nothing, or weights only)."""
    src, key = _source(table)
    top = _argmax([row.get(key) for row in table])
    if warning or src == "weights" or top is None or not table[top][key] > 0:
        return []
    return [streams[i] for i in [top] + _ties(table, streams, key, top, boot)]


def _agreement_phrase(rho: float | None, ci: Interval | None) -> str:
    """Which group a weights-vs-measure correlation falls in: by its 95% interval when there is one
    (all of it >= 0.7 agree, all <= 0.3 DISAGREE, all between partly agree, else not settled), by
    the point value otherwise."""
    if not _ok(rho):
        return "cannot be compared with"
    lo, hi = ci if ci is not None else (rho, rho)
    if lo >= 0.7:
        return "agree with"
    if hi <= 0.3:
        return "DISAGREE with"
    if lo > 0.3 and hi < 0.7:
        return "only partly agree with"
    return "are not settled against"


def make_verdict(
    streams: list[str], table: list[Row], agreement: dict[str, float] | None, weights_requested: bool, empty: str = "prior", *,
    boot: Bootstrap | None = None, agreement_ci: dict[str, Interval | None] | None = None, warning: str | None = None,
    weights_returned: bool = True,
) -> str:
    if warning:
        return warning
    def col(key: str) -> list[Any]:
        return [row.get(key) for row in table]

    src, key = _source(table)
    top = _argmax(col(key))
    if top is None:
        if src == "weights" and weights_requested and not weights_returned:
            return "no importance could be computed: the model returned no stream weights; add 'ablation' or 'shapley'"
        return f"no importance could be computed: every {src} value is missing or NaN"
    row = table[top]
    name = streams[top]
    if src == "weights":
        return (
            f"only learned weights were computed: stream {name!r} has the largest mean weight "
            f"({row['weight']:.3f}); a weight is not evidence that the model relies on a stream -- add "
            f"'ablation' or 'shapley' to check"
        )
    unit = "nats log-likelihood" if src == "Shapley" else "nats log-loss"
    if src == "Shapley":
        detail = f"{row['shapley_loglik']:+.3f} nats log-likelihood, {100 * row['shapley_acc']:+.1f} points accuracy"
    else:
        detail = (
            f"removing it costs {row['ablation_loss_increase']:+.3f} nats log-loss, "
            f"{100 * row['ablation_acc_drop']:+.1f} points accuracy"
        )
    tied = _ties(table, streams, key, top, boot)
    how = "95% bootstrap interval over the test rows" if boot is not None and key in boot.means else "95% permutation interval"
    if row[key] > 0 and tied:
        names = ", ".join(repr(streams[i]) for i in [top] + tied)
        values = ", ".join(f"{streams[i]!r} {table[i][key]:+.3f}" for i in [top] + tied)
        claim = (
            f"streams {names} TIE per {src} ({values} {unit}): the difference is within its {how}, so this "
            f"data does not say which carries more information"
        )
    elif row[key] > 0:
        claim = f"stream {name!r} carries the most information per {src} ({detail})"
        if how.startswith("95% bootstrap") and len(streams) > 1:
            claim += f"; its lead over every other stream is outside the {how}"
    elif src == "Shapley":
        nothing = "the class prior" if empty == "prior" else "all streams at their baseline"
        claim = f"no stream improves on {nothing} per Shapley (best: {name!r}, {detail})"
    else:
        claim = f"removing any one stream does not hurt the model (largest effect: {name!r}, {detail})"
    acc_key = "shapley_acc" if src == "Shapley" else "ablation_acc_drop"
    top_acc = _argmax(col(acc_key))
    if not tied and top_acc is not None and top_acc != top and col(acc_key)[top_acc] > col(acc_key)[top]:
        claim += f"; by accuracy alone stream {streams[top_acc]!r} ranks first"
    if agreement is None:
        if weights_requested:
            return f"the model has no learned stream weights; {claim}"
        return claim
    wtop = _argmax(col("weight"))
    groups: dict[str, list[tuple[str, float, Interval | None]]] = {"agree with": [], "only partly agree with": [], "DISAGREE with": [], "are not settled against": [],
              "cannot be compared with": []}
    for akey in ("weights_vs_ablation", "weights_vs_shapley"):
        if akey not in agreement:
            continue
        rho, label = agreement[akey], AGREEMENT[akey][1]
        ci = (agreement_ci or {}).get(akey)
        groups[_agreement_phrase(rho, ci)].append((label, rho, ci))
    parts = []
    for phrase, items in groups.items():
        if not items:
            continue
        labels = " and ".join(lbl for lbl, _, _ in items)
        if phrase == "cannot be compared with":
            parts.append(f"{phrase} {labels} (a constant ranking or a single stream)")
            continue
        text = f"{phrase} {labels} (Spearman {', '.join(f'{r:.2f}' for _, r, _ in items)}"
        cis = [ci for _, _, ci in items if ci is not None]
        if cis:
            text += "; 95% bootstrap interval " + ", ".join(f"{lo:.2f} to {hi:.2f}" for lo, hi in cis)
        parts.append(text + ")")
    text = "weights " + " but ".join(parts)
    if groups["DISAGREE with"]:
        text += f": the weights do not reflect which stream the model relies on; {claim}"
    elif groups["only partly agree with"]:
        text += f": the weights are only a rough guide to which stream the model relies on; {claim}"
    elif groups["are not settled against"]:
        text += (f": the order of the streams changes between resamples of the test rows, so this data cannot say "
                 f"whether the weights follow it; {claim}")
    else:
        text += f": {claim}"
    if wtop is not None and wtop != top and not tied:
        text += f" (the largest mean weight is on {streams[wtop]!r})"
    return text


@dataclass
class StreamImportance:
    """Which stream carries the most information, measured several ways (see ``stream_importance``).

    ``table`` has one row per stream with keys ``stream, weight, ablation_acc_drop,
    ablation_loss_increase, shapley_acc, shapley_loglik`` (None where the method was not run or the
    model has no weights) and, for sampled Shapley, ``shapley_acc_ci95`` / ``shapley_loglik_ci95``
    as ``(low, high)``; with a bootstrap every measured column has ``<column>_ci95`` (95% interval
    over resamples of the test rows) and ``agreement_ci`` the interval of each Spearman
    correlation. ``leaders``: the stream the verdict names as carrying the most information, several
    when it calls a tie, none without a claim. ``warning`` is set when the model is no better than chance or the class prior.
    ``per_class`` (with ``per_class=True``) is a list of
    ``{"class", "num_rows", "full_accuracy", "table"}`` for every class present in the labels.
    """

    streams: list[str]
    table: list[Row]
    full_accuracy: float
    full_loglik: float
    empty_accuracy: float
    empty_loglik: float
    agreement: dict[str, float] | None
    verdict: str
    methods: tuple[str, ...]
    masking: str
    empty: str
    exact: bool | None
    num_samples: int | None
    num_rows: int
    num_classes: int
    forward_passes: int
    per_class: list[dict[str, Any]] | None = field(default=None)
    warning: str | None = None
    agreement_ci: dict[str, Interval | None] | None = None
    bootstrap: int = 0
    leaders: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN/inf become None, tuples lists)."""
        out: dict[str, Any] = _jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})
        return out

    def _columns(self, table: list[Row]) -> list[str]:
        return [k for k in COLUMNS if any(row.get(k) is not None for row in table) or (k == "weight" and "weights" in self.methods)]

    def _cells(self, row: Row, cols: list[str]) -> list[str]:
        cells = [str(row["stream"])]
        for k in cols:
            cell = _num(row.get(k), signed=k != "weight")
            ci = row.get(f"{k}_ci95")
            if ci is not None:
                cell += f" [{_num(ci[0], signed=True)}, {_num(ci[1], signed=True)}]"
            cells.append(cell)
        return cells

    def _header(self) -> list[str]:
        how = (
            "" if self.exact is None
            else ", Shapley exact" if self.exact
            else f", Shapley sampled ({self.num_samples} permutations, 95% CI)"
        )
        nothing = "class prior" if self.empty == "prior" else "every stream at its baseline"
        if self.bootstrap:
            how += f"; [low, high]: 95% bootstrap over the {self.num_rows} test rows ({self.bootstrap} resamples)"
        return [
            f"Stream importance: N={self.num_rows} rows, K={self.num_classes} classes, masking={self.masking!r}{how}",
            f"full model: accuracy {self.full_accuracy:.4f}, log-likelihood {self.full_loglik:.4f}; "
            f"no stream ({nothing}): accuracy {self.empty_accuracy:.4f}, log-likelihood {self.empty_loglik:.4f}",
        ]

    def _agreement_line(self) -> str:
        if self.agreement is None:
            return "Agreement (Spearman): n/a (no learned weights)"
        def item(k: str, v: float) -> str:
            ci = (self.agreement_ci or {}).get(k)
            return f"{k.replace('_', ' ')} {_num(v, 2)}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")

        items = ", ".join(item(k, v) for k, v in self.agreement.items())
        return f"Agreement (Spearman): {items}"

    def to_markdown(self) -> str:
        def table_md(table: list[Row]) -> list[str]:
            cols = self._columns(table)
            lines = ["| stream | " + " | ".join(COLUMNS[k][0] for k in cols) + " |"]
            lines.append("|" + "---|" * (len(cols) + 1))
            lines += ["| " + " | ".join(self._cells(row, cols)) + " |" for row in table]
            return lines

        head = self._header()
        out = ([f"**{self.warning}**", ""] if self.warning else []) + [f"### {head[0]}", "", head[1], ""]
        out += table_md(self.table)
        out += ["", self._agreement_line(), "", f"**Verdict:** {self.verdict}"]
        for entry in self.per_class or []:
            out += ["", f"#### class {entry['class']} (n={entry['num_rows']}, accuracy {entry['full_accuracy']:.4f})", ""]
            out += table_md(entry["table"])
        return "\n".join(out)

    def __str__(self) -> str:
        cols = self._columns(self.table)
        rows = [["stream"] + [COLUMNS[k][0] for k in cols]] + [self._cells(r, cols) for r in self.table]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

        def fmt(r: list[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()

        lines = ([self.warning] if self.warning else []) + self._header()
        lines += [fmt(rows[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows[1:]]
        lines += [self._agreement_line(), f"verdict: {self.verdict}"]
        return "\n".join(lines)
