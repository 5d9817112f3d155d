"""SISSO-style symbolic regression: a readable formula for log10 D.

Follows R. Ouyang, S. Curtarolo, E. Ahmetcik, M. Scheffler, L. M. Ghiringhelli, *Phys. Rev.
Mater.* 2 (2018) 083802, doi:10.1103/PhysRevMaterials.2.083802 (written here: there is no
SISSO package on PyPI that runs without Fortran):

1. **Feature space.** The primary features Φ0 are combined by the operators — unary x²,
   1/x, √x (x ≥ 0), log x (x > 0), exp x (small ranges only); binary a + b, a − b, a × b,
   a ÷ b — into Φ1; with ``rungs=2`` the operators are applied again to the
   ``n_rung2`` features of Φ1 most correlated with the target (a bounded Φ2; the full Φ2
   of SISSO would be quadratic in |Φ1|). Non-finite, constant and duplicate features are
   dropped. Unlike SISSO, units are not checked for + and −.
2. **Sure-independence screening (SIS).** For dimension d = 1, 2, …, the ``n_sis``
   features most correlated with the residual of the best (d − 1)-term model join the pool.
3. **ℓ0 search.** Every d-subset of the pool is fitted by least squares (from the pool's
   Gram matrix, so each subset costs a d × d solve) and the lowest error wins.

The number of terms (1 … ``max_terms``) is chosen by the Bayesian information criterion
n ln(SSE/n) + (d + 1) ln n (G. Schwarz, *Ann. Statist.* 6 (1978) 461), so a two-term law
is not padded with a noise term.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

Expr = tuple  # ("var", name) | (op, child) | (op, left, right)

_UNARY = ("sq", "inv", "sqrt", "log", "exp")
_BINARY = ("add", "sub", "mul", "div")


def evaluate(expr: Expr, X: pd.DataFrame) -> np.ndarray:
    """Values of an expression on a feature table."""
    op = expr[0]
    if op == "var":
        return X[expr[1]].to_numpy(float)
    if op in _UNARY:
        a = evaluate(expr[1], X)
        with np.errstate(all="ignore"):
            return {
                "sq": lambda: a**2,
                "inv": lambda: 1.0 / a,
                "sqrt": lambda: np.sqrt(a),
                "log": lambda: np.log(a),
                "exp": lambda: np.exp(a),
            }[op]()
    a, b = evaluate(expr[1], X), evaluate(expr[2], X)
    with np.errstate(all="ignore"):
        return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]


def to_text(expr: Expr) -> str:
    """Readable text of an expression (``(Li_fraction × inv_T_1000_K)``)."""
    op = expr[0]
    if op == "var":
        return str(expr[1])
    if op in _UNARY:
        inner = to_text(expr[1])
        return {
            "sq": f"({inner})²",
            "inv": f"1/({inner})" if expr[1][0] != "var" else f"1/{inner}",
            "sqrt": f"√({inner})",
            "log": f"ln({inner})",
            "exp": f"exp({inner})",
        }[op]
    sym = {"add": "+", "sub": "−", "mul": "×", "div": "÷"}[op]
    return f"({to_text(expr[1])} {sym} {to_text(expr[2])})"


def _unary(expr: Expr, v: np.ndarray) -> list[tuple[Expr, np.ndarray]]:
    out = [(("sq", expr), v**2)]
    if np.all(v != 0):
        out.append((("inv", expr), 1.0 / v))
    if np.all(v >= 0):
        out.append((("sqrt", expr), np.sqrt(v)))
    if np.all(v > 0):
        out.append((("log", expr), np.log(v)))
    if np.ptp(v) <= 5.0 and np.max(np.abs(v)) <= 20.0:
        out.append((("exp", expr), np.exp(v)))
    return out


def _binary(a: tuple[Expr, np.ndarray], b: tuple[Expr, np.ndarray]) -> list:
    (ea, va), (eb, vb) = a, b
    out = [(("add", ea, eb), va + vb), (("sub", ea, eb), va - vb), (("mul", ea, eb), va * vb)]
    if np.all(vb != 0):
        out.append((("div", ea, eb), va / vb))
    if np.all(va != 0):
        out.append((("div", eb, ea), vb / va))
    return out


def _clean(candidates: list[tuple[Expr, np.ndarray]]) -> tuple[list[Expr], np.ndarray]:
    """Drop non-finite, constant and duplicate features (same standardised values)."""
    exprs, cols, seen = [], [], set()
    for expr, v in candidates:
        if not np.all(np.isfinite(v)):
            continue
        sd = v.std()
        if sd <= 1e-12 * max(1.0, np.abs(v).max()):
            continue
        z = (v - v.mean()) / sd
        key = np.round(z[: min(len(z), 64)], 6)
        key = (key if key[0] >= 0 else -key).tobytes()
        if key in seen:
            continue
        seen.add(key)
        exprs.append(expr)
        cols.append(v)
    return exprs, np.array(cols).T if cols else np.empty((0, 0))


def _abs_corr(F: np.ndarray, r: np.ndarray) -> np.ndarray:
    Fc = F - F.mean(axis=0)
    rc = r - r.mean()
    denom = np.sqrt((Fc**2).sum(axis=0) * (rc**2).sum()) + 1e-300
    return np.abs(rc @ Fc) / denom


def _l0_search(G: np.ndarray, c: np.ndarray, yy: float, d: int) -> tuple[float, tuple[int, ...]]:
    """Best d-subset of the pool: all subsets solved at once (batched d × d systems)."""
    combos = np.array(list(combinations(range(len(c)), d)), dtype=int)
    if combos.size == 0:
        return np.inf, ()
    Gs = G[combos[:, :, None], combos[:, None, :]]
    cs = c[combos]
    # a tiny ridge keeps exactly collinear subsets solvable; their error is then not lower
    scale = np.trace(Gs, axis1=1, axis2=2)[:, None, None] / d
    beta = np.linalg.solve(Gs + 1e-10 * scale * np.eye(d), cs[..., None])[..., 0]
    sse = yy - np.einsum("ij,ij->i", cs, beta)
    i = int(np.argmin(sse))
    return float(sse[i]), tuple(int(k) for k in combos[i])


@dataclass
class SISSORegressor:
    """Symbolic regression by SIS + ℓ0 over an operator-built feature space.

    Parameters
    ----------
    max_terms
        Largest number of terms (1–3) of the linear model in the selected features.
    rungs
        1: operators applied once to the primary features; 2: once more to the
        ``n_rung2`` best features of rung 1.
    n_sis
        Features added to the pool per dimension by sure-independence screening.
    n_rung2
        Rung-1 features combined again when ``rungs=2``.
    """

    max_terms: int = 3
    rungs: int = 1
    n_sis: int = 20
    n_rung2: int = 30
    terms: list[Expr] = field(default_factory=list, init=False)
    coef: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False)
    intercept: float = field(default=0.0, init=False)
    n_features_space: int = field(default=0, init=False)

    def _space(self, X: pd.DataFrame, y: np.ndarray) -> tuple[list[Expr], np.ndarray]:
        prim = [(("var", c), X[c].to_numpy(float)) for c in X.columns]
        prim_e, prim_v = _clean(prim)
        prim = list(zip(prim_e, prim_v.T, strict=True))
        cand = list(prim)
        for p in prim:
            cand += _unary(*p)
        for a, b in combinations(prim, 2):
            cand += _binary(a, b)
        exprs, F = _clean(cand)
        if self.rungs >= 2 and F.size:
            top = np.argsort(-_abs_corr(F, y))[: self.n_rung2]
            best = [(exprs[i], F[:, i]) for i in top]
            more = []
            for p in best:
                more += _unary(*p)
            for a, b in combinations(best, 2):
                more += _binary(a, b)
            exprs, F = _clean(list(zip(exprs, F.T, strict=True)) + more)
        return exprs, F

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> SISSORegressor:
        """Build the feature space, screen it and pick the best 1…max_terms-term model."""
        if not 1 <= self.max_terms <= 3:
            raise ValueError(f"max_terms must be 1, 2 or 3, got {self.max_terms}")
        y = np.asarray(y, float)
        exprs, F = self._space(X, y)
        if not exprs:
            raise ValueError("no usable (finite, non-constant) feature for the symbolic regression")
        self.n_features_space = len(exprs)
        n = len(y)
        Fc = F - F.mean(axis=0)
        yc = y - y.mean()
        yy = float(yc @ yc)
        pool: list[int] = []
        residual = yc.copy()
        best_by_d: list[tuple[float, tuple[int, ...]]] = []
        for d in range(1, min(self.max_terms, n - 2) + 1):
            score = _abs_corr(F, residual)
            score[pool] = -1.0
            pool += [int(i) for i in np.argsort(-score)[: self.n_sis] if score[i] >= 0]
            P = Fc[:, pool]
            G = P.T @ P
            c = P.T @ yc
            best = _l0_search(G, c, yy, d)
            if best[1]:
                best = (best[0], tuple(pool[i] for i in best[1]))
            if not best[1]:
                break
            best_by_d.append(best)
            cols = list(best[1])
            beta, *_ = np.linalg.lstsq(Fc[:, cols], yc, rcond=None)
            residual = yc - Fc[:, cols] @ beta
        bic = [n * np.log(max(sse, 1e-300) / n) + (len(s) + 1) * np.log(n) for sse, s in best_by_d]
        chosen = list(best_by_d[int(np.argmin(bic))][1])
        A = np.column_stack([np.ones(n), F[:, chosen]])
        sol, *_ = np.linalg.lstsq(A, y, rcond=None)
        self.terms = [exprs[i] for i in chosen]
        self.intercept = float(sol[0])
        self.coef = sol[1:]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The formula evaluated on a feature table."""
        out = np.full(len(X), self.intercept)
        for beta, term in zip(self.coef, self.terms, strict=True):
            out = out + beta * evaluate(term, X)
        return out

    def equation(self, target: str = "log10_D") -> str:
        """The fitted formula as text, e.g. ``log10_D = -2.1 − 0.93·(x × inv_T) + 0.5·y``."""
        text = f"{target} = {self.intercept:.4g}"
        for beta, term in zip(self.coef, self.terms, strict=True):
            sign = "−" if beta < 0 else "+"
            text += f" {sign} {abs(beta):.4g}·{to_text(term)}"
        return text

    def term_importances(self, X: pd.DataFrame) -> pd.Series:
        """|coefficient| × standard deviation of each term, normalised to sum 1."""
        w = np.array(
            [abs(b) * np.std(evaluate(t, X)) for b, t in zip(self.coef, self.terms, strict=True)]
        )
        w = w / w.sum() if w.sum() > 0 else w
        return pd.Series(w, index=[to_text(t) for t in self.terms]).sort_values(ascending=False)
