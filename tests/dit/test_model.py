import pytest
import torch

from dynamiccity.dit import DIT_PRESETS, HexPlaneDiT, dit_preset
from dynamiccity.dit.blocks import sincos_2d
from dynamiccity.dit.conditions import CONDITIONS, Conditions
from dynamiccity.hexplane import PLANES, HexPlane, plane_shapes

MICRO = dit_preset("synthtown-micro")
COND = {"frames": 4, "layout_grid": (16, 16)}  # the condition shapes of 4-frame windows of 32x32 voxels


def randomise(model: HexPlaneDiT) -> HexPlaneDiT:
    """Give the zero-initialised adaLN and output layers random weights, so every path carries signal."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def every_condition(model: HexPlaneDiT, batch: int, seed: int = 0) -> Conditions:
    """Random values of every condition a network takes."""
    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    return Conditions(
        command=torch.randint(0, 4, (batch,), generator=g),
        trajectory=torch.randn(batch, cfg.frames, 3, generator=g) * 5,
        layout=torch.rand(batch, cfg.frames, *cfg.layout_grid, generator=g) > 0.8,
        previous=random_map(model, batch, seed + 1),
        frame=random_map(model, batch, seed + 2),
    )


def random_map(model: HexPlaneDiT, batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shapes = plane_shapes(model.cfg.latent_sizes)
    c = model.cfg.latent_channels
    hp = HexPlane.from_planes({n: torch.randn(batch, c, *shapes[n], generator=g) for n in PLANES})
    return model.rollout.roll(hp)


@pytest.mark.parametrize("rollout", ["padded", "vertical", "unfold"])
@pytest.mark.parametrize("batch", [1, 3])
def test_forward_shapes_any_batch(rollout, batch):
    model = HexPlaneDiT(MICRO.with_overrides(rollout=rollout))
    x = random_map(model, batch)
    out = model(x, torch.randint(0, 1000, (batch,)))
    assert out.shape == x.shape


def test_carlasc_token_counts_and_size():
    model = HexPlaneDiT(DIT_PRESETS["carlasc"])
    assert (model.num_tokens, model.num_real_tokens) == (1444, 1416)
    params = sum(p.numel() for p in model.parameters())
    assert 40e6 < params < 46e6  # DiT-S width 384 at depth 16: 43M


def test_padding_never_influences_real_tokens():
    torch.manual_seed(0)
    model = randomise(HexPlaneDiT(MICRO)).eval()
    x = random_map(model, 2)
    t = torch.tensor([10, 500])
    noisy_padding = x + torch.randn_like(x) * (1 - model.pixel_mask)
    assert not torch.equal(noisy_padding, x)
    with torch.no_grad():
        assert torch.equal(model(x, t), model(noisy_padding, t))
    assert torch.count_nonzero(model(x, t)[:, :, model.pixel_mask == 0]) == 0


def test_batch_elements_are_independent():
    torch.manual_seed(0)
    model = randomise(HexPlaneDiT(MICRO)).eval()
    x = random_map(model, 3)
    t = torch.tensor([1, 2, 3])
    with torch.no_grad():
        both = model(x, t)
        alone = model(x[1:2], t[1:2])
    torch.testing.assert_close(both[1:2], alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("conditions", [(), CONDITIONS])
def test_zero_init_output_and_gradients_reach_every_parameter(conditions):
    torch.manual_seed(0)
    model = HexPlaneDiT(MICRO.with_overrides(conditions=conditions, **COND))
    x = random_map(model, 2)
    t = torch.tensor([3, 700])
    cond = every_condition(model, 2) if conditions else None
    assert torch.count_nonzero(model(x, t, cond)) == 0  # adaLN-Zero: the untrained model predicts zeros
    randomise(model)
    (model(x, t, cond).square().mean() + model(x, t).square().mean()).backward()  # given and null
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_sincos_2d_is_distinct_per_position():
    emb = sincos_2d(32, 5, 7)
    assert emb.shape == (35, 32)
    assert torch.cdist(emb, emb).add(torch.eye(35)).min() > 1e-3


def test_unknown_rollout_is_refused():
    with pytest.raises(ValueError, match="rollout"):
        MICRO.with_overrides(rollout="spiral")


def test_the_output_convolution_starts_as_the_plain_dit_and_keeps_planes_apart():
    torch.manual_seed(0)
    plain = randomise(HexPlaneDiT(MICRO)).eval()
    model = HexPlaneDiT(MICRO.with_overrides(output_conv=True)).eval()
    missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(name.startswith("output_conv.") for name in missing)
    x, t = random_map(model, 2), torch.tensor([10, 500])
    with torch.no_grad():
        assert torch.equal(model(x, t), plain(x, t))  # zero-initialised: the plain DiT's output
    randomise(model)
    with torch.no_grad():
        out = model(x, t)
        assert not torch.equal(out, plain(x, t))
        assert torch.count_nonzero(out[:, :, model.pixel_mask == 0]) == 0
        # each plane by its own convolution: a change to one plane's cells reaches no other plane
        planes = model.unroll(plain(x, t)).as_dict()
        before = model.output_conv(planes)
        after = model.output_conv(planes | {"xy": planes["xy"] + 1.0})
    assert not torch.equal(after["xy"], before["xy"])
    assert all(torch.equal(after[n], before[n]) for n in PLANES if n != "xy")
    model.train()
    model(x, t).square().mean().backward()
    assert all(p.grad is not None and p.grad.any() for p in model.output_conv.parameters())
