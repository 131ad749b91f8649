"""Generation metrics on feature matrices (paper A.2, Eqs. 5-11): IS, FID, KID, Precision and Recall.

Features come from an evaluator network (`dynamiccity.metrics.evaluator`); these functions know nothing of
scenes. Notation: real features X = {x_1..x_m} (m, D), generated features Y = {y_1..y_n} (n, D).

| paper                         | here                                  | implementation                      |
|-------------------------------|---------------------------------------|-------------------------------------|
| IS, Eqs. (5)-(6)              | `inception_score(logits)`             | torchmetrics `InceptionScore`       |
| FID, Eq. (7)                  | `frechet_distance(x, y)`              | written here: exact for singular covariances |
| KID = MMD^2, Eqs. (8)-(9)     | `kernel_distance(x, y)`               | written here: unbiased, any m and n |
| KID over subsets              | `kernel_distance_subsets(x, y, ...)`  | torchmetrics `KernelInceptionDistance` |
| P, R, Eqs. (10)-(11)          | `gaussian_precision_recall(x, y)`     | written here (no library has it); finite-sample region |
| k-NN manifold P, R            | `knn_precision_recall(x, y, k)`       | written here (Kynkaanniemi et al. 2019) |
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


class _Given(nn.Module):
    """An identity "feature extractor", so that torchmetrics' metrics take features computed elsewhere."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _check(name: str, x: torch.Tensor, least: int = 2) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2 or x.shape[0] < least or not x.is_floating_point():
        raise ValueError(
            f"{name} must be a float (N, D) feature matrix with N >= {least}, got {tuple(x.shape)}."
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite features.")
    return x.double()


def frechet_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Eq. (7): ||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x S_y)^(1/2)) of the Gaussians fitted to x (m, D) and
    y (n, D), with unbiased covariances. 0 for identical sets; grows with the distance between them.

    Tr((S_x S_y)^(1/2)) is taken as the sum of the square roots of the eigenvalues of the symmetric
    S_x^(1/2) S_y S_x^(1/2), which stays real and exact when a covariance is singular (fewer samples than
    dimensions), where the general eigen-decomposition torchmetrics uses can return NaN.
    """
    x, y = _check("x", x), _check("y", y)
    s_x, s_y = torch.cov(x.T).reshape(x.shape[1], -1), torch.cov(y.T).reshape(y.shape[1], -1)
    values, vectors = torch.linalg.eigh(s_x)
    root_x = vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root_x @ s_y @ root_x).clamp_min(0).sqrt().sum()
    mean = (x.mean(0) - y.mean(0)).square().sum()
    return float(mean + s_x.trace() + s_y.trace() - 2 * cross)


def poly_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """k(a, b) = (a . b / D + 1)^3 for all pairs of rows: (m, D), (n, D) -> (m, n)."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def kernel_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Eq. (9) on the full sets: the unbiased MMD^2 with k(a, b) = (a . b / D + 1)^3,

    1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j).

    Unbiased, so it can be slightly negative for sets from one distribution.
    """
    x, y = _check("x", x), _check("y", y)
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy = poly_kernel(x, x), poly_kernel(y, y)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * poly_kernel(x, y).mean())


def kernel_distance_subsets(
    x: torch.Tensor, y: torch.Tensor, subsets: int = 100, subset_size: int = 100, seed: int = 0
) -> tuple[float, float]:
    """KID as most codebases report it: the mean and standard deviation of the MMD^2 over `subsets` random
    subsets of `subset_size` samples of each set (equal sizes, as torchmetrics requires)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    x, y = _check("x", x), _check("y", y)
    size = min(subset_size, x.shape[0], y.shape[0])
    with warnings.catch_warnings():  # it keeps every feature in memory, which is what we want here
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=_Given(x.shape[1]), subsets=subsets, subset_size=size)
    metric.update(x, real=True)
    metric.update(y, real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def inception_score(logits: torch.Tensor) -> float:
    """Eqs. (5)-(6): exp(E_Q KL(p(y|Q) || p(y))), p(y|Q) = softmax(logits), p(y) its mean over the set.

    logits (N, K) of a classifier over K classes; 1 when every sample gets the same distribution, up to K
    when each is sure of its class and the classes are used equally.
    """
    from torchmetrics.image.inception import InceptionScore

    logits = _check("logits", logits, least=1)
    with warnings.catch_warnings():  # features kept in memory; no spread over a single split
        warnings.simplefilter("ignore", UserWarning)
        metric = InceptionScore(feature=_Given(logits.shape[1]), splits=1)
        metric.update(logits)
        return float(metric.compute()[0])


def _mahalanobis(points: torch.Tensor, ref: torch.Tensor, ridge: float) -> torch.Tensor:
    """Squared Mahalanobis distance of `points` (N, D) to the Gaussian fitted to `ref` (M, D)."""
    mu = ref.mean(0)
    cov = torch.cov(ref.T).reshape(ref.shape[1], ref.shape[1])
    cov = cov + ridge * cov.diagonal().mean().clamp_min(1e-12) * torch.eye(cov.shape[0], dtype=cov.dtype)
    d = points - mu
    return (d * torch.linalg.solve(cov, d.T).T).sum(1)


def _principal(x: torch.Tensor, y: torch.Tensor, dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y on the `dims` leading principal axes of the two sets together."""
    both = torch.cat([x, y])
    centre = both.mean(0)
    _, _, vh = torch.linalg.svd(both - centre, full_matrices=False)
    axes = vh[:dims].T
    return (x - centre) @ axes, (y - centre) @ axes


def prediction_threshold(quantile: float, dims: int, m: int) -> float:
    """The squared Mahalanobis radius within which a new draw from a Gaussian falls with probability
    `quantile`, when the Gaussian's mean and covariance are estimated from m draws in `dims` dimensions:
    dims (m+1)(m-1) / (m (m-dims)) F_{dims, m-dims}(quantile). It tends to chi^2_dims(quantile) as m grows."""
    from scipy.stats import f

    if m <= dims:
        raise ValueError(f"a Gaussian in {dims} dimensions needs more than {dims} samples, got {m}.")
    return float(dims * (m + 1) * (m - 1) / (m * (m - dims)) * f.ppf(quantile, dims, m - dims))


def gaussian_precision_recall(
    x: torch.Tensor, y: torch.Tensor, quantile: float = 0.95, dims: int | None = None, ridge: float = 1e-9
) -> tuple[float, float]:
    """Eqs. (10)-(11): precision = share of generated features y inside the `quantile` region of the
    Gaussian fitted to the real features x; recall = the share of x inside the region of y's Gaussian.
    A set drawn from the real distribution scores about `quantile` on both.

    The paper's region, squared Mahalanobis distance <= chi^2_D(quantile), assumes a known Gaussian. Fitted
    to m samples in D dimensions it is too small (at m < D the covariance is singular and nothing falls
    inside), so two measures keep the test what it means at the sample sizes scored here:
    - the features go to the `dims` leading principal axes of x and y together (default min(D, min(m, n)
      // 4); with dims >= D this is a rotation and changes nothing);
    - the region is the prediction region of a Gaussian estimated from m samples (`prediction_threshold`),
      which becomes the paper's chi^2 region as m grows.
    `ridge` times the mean variance on the covariance's diagonal guards against exactly flat axes.
    """
    x, y = _check("x", x, least=3), _check("y", y, least=3)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features, y {y.shape[1]}.")
    dims = min(x.shape[1], max(1, min(len(x), len(y)) // 4)) if dims is None else dims
    if not 1 <= dims <= x.shape[1]:
        raise ValueError(f"dims must be between 1 and the {x.shape[1]} features, got {dims}.")
    px, py = _principal(x, y, dims)
    precision = (_mahalanobis(py, px, ridge) <= prediction_threshold(quantile, dims, len(px))).double().mean()
    recall = (_mahalanobis(px, py, ridge) <= prediction_threshold(quantile, dims, len(py))).double().mean()
    return float(precision), float(recall)


def knn_precision_recall(x: torch.Tensor, y: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Manifold precision and recall (Kynkaanniemi et al., 2019), the form most generative work reports:
    each real sample covers the ball reaching its k-th nearest real neighbour; precision is the share of
    generated samples inside some real ball, recall the share of real samples inside some generated ball."""
    x, y = _check("x", x, least=k + 1), _check("y", y, least=k + 1)

    def radii(s: torch.Tensor) -> torch.Tensor:
        return torch.cdist(s, s).kthvalue(k + 1, dim=1).values  # the 1st is the sample itself

    def covered(points: torch.Tensor, centres: torch.Tensor, r: torch.Tensor) -> float:
        return float((torch.cdist(points, centres) <= r[None]).any(dim=1).double().mean())

    return covered(y, x, radii(x)), covered(x, y, radii(y))
