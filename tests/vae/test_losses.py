"""Lovasz-softmax and the VAE loss against independent per-class numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynamiccity.vae.losses import class_weights, lovasz_softmax, vae_loss


def lovasz_reference(probs: np.ndarray, labels: np.ndarray, ignore=None) -> float:
    """Berman et al. 2018: per present class, sort errors, dot with the Jaccard increments."""
    if ignore is not None:
        keep = labels != ignore
        probs, labels = probs[keep], labels[keep]
    losses = []
    for c in np.unique(labels):
        fg = (labels == c).astype(np.float64)
        errors = np.abs(fg - probs[:, c])
        order = np.argsort(-errors, kind="stable")
        fg_sorted, err_sorted = fg[order], errors[order]
        jaccard = []
        for i in range(1, len(fg_sorted) + 1):
            inter = fg_sorted.sum() - fg_sorted[:i].sum()
            union = fg_sorted.sum() + (1 - fg_sorted[:i]).sum()
            jaccard.append(1 - inter / union)
        grad = np.diff(np.concatenate([[0.0], jaccard]))
        losses.append(float(err_sorted @ grad))
    return float(np.mean(losses))


@pytest.mark.parametrize("ignore", [None, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lovasz_matches_reference(seed, ignore):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4), size=60)
    labels = rng.integers(0, 4, size=60)
    ours = lovasz_softmax(torch.from_numpy(probs), torch.from_numpy(labels), ignore=ignore)
    assert float(ours) == pytest.approx(lovasz_reference(probs, labels, ignore), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_binned_lovasz_is_exact_when_no_two_errors_share_a_bin(seed):
    rng = np.random.default_rng(seed)
    probs = torch.from_numpy(rng.dirichlet(np.ones(4), size=60)).requires_grad_(True)
    labels = torch.from_numpy(rng.integers(0, 4, size=60))
    exact = lovasz_softmax(probs, labels, ignore=3)
    (grad_exact,) = torch.autograd.grad(exact, probs)
    binned = lovasz_softmax(probs, labels, ignore=3, bins=10**7)  # 60 errors per class: one bin each
    (grad_binned,) = torch.autograd.grad(binned, probs)
    assert float(binned.detach()) == pytest.approx(float(exact.detach()), abs=1e-9)
    assert torch.allclose(grad_binned, grad_exact, atol=1e-9)


def test_binned_lovasz_with_shared_bins_is_the_loss_of_a_near_order():
    """With errors sharing bins the order is exact up to a bin's width: the loss is the Lovasz extension's
    (its maximum over orders) to within that width, never above it, and its gradient stays close."""
    torch.manual_seed(0)
    probs = (torch.randn(5000, 6) * 2).softmax(1).double().requires_grad_(True)
    labels = torch.randint(0, 6, (5000,))
    exact = lovasz_softmax(probs, labels)
    (grad_exact,) = torch.autograd.grad(exact, probs)
    for bins in (16, 256):
        binned = lovasz_softmax(probs, labels, bins=bins)
        (grad_binned,) = torch.autograd.grad(binned, probs)
        assert float(exact.detach()) - 1.0 / bins <= float(binned.detach()) <= float(exact.detach()) + 1e-12
        assert float((grad_binned - grad_exact).norm() / grad_exact.norm()) < 8.0 / bins
    perfect = torch.eye(3)[torch.tensor([0, 1, 1, 2])].double()
    assert float(lovasz_softmax(perfect, torch.tensor([0, 1, 1, 2]), bins=8)) == pytest.approx(0.0)


def test_lovasz_perfect_prediction_is_zero_and_gradient_flows():
    labels = torch.tensor([0, 1, 1, 2])
    assert float(lovasz_softmax(torch.eye(3)[labels].double(), labels)) == pytest.approx(0.0)
    logits = torch.randn(4, 3, requires_grad=True)
    lovasz_softmax(logits.softmax(1), labels).backward()
    assert logits.grad.abs().sum() > 0


def test_lovasz_all_ignored_is_zero():
    assert float(lovasz_softmax(torch.rand(3, 2), torch.tensor([5, 5, 5]), ignore=5)) == 0.0


def test_class_weights():
    w = class_weights(np.array([800, 100, 0, 100]))
    assert w[0] == pytest.approx(1.0) and w[1] == pytest.approx(2.0)
    assert w[2] == pytest.approx(2.0)  # unseen classes take the largest weight
    w = class_weights(np.array([800, 100, 0, 200]), power=0.5)
    assert w.tolist() == pytest.approx([1.0, 8**0.5, 8**0.5, 2.0])


def test_vae_loss_ignores_invalid_voxels():
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 3, 3, 2, 4)
    labels = torch.randint(0, 4, (1, 2, 3, 3, 2))
    valid = torch.rand(1, 2, 3, 3, 2) > 0.5
    scrambled = torch.where(valid, labels, (labels + 1) % 4)
    a = vae_loss(logits, labels, torch.tensor(0.0), valid=valid)
    b = vae_loss(logits, scrambled, torch.tensor(0.0), valid=valid)
    assert float(a.total) == pytest.approx(float(b.total))
    kl = vae_loss(logits, labels, torch.tensor(2.0), kl_weight=0.5)
    assert float(kl.total) == pytest.approx(float(kl.ce + kl.lovasz) + 1.0, rel=1e-6)
