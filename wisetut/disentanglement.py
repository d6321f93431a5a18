"""Disentanglement metrics: DCI (Eastwood & Williams, 2018) and MIG (Chen et al., 2018).

Both compare a code ``c`` (``[N, D]``, posterior means) with the factors ``v`` (``[N, K]``). **DCI**: one
regressor per factor (a Lasso by least-angle regression, its penalty by 5-fold cross-validation and the
one-standard-error rule, or a random forest of 50 trees of depth at most 8) on data standardised as in the
authors' code (``cianeastwood/qedr``) gives importances ``R[i, j] >= 0`` of ``c_i`` for ``v_j``. With ``P``
and ``P~`` its rows and columns normalised to sum 1 and ``H_b`` the entropy in base ``b``: disentanglement
``D = sum_i rho_i (1 - H_K(P_i.))``, ``rho_i = sum_j R_ij / sum_ij R_ij``; completeness
``C = mean_j (1 - H_D(P~_.j))`` (an unused code scores ``D = C = 0``); informativeness: held-out RMSE over
each factor's standard deviation, averaged (0 perfect, 1 the mean's); ``groups`` joins a factor's columns.

**MIG**: ``1/K sum_j (I(c_(1); v_j) - I(c_(2); v_j)) / H(v_j)``, with ``c_(1), c_(2)`` the two codes most
informative about ``v_j``, from ``bins`` equal-width bins (Locatello et al.'s ``disentanglement_lib``) and
:func:`sklearn.metrics.mutual_info_score`; the upward bias (``(bins - 1)^2 / 2N`` nats a pair) mostly cancels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["dci", "importance_matrix", "mig", "entropic_scores", "teapot_scores"]


def _as_2d(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2 or not np.isfinite(a).all():
        raise ValueError(f"{name} must be a finite [N, columns] array with N >= 2, got shape {a.shape}")
    return a


def _standardise(fit: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, sd = fit.mean(0), fit.std(0)
    sd = np.where(sd > 0, sd, 1.0)  # a constant column stays constant (0)
    return [(a - mean) / sd for a in (fit, *others)]


def _fit(kind: str, x: np.ndarray, y: np.ndarray, seed: int):
    """A fitted regressor and its importances ``[D]``."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LassoLars, LassoLarsCV

    if kind == "lasso":
        # Solved exactly by least-angle regression (LARS), not by coordinate descent: a trained encoder's codes
        # are often nearly collinear, and there coordinate descent stops far from the optimum (on chapter 9's
        # codes 5,000 sweeps left duality gaps up to 90x the tolerance; the Lasso weights are the importances).
        # The penalty by the one-standard-error rule: the largest alpha whose 5-fold error is within one
        # standard error of the best (the minimum itself keeps small weights on codes that are pure noise).
        cv = LassoLarsCV(cv=5).fit(x, y)
        mean, se = cv.mse_path_.mean(1), cv.mse_path_.std(1) / np.sqrt(cv.mse_path_.shape[1])
        best = mean.argmin()
        alpha = cv.cv_alphas_[mean <= mean[best] + se[best]].max()
        model = LassoLars(alpha=alpha).fit(x, y)
        return model, np.abs(model.coef_)
    if kind == "forest":
        model = RandomForestRegressor(n_estimators=50, max_depth=8, random_state=seed, n_jobs=1).fit(x, y)
        return model, model.feature_importances_
    raise ValueError(f"regressor must be 'lasso' or 'forest', got {kind!r}")


def entropic_scores(p: np.ndarray) -> np.ndarray:
    """``1 - H(p)`` of each column of a non-negative matrix, in base ``len(column)``; all-zero columns score 0."""
    p = np.asarray(p, dtype=np.float64)
    total = p.sum(0)
    q = p / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(q > 0, q * np.log(q), 0.0).sum(0) / np.log(len(p))
    return np.where(total > 0, 1.0 - h, 0.0)


def importance_matrix(
    codes_fit, targets_fit, codes_test, targets_test, *, regressor: str = "lasso", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fit one regressor per target column: (``R`` ``[D, T]``, held-out NRMSE per target ``[T]``)."""
    cf, ct = _standardise(_as_2d(codes_fit, "codes_fit"), _as_2d(codes_test, "codes_test"))
    tf, tt = _standardise(_as_2d(targets_fit, "targets_fit"), _as_2d(targets_test, "targets_test"))
    if len(cf) != len(tf) or len(ct) != len(tt) or cf.shape[1] != ct.shape[1] or tf.shape[1] != tt.shape[1]:
        raise ValueError(f"codes and targets must pair up: fit {cf.shape} / {tf.shape}, test {ct.shape} / {tt.shape}")
    r, err = np.zeros((cf.shape[1], tf.shape[1])), np.zeros(tf.shape[1])
    for j in range(tf.shape[1]):
        model, r[:, j] = _fit(regressor, cf, tf[:, j], seed)
        sd = tt[:, j].std()
        err[j] = np.sqrt(np.mean((model.predict(ct) - tt[:, j]) ** 2)) / (sd if sd > 0 else 1.0)
    return r, err


def dci(
    codes_fit,
    targets_fit,
    codes_test,
    targets_test,
    *,
    groups: Sequence[Sequence[int]] | None = None,
    regressor: str = "lasso",
    seed: int = 0,
) -> dict:
    """Disentanglement, completeness and informativeness of Eastwood & Williams (2018).

    Args:
        codes_fit, targets_fit: ``[N, D]`` codes and ``[N, T]`` target columns the regressors are fitted on.
        codes_test, targets_test: held-out codes and targets, for the informativeness.
        groups: which target columns form one factor (default: each column its own), e.g.
            ``[[0, 1], [2], [3], [4], [5]]`` for the teapots' ``(cos a, sin a)``, elevation and colour.
        regressor: ``"lasso"`` (cross-validated Lasso) or ``"forest"`` (a random forest).

    Returns:
        ``{"disentanglement", "completeness", "informativeness", "per_code": D_i, "per_factor":
        C_j, "error_per_factor", "importance": R [D, K]}`` (lists where arrays).
    """
    r_cols, err_cols = importance_matrix(codes_fit, targets_fit, codes_test, targets_test, regressor=regressor, seed=seed)
    groups = [[j] for j in range(r_cols.shape[1])] if groups is None else [list(g) for g in groups]
    if sorted(j for g in groups for j in g) != list(range(r_cols.shape[1])):
        raise ValueError(f"groups must use every one of the {r_cols.shape[1]} target columns once, got {groups}")
    r = np.stack([r_cols[:, g].sum(1) for g in groups], 1)  # [D, K]
    err = np.array([err_cols[g].mean() for g in groups])
    d_i = entropic_scores(r.T)  # per code: its importances across factors
    rho = r.sum(1) / r.sum() if r.sum() > 0 else np.zeros(len(r))
    c_j = entropic_scores(r)  # per factor: its importances across codes
    return {
        "disentanglement": float((rho * d_i).sum()),
        "completeness": float(c_j.mean()),
        "informativeness": float(err.mean()),
        "per_code": d_i.tolist(),
        "per_factor": c_j.tolist(),
        "error_per_factor": err.tolist(),
        "importance": r.tolist(),
        "regressor": regressor,
    }


def _discretise(a: np.ndarray, bins: int) -> np.ndarray:
    lo, hi = a.min(0), a.max(0)
    width = np.where(hi > lo, hi - lo, 1.0)
    return np.clip(((a - lo) / width * bins).astype(int), 0, bins - 1)


def mig(codes, factors, *, bins: int = 20) -> dict:
    """The mutual information gap of Chen et al. (2018), with codes and factors in ``bins`` bins.

    Returns:
        ``{"mig", "per_factor": gap / H(v_j), "mutual_information": I [D, K] in nats, "entropy": H(v_j)}``.
    """
    from sklearn.metrics import mutual_info_score

    c, v = _as_2d(codes, "codes"), _as_2d(factors, "factors")
    if len(c) != len(v) or c.shape[1] < 2 or bins < 2:
        raise ValueError(
            f"need as many codes as factors, at least 2 code columns and bins >= 2, got {c.shape}, {v.shape}, {bins}"
        )
    cd, vd = _discretise(c, bins), _discretise(v, bins)
    mi = np.array([[mutual_info_score(cd[:, i], vd[:, j]) for j in range(v.shape[1])] for i in range(c.shape[1])])
    h = np.array([mutual_info_score(vd[:, j], vd[:, j]) for j in range(v.shape[1])])
    top = np.sort(mi, axis=0)[::-1]
    gap = np.where(h > 0, (top[0] - top[1]) / np.where(h > 0, h, 1.0), 0.0)
    return {"mig": float(gap.mean()), "per_factor": gap.tolist(), "mutual_information": mi.tolist(), "entropy": h.tolist()}


def teapot_scores(model, data, *, n_fit: int, probe, steps: int = 9) -> dict:
    """Every measure chapter 9 takes of one trained run on the teapots (``data``: a ``TeapotsData``).

    DCI with random forests and with the Lasso (fitted on the codes ``mu`` of the first ``n_fit``
    training teapots, scored on the held-out ones; azimuth as (cos, sin)), MIG on the training codes,
    and the smoothness of traversals of the held-out codes at indices ``probe`` (:mod:`wisetut.traversals`),
    with the forest's importance matrix, each coordinate's traversal numbers and the first probe's
    decoded paths for the figures.
    """
    from wisetut.data.teapots import TARGET_GROUPS, azimuth_targets
    from wisetut.latent import encode_all
    from wisetut.traversals import smoothness, traversal_ranges, traverse

    fit, test = azimuth_targets(data.f_train[:n_fit]).numpy(), azimuth_targets(data.f_test).numpy()
    mu_train, mu_test = encode_all(model, data.x_train)[0], encode_all(model, data.x_test)[0]  # uint8 in, chunk by chunk
    scored = {}
    for kind in ("forest", "lasso"):
        scored[kind] = dci(mu_train[:n_fit].numpy(), fit, mu_test.numpy(), test, groups=TARGET_GROUPS, regressor=kind)
    gap = mig(mu_train.numpy(), data.f_train.numpy())
    paths = traverse(model, mu_test[probe], traversal_ranges(mu_test), steps=steps)
    smooth = smoothness(paths)
    forest, lasso = scored["forest"], scored["lasso"]
    return {
        "dci_disentanglement": forest["disentanglement"],
        "dci_completeness": forest["completeness"],
        "dci_informativeness": forest["informativeness"],
        "lasso_disentanglement": lasso["disentanglement"],
        "lasso_completeness": lasso["completeness"],
        "lasso_informativeness": lasso["informativeness"],
        "mig": gap["mig"],
        "mig_per_factor": gap["per_factor"],
        "roughness": smooth["roughness"],
        "monotone": smooth["monotone"],
        "change_per_step": smooth["change_per_step"],
        "importance": forest["importance"],
        "per_dim": smooth["per_dim"],
        "paths": paths[0],
    }
