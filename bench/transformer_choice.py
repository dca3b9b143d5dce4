"""Why TableTransformer normalises numbers with quantiles and not a Bayesian GMM.

Compares, on the numeric columns of Adult: fit time, and the worst round-trip error
(relative to the column's range) of scikit-learn's QuantileTransformer against
CTGAN-style mode-specific normalisation with BayesianGaussianMixture (10 modes;
encode = (mode one-hot, (x - mean_k) / (4 sd_k)), decode = mean_k + 4 sd_k * value).

    python -m bench.transformer_choice
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from sklearn.mixture import BayesianGaussianMixture
from sklearn.preprocessing import QuantileTransformer

from bench.common import adult_split, machine


def quantile_round_trip(x: np.ndarray) -> tuple[float, float]:
    start = time.perf_counter()
    qt = QuantileTransformer(n_quantiles=1000, output_distribution="normal",
                             subsample=len(x) + 1).fit(x)
    fit_s = time.perf_counter() - start
    z = qt.transform(x).astype(np.float32)  # generators work in float32
    back = qt.inverse_transform(z)
    return fit_s, float(np.max(np.abs(back - x) / np.ptp(x, axis=0)))


def gmm_round_trip(x: np.ndarray) -> tuple[float, float]:
    fit_s, worst = 0.0, 0.0
    for column in x.T:
        start = time.perf_counter()
        gmm = BayesianGaussianMixture(n_components=10, weight_concentration_prior=1e-3,
                                      max_iter=100, random_state=0).fit(column[:, None])
        fit_s += time.perf_counter() - start
        means, sds = gmm.means_.ravel(), np.sqrt(gmm.covariances_.ravel())
        mode = gmm.predict(column[:, None])
        value = ((column - means[mode]) / (4 * sds[mode])).astype(np.float32)
        back = means[mode] + 4 * sds[mode] * value
        worst = max(worst, float(np.max(np.abs(back - column)) / np.ptp(column)))
    return fit_s, worst


def main() -> None:
    X_train, _, _, _ = adult_split()
    x = X_train.select_dtypes("number").to_numpy(dtype=float)
    results: dict = {"machine": machine()}
    for name, func in (("quantile", quantile_round_trip), ("bayesian_gmm", gmm_round_trip)):
        fit_s, err = func(x)
        results[name] = {"fit_s": round(fit_s, 3), "max_rel_round_trip_error": err}
        print(f"{name:<14} fit {fit_s:7.2f} s   worst round-trip error {err:.2e} of range")
    out = Path(__file__).parent / "results" / "transformer_choice.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
