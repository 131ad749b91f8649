import pytest
import torch
from torch import nn

from dynamiccity.diffusion.process import Diffusion, DiffusionConfig

TARGET = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]]])  # one 1x1x2x2 "map": every sample should land here


def oracle(diffusion: Diffusion):
    """The exact denoiser for data that is always TARGET: predicts the true epsilon (or v) from x_t."""
    abar = diffusion.train_scheduler.alphas_cumprod

    def model(xt, t):
        a = abar[t].view(-1, 1, 1, 1)
        eps = (xt - a.sqrt() * TARGET) / (1 - a).sqrt()
        if diffusion.cfg.prediction == "epsilon":
            return eps
        return a.sqrt() * eps - (1 - a).sqrt() * TARGET

    return model


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize(("sampler", "steps"), [("ddpm", 1000), ("ddim", 50), ("dpmpp", 20)])
def test_samplers_reach_the_data_with_an_exact_denoiser(prediction, sampler, steps):
    diffusion = Diffusion(DiffusionConfig(prediction=prediction))
    g = torch.Generator().manual_seed(0)
    x = diffusion.sample(oracle(diffusion), (3, 1, 2, 2), sampler, steps, generator=g)
    torch.testing.assert_close(x, TARGET.expand(3, -1, -1, -1), atol=0.03, rtol=0)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp"])
def test_sampling_is_reproducible_with_a_seed(sampler):
    diffusion = Diffusion(DiffusionConfig())
    model = nn.Conv2d(2, 2, 3, padding=1)
    wrapped = lambda x, t: model(x) * (t.view(-1, 1, 1, 1) / 1000.0)  # noqa: E731
    runs = [
        diffusion.sample(wrapped, (2, 2, 4, 4), sampler, 10, generator=torch.Generator().manual_seed(7))
        for _ in range(2)
    ]
    other = diffusion.sample(wrapped, (2, 2, 4, 4), sampler, 10, generator=torch.Generator().manual_seed(8))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], other)


def test_masked_sampling_keeps_padding_at_zero():
    diffusion = Diffusion(DiffusionConfig())
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    x = diffusion.sample(oracle(diffusion), (2, 1, 2, 2), "ddim", 10, torch.Generator().manual_seed(0), mask)
    assert torch.count_nonzero(x[..., 0, 1]) == 0


@pytest.mark.parametrize(("prediction", "ratio"), [("epsilon", 0.5), ("v_prediction", 0.75)])
def test_loss_decreases_on_a_toy_problem(prediction, ratio):
    """A small conv denoiser learns a two-mode dataset of maps: the masked loss falls well below its start.

    (v targets keep an irreducible share at high noise, where the mode cannot be told yet.)
    """
    torch.manual_seed(0)
    diffusion = Diffusion(DiffusionConfig(prediction=prediction))
    modes = torch.stack([torch.linspace(-1, 1, 64).view(1, 8, 8), torch.linspace(1, -1, 64).view(1, 8, 8)])
    mask = torch.ones(8, 8)
    mask[6:, 6:] = 0
    net = nn.Sequential(nn.Conv2d(2, 32, 3, padding=1), nn.SiLU(), nn.Conv2d(32, 1, 3, padding=1))

    def model(xt, t):
        tt = (t.float() / 1000).view(-1, 1, 1, 1).expand_as(xt)
        return net(torch.cat([xt, tt], dim=1))

    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(300):
        x0 = modes[torch.randint(0, 2, (16,), generator=g)] * mask
        loss = diffusion.loss(model, x0, mask, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-30:]) < ratio * sum(losses[:30])


def test_unknown_sampler_and_prediction_are_refused():
    with pytest.raises(ValueError, match="unknown sampler"):
        Diffusion(DiffusionConfig()).sample(lambda x, t: x, (1, 1, 2, 2), "euler", 5)
    with pytest.raises(ValueError, match="prediction"):
        DiffusionConfig(prediction="x0")


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp"])
def test_inpainting_keeps_the_known_part_exactly_and_generates_the_rest(sampler):
    from dynamiccity.diffusion.process import Diffusion, DiffusionConfig, Known

    x0 = torch.randn(2, 3, 4, 4)
    keep = torch.zeros(4, 4)
    keep[:, :2] = 1
    diffusion = Diffusion(DiffusionConfig(prediction="v_prediction"))
    steps = 10 if sampler == "ddpm" else 4
    out = diffusion.sample(lambda x, t: torch.zeros_like(x), x0.shape, sampler, steps,
                           generator=torch.Generator().manual_seed(0), known=Known(x0, keep))  # fmt: skip
    assert torch.equal(out[..., :2], x0[..., :2])
    assert not torch.allclose(out[..., 2:], x0[..., 2:])
    with pytest.raises(ValueError, match=r"an inpainting mask of shape \(3, 3\) does not fit"):
        Known(x0, torch.ones(3, 3))


MODES = torch.tensor([[1.0, 1.0], [-1.0, -1.0]]).view(2, 1, 1, 2)  # data: two equal entries, +1 or -1


def mixture_oracle(diffusion: Diffusion):
    """The exact v-denoiser for data that is one of MODES with equal chance."""
    abar = diffusion.train_scheduler.alphas_cumprod

    def model(xt, t):
        a = abar[t].view(-1, 1, 1, 1)
        dist = (xt[:, None] - a.sqrt()[:, None] * MODES[None]).square().sum((2, 3, 4))
        weight = torch.softmax(-dist / (2 * (1 - a.view(-1, 1))), dim=1)
        x0 = (weight.view(-1, 2, 1, 1, 1) * MODES[None]).sum(1)
        eps = (xt - a.sqrt() * x0) / (1 - a).sqrt()
        return a.sqrt() * eps - (1 - a).sqrt() * x0

    return model


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp"])
def test_resampling_makes_the_generated_part_agree_with_the_kept_part(sampler):
    """Keep the first entry at +1: the data says the second is +1 too. In few steps plain replacement lets
    the second land on -1 now and then; resampling (RePaint) harmonises it, and the kept part stays exact."""
    from dynamiccity.diffusion.process import Known

    diffusion = Diffusion(DiffusionConfig(prediction="v_prediction"))
    x0 = torch.zeros(256, 1, 1, 2)
    x0[..., 0] = 1.0
    known = Known(x0, torch.tensor([[1.0, 0.0]]))
    agree = {}
    for rounds in (1, 4):
        out = diffusion.sample(mixture_oracle(diffusion), x0.shape, sampler, 5,
                               generator=torch.Generator().manual_seed(0), known=known, resample=rounds)  # fmt: skip
        assert torch.equal(out[..., 0], x0[..., 0])
        agree[rounds] = (out[..., 1] > 0).float().mean().item()
    assert agree[4] >= 0.93 and agree[4] >= agree[1]
    if sampler != "ddpm":  # ddpm's fresh noise at every step harmonises a little already
        assert agree[4] > agree[1] + 0.1
    with pytest.raises(ValueError, match="resample must be >= 1"):
        diffusion.sample(mixture_oracle(diffusion), x0.shape, sampler, 5, known=known, resample=0)
