"""Scale equivariance (`vae.scale`): coarsening a HexPlane, the coarse scene's class shares, the loss, and the
decoder drawing the grid of the planes it is given."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.vae_objectives import EncodedObjective, LossWeights
from dynamiccity.vae.decoder import sinusoids
from dynamiccity.vae.losses import IGNORE
from dynamiccity.vae.model import HexPlaneVAE
from dynamiccity.vae.scale import coarse_targets, coarsen, scale_equivariance_loss
from tests.vae.test_model import TINY, labels_for


def random_latent(c=3, t=2, x=4, y=6, z=2, seed=0) -> HexPlane:
    g = torch.Generator().manual_seed(seed)
    shapes = {"xy": (x, y), "xz": (x, z), "yz": (y, z), "tx": (t, x), "ty": (t, y), "tz": (t, z)}
    return HexPlane.from_planes({n: torch.randn(1, c, *s, generator=g) for n, s in shapes.items()})


def test_coarsen_averages_pairs_of_cells_along_x_and_y_only():
    latent = random_latent()
    coarse = coarsen(latent)
    assert coarse.sizes == (3, 2, 2, 3, 2)
    # xy: a 2 x 2 block's mean; the x rows of xz and the x columns of tx pairwise; tz untouched
    assert torch.allclose(coarse.xy[0, :, 1, 2], latent.xy[0, :, 2:4, 4:6].mean(dim=(1, 2)))
    assert torch.allclose(coarse.xz[0, :, 1, 1], latent.xz[0, :, 2:4, 1].mean(dim=1))
    assert torch.allclose(coarse.yz[0, :, 2, 0], latent.yz[0, :, 4:6, 0].mean(dim=1))
    assert torch.allclose(coarse.tx[0, :, 1, 0], latent.tx[0, :, 1, 0:2].mean(dim=1))
    assert torch.allclose(coarse.ty[0, :, 0, 1], latent.ty[0, :, 0, 2:4].mean(dim=1))
    assert torch.equal(coarse.tz, latent.tz)
    with pytest.raises(ValueError, match="5 x 6 cells in X and Y does not split into blocks of 2"):
        coarsen(random_latent(x=5))


def test_a_product_latent_constant_over_blocks_coarsens_to_the_coarse_scene_it_describes():
    """The volume of a coarsened latent equals the fine volume averaged over blocks when each plane is
    constant over the blocks: coarsening commutes with expansion, as the loss assumes."""
    fine = random_latent(x=4, y=4)
    blocky = {}
    for name, p in fine.as_dict().items():
        rows, cols = {"xy": (2, 2), "xz": (2, 1), "yz": (2, 1), "tx": (1, 2), "ty": (1, 2), "tz": (1, 1)}[
            name
        ]
        small = F.avg_pool2d(p, (rows, cols))
        blocky[name] = small.repeat_interleave(rows, dim=2).repeat_interleave(cols, dim=3)
    latent = HexPlane.from_planes(blocky)

    def volume(h: HexPlane) -> torch.Tensor:  # (C, T, X, Y, Z) product of the six planes
        xy, xz, yz, tx, ty, tz = (p[0] for p in h.planes())
        space = xy[:, :, :, None] * xz[:, :, None] * yz[:, None]
        time = tx[:, :, :, None, None] * ty[:, :, None, :, None] * tz[:, :, None, None]
        return space[:, None] * time

    fine_volume = volume(latent)
    c, t, x, y, z = fine_volume.shape
    pooled = fine_volume.reshape(c, t, x // 2, 2, y // 2, 2, z).mean(dim=(3, 5))
    assert torch.allclose(volume(coarsen(latent)), pooled, atol=1e-6)


def test_coarse_targets_are_the_shares_of_the_observed_voxels_of_each_block():
    labels = torch.zeros(1, 1, 4, 2, 1, dtype=torch.long)
    valid = torch.ones_like(labels, dtype=torch.bool)
    labels[0, 0, 0:2, 0:2, 0] = torch.tensor([[1, 1], [2, IGNORE]])  # block 0: two 1s, one 2, one unscored
    valid[0, 0, 2:4, 0:2, 0] = False  # block 1: nothing observed
    shares, keep = coarse_targets(labels, valid, classes=3)
    assert shares.shape == (1, 1, 2, 1, 1, 3)
    assert torch.allclose(shares[0, 0, 0, 0, 0], torch.tensor([0.0, 2 / 3, 1 / 3]))
    assert keep[0, 0, :, 0, 0].tolist() == [True, False]


def test_the_loss_is_the_weighted_cross_entropy_against_the_shares_and_checks_the_grid():
    labels = torch.tensor([0, 1, 1, 2, 2, 2, 2, 0]).reshape(1, 1, 4, 2, 1)
    valid = torch.ones_like(labels, dtype=torch.bool)
    logits = torch.randn(1, 1, 2, 1, 1, 3, generator=torch.Generator().manual_seed(1))
    weights = torch.tensor([1.0, 2.0, 0.5])
    got = scale_equivariance_loss(logits, labels, valid, weights)
    logp = logits.reshape(2, 3).log_softmax(-1)
    shares = torch.tensor([[0.25, 0.5, 0.25], [0.25, 0.0, 0.75]])  # blocks (x 0-1) and (x 2-3)
    expected = -(weights * shares * logp).sum(-1).mean()
    assert torch.allclose(got, expected)
    with pytest.raises(ValueError, match="decoder must draw the grid of the planes it is given"):
        scale_equivariance_loss(torch.zeros(1, 1, 4, 2, 1, 3), labels, valid)


def test_the_head_encodes_a_coarse_grid_at_its_own_cell_centres():
    """A coarse cell's centre is the mean of its two fine cells' centres: (i + 0.5) / (n / 2)."""
    model = HexPlaneVAE(TINY)
    head = model.voxel_decoder.head
    assert torch.equal(head._pe(1, 16), head.pe1)
    coarse = head._pe(1, 8)
    assert torch.allclose(coarse, sinusoids(8, TINY.pe_freqs))
    angle = math.pi * 0.5 / 8  # cell 0 of 8 at the first frequency
    assert math.isclose(float(coarse[0, 0]), math.sin(angle), rel_tol=1e-6)


def test_the_vae_decodes_its_coarsened_latent_on_the_coarse_grid_in_the_same_forward():
    torch.manual_seed(0)
    model = HexPlaneVAE(TINY).eval()
    labels = labels_for(TINY)
    plain = model(labels, sample=False)
    both = model(labels, sample=False, coarse=2)
    assert plain.coarse_logits is None and torch.equal(plain.logits, both.logits)
    assert both.coarse_logits.shape == (2, 4, 8, 8, 4, 5)
    assert torch.allclose(both.coarse_logits, model.decode(coarsen(both.latent)))


def test_the_objective_adds_the_weighted_coarse_term_and_its_gradient_reaches_the_encoder():
    class Batch:
        labels = labels_for(TINY, batch=1)
        valid = torch.ones_like(labels, dtype=torch.bool)

    weights = torch.ones(TINY.num_classes)
    losses = {}
    for se in (0.0, 0.5):
        torch.manual_seed(0)
        model = HexPlaneVAE(TINY)
        objective = EncodedObjective(LossWeights(weights, 1.0, 0.005, None, se), torch.device("cpu"))
        torch.manual_seed(1)  # the same posterior sample
        losses[se] = objective.loss(model, Batch())
    (plain, logged0), (with_se, logged) = losses[0.0], losses[0.5]
    assert "coarse_ce" not in logged0 and logged["coarse_ce"] > 0
    assert torch.allclose(with_se, plain + 0.5 * logged["coarse_ce"], rtol=1e-5)
    model.zero_grad()
    torch.manual_seed(1)
    out = model(Batch.labels, coarse=2)
    scale_equivariance_loss(out.coarse_logits, Batch.labels, Batch.valid).backward()
    assert model.latent_head.moments["xy"].weight.grad.abs().sum() > 0
    assert all(name in PLANES for name in out.latent.as_dict())
