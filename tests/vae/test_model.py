"""HexPlane VAE: shapes of every variant and preset, gradients, determinism, exact efficiency rewrites."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dynamiccity.hexplane import HexPlane
from dynamiccity.vae.config import VAE_PRESETS, VAEConfig, vae_preset
from dynamiccity.vae.decoder import PositionalHead, expand_and_squeeze, sinusoids
from dynamiccity.vae.encoder import FrameIndexConv, InstanceNorm, PointwiseConv3d
from dynamiccity.vae.model import HexPlaneVAE
from dynamiccity.vae.projection import ProjectionBlock

TINY = VAEConfig(
    num_classes=5, frames=4, grid=(16, 16, 4), embed_dim=8, channels=8, latent_channels=4, proj_mlp=16,
    dec_channels=8, out_channels=8, query_hidden=8, pe_freqs=2,
)  # fmt: skip
VARIANTS = [
    {"encoder": e, "decoder": d, "fusion": f}
    for e in ("projection", "avgpool")
    for d in ("ess", "query")
    for f in ("product", "sum")
]


def labels_for(cfg: VAEConfig, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg.num_classes, (batch, cfg.frames, *cfg.grid), generator=g)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v.values()))
def test_shapes_and_gradients_reach_every_parameter(variant):
    cfg = TINY.with_overrides(**variant)
    torch.manual_seed(0)
    model = HexPlaneVAE(cfg)
    out = model(labels_for(cfg))
    assert out.logits.shape == (2, 4, 16, 16, 4, 5)
    shapes = {name: tuple(p.shape) for name, p in out.latent.as_dict().items()}
    assert shapes == {
        "xy": (2, 4, 8, 8), "xz": (2, 4, 8, 2), "yz": (2, 4, 8, 2),
        "tx": (2, 4, 2, 8), "ty": (2, 4, 2, 8), "tz": (2, 4, 2, 2),
    }  # fmt: skip
    (out.logits.square().mean() + out.posterior.kl()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # the zero-initialised last conv of a plane block passes no gradient to the conv before it on step one
    assert all(".conv1." in n or ".norm." in n for n in missing), missing


@pytest.mark.parametrize("decoder", ["ess", "query"])
def test_wider_fusion_keeps_the_latent_and_trains_every_parameter(decoder):
    cfg = TINY.with_overrides(decoder=decoder, fused_channels=12)
    torch.manual_seed(0)
    model = HexPlaneVAE(cfg)
    out = model(labels_for(cfg))
    assert out.logits.shape == (2, 4, 16, 16, 4, 5)
    assert out.latent.sizes == (4, 2, 8, 8, 2)  # latent_channels, not the fused width
    assert model.latent_decoder(out.latent).xy.shape == (2, 12, 8, 8)
    (out.logits.square().mean() + out.posterior.kl()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert all(".conv1." in n or ".norm." in n for n in missing), missing


@pytest.mark.parametrize("name", list(VAE_PRESETS))
@pytest.mark.parametrize("decoder", ["ess", "query"])
def test_presets_at_full_size_on_meta(name, decoder):
    cfg = vae_preset(name).with_overrides(decoder=decoder)
    with torch.device("meta"):
        model = HexPlaneVAE(cfg)
        out = model(torch.zeros(1, cfg.frames, *cfg.grid, dtype=torch.long))
    t, x, y, z = cfg.latent_grid
    assert out.logits.shape == (1, cfg.frames, *cfg.grid, cfg.num_classes)
    assert out.latent.sizes == (cfg.latent_channels, t, x, y, z)


def test_carlasc_hexplane_size():
    cfg = vae_preset("carlasc")
    assert cfg.latent_grid == (8, 64, 64, 4)
    c = cfg.latent_channels
    assert c * (64 * 64 + 64 * 4 + 64 * 4 + 8 * 64 + 8 * 64 + 8 * 4) == 90_624


@pytest.mark.parametrize("batch", [1, 3])
def test_encode_is_deterministic_and_any_batch_size(batch):
    torch.manual_seed(0)
    model = HexPlaneVAE(TINY).train()
    labels = labels_for(TINY, batch)
    a, b = model.encode(labels), model.encode(labels)
    for p, q in zip(a.planes(), b.planes(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert model.training  # encode restores the mode
    assert model.decode(a).shape == (batch, 4, 16, 16, 4, 5)
    single = model.encode(labels[:1])
    torch.testing.assert_close(single.xy, a.xy[:1], rtol=1e-4, atol=1e-5)


def test_wrong_input_shape_is_refused():
    with pytest.raises(ValueError, match=r"labels must be \(B, 4"):
        HexPlaneVAE(TINY).posterior(torch.zeros(1, 3, 16, 16, 4, dtype=torch.long))


def test_bad_config_values():
    with pytest.raises(ValueError, match="encoder must be one of"):
        TINY.with_overrides(encoder="mlp")
    with pytest.raises(ValueError, match="does not divide Z=4"):
        TINY.with_overrides(downsample=(2, 2, 2, 3))
    with pytest.raises(ValueError, match="fused_channels must be positive"):
        TINY.with_overrides(fused_channels=0)
    with pytest.raises(ValueError, match="unknown VAE config key 'depth'"):
        TINY.with_overrides(depth=3)
    with pytest.raises(ValueError, match="unknown VAE preset"):
        vae_preset("kitti")
    assert VAEConfig.from_dict(TINY.to_dict()) == TINY


def test_frame_index_conv_equals_concatenated_one_hot_conv():
    torch.manual_seed(0)
    layer = FrameIndexConv(3, 5, frames=4)
    x = torch.randn(2 * 4, 3, 6, 5, 4)
    one_hot = torch.eye(4).repeat(2, 1)[:, :, None, None, None].expand(-1, -1, 6, 5, 4)
    weight = torch.cat([layer.conv.weight, layer.index_weight], dim=1)
    expected = F.conv3d(torch.cat([x, one_hot], dim=1), weight, layer.conv.bias, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_positional_head_equals_concatenated_encoding():
    torch.manual_seed(0)
    head = PositionalHead(3, 6, 4, sizes=(2, 5, 4, 3), freqs=2)
    x = torch.randn(2 * 2, 3, 5, 4, 3)
    pe = [sinusoids(n, 2) for n in (2, 5, 4, 3)]
    grids = torch.meshgrid(*(torch.arange(n) for n in (2, 5, 4, 3)), indexing="ij")
    full = torch.cat([p[g] for p, g in zip(pe, grids, strict=True)], dim=-1)  # (T, X, Y, Z, 16)
    full = full.permute(0, 4, 1, 2, 3).repeat(2, 1, 1, 1, 1)
    w = torch.cat([head.features.weight] + [a.weight[:, :, None, None, None] for a in head.axes], dim=1)
    h = F.leaky_relu(F.conv3d(torch.cat([x, full], dim=1), w, head.features.bias), 0.1)
    torch.testing.assert_close(head(x), head.out(h), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fusion", ["product", "sum"])
def test_expand_and_squeeze_equals_broadcast_formula_and_is_channels_last(fusion):
    torch.manual_seed(0)
    b, c, t, x, y, z = 2, 3, 4, 5, 6, 2
    shapes = {"xy": (x, y), "xz": (x, z), "yz": (y, z), "tx": (t, x), "ty": (t, y), "tz": (t, z)}
    planes = HexPlane.from_planes({k: torch.randn(b, c, *v) for k, v in shapes.items()})
    at = {  # every plane broadcast to (B, C, T, X, Y, Z)
        "xy": planes.xy[:, :, None, :, :, None], "xz": planes.xz[:, :, None, :, None, :],
        "yz": planes.yz[:, :, None, None], "tx": planes.tx[..., None, None],
        "ty": planes.ty[:, :, :, None, :, None], "tz": planes.tz[:, :, :, None, None],
    }  # fmt: skip
    expected = torch.ones(()) if fusion == "product" else torch.zeros(())
    for plane in at.values():
        expected = expected * plane if fusion == "product" else expected + plane
    vol = expand_and_squeeze(planes, fusion)
    torch.testing.assert_close(vol, expected.transpose(1, 2))
    assert vol.reshape(b * t, c, x, y, z).is_contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last_3d])
def test_pointwise_conv_equals_a_1x1x1_convolution(layout):
    torch.manual_seed(0)
    ours = PointwiseConv3d(6, 5)
    ref = torch.nn.Conv3d(6, 5, 1)
    ref.load_state_dict(ours.state_dict())  # the same parameters, so checkpoints do not change
    x = torch.randn(2, 6, 4, 3, 2).contiguous(memory_format=layout)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), ref(xb)
    torch.testing.assert_close(ya, yb)
    assert ya.is_contiguous(memory_format=torch.channels_last_3d)
    g = torch.randn_like(yb)
    ya.backward(g), yb.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad)


def test_instance_norm_equals_torch_and_keeps_the_layout():
    x = torch.randn(3, 4, 5, 6, 2, dtype=torch.float64)
    reference = torch.nn.InstanceNorm3d(4)
    for layout in (torch.contiguous_format, torch.channels_last_3d):
        inp = x.contiguous(memory_format=layout).requires_grad_()
        out = InstanceNorm()(inp)
        assert out.is_contiguous(memory_format=layout)
        torch.testing.assert_close(out, reference(x))
        grad = torch.autograd.grad(out, inp, torch.cos(x))[0]
        x_ref = x.clone().requires_grad_()
        torch.testing.assert_close(grad, torch.autograd.grad(reference(x_ref), x_ref, torch.cos(x))[0])


def test_first_token_only_layer_equals_full_layer():
    torch.manual_seed(0)
    block = ProjectionBlock(8, heads=2, mlp=16, dropout=0.1).eval()
    x = torch.randn(3, 7, 8)
    torch.testing.assert_close(block(x, first_only=True)[:, 0], block(x)[:, 0], rtol=1e-5, atol=1e-6)


def test_hexplane_helpers():
    h = HexPlane(*(torch.randn(3, 2, 4, 4) for _ in range(6)))
    assert h[1:].batch_size == 2 and HexPlane.cat([h, h]).batch_size == 6
    assert h.numel_per_sample() == 6 * 2 * 16


def synthtown_window(frames: int = 4, grid=(16, 16, 4), seed: int = 3) -> torch.Tensor:
    """A real (structured) SynthTown window: (1, T, X, Y, Z) class ids."""
    from dynamiccity.data.scene import GridSpec
    from dynamiccity.synthtown import generate_scene

    spec = GridSpec(grid, (-25.6, -25.6, -2.0, 25.6, 25.6, 1.0), hz=10.0)
    return torch.from_numpy(generate_scene(seed=seed, frames=frames, grid=spec).labels).long()[None]


@pytest.mark.slow
def test_overfit_one_batch():
    """A small VAE memorises one SynthTown window: reconstruction mIoU goes to near perfect."""
    from dynamiccity.metrics import occupancy_iou
    from dynamiccity.vae.losses import vae_loss

    torch.manual_seed(0)
    cfg = TINY.with_overrides(num_classes=12, latent_channels=8)
    model = HexPlaneVAE(cfg)
    labels = synthtown_window()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(200):
        out = model(labels, sample=False)
        loss = vae_loss(out.logits, labels, out.posterior.kl(), kl_weight=1e-4).total
        opt.zero_grad()
        loss.backward()
        opt.step()
    pred = model.decode(model.encode(labels)).argmax(-1)
    assert occupancy_iou(pred, labels, 12)["miou"] > 0.9


def test_chunked_attention_matches_one_call(monkeypatch):
    """Attention over more sequences than one kernel call takes is split, with the same result."""
    from dynamiccity.vae import projection

    q, k, v = (torch.randn(10, 2, 5, 4) for _ in range(3))
    whole = F.scaled_dot_product_attention(q, k, v)
    monkeypatch.setattr(projection, "MAX_SEQUENCES", 3)
    torch.testing.assert_close(projection.chunked_attention(q, k, v), whole)


@pytest.mark.parametrize("decoder", ["ess", "query"])
def test_recompute_gives_the_same_gradients(decoder):
    """Activation checkpointing changes memory, not the loss or a single gradient (dropout included)."""
    cfg = vae_preset("synthtown-micro").with_overrides(decoder=decoder)
    labels = torch.randint(0, cfg.num_classes, (2, cfg.frames, *cfg.grid))
    grads = []
    for recompute in (False, True):
        torch.manual_seed(0)
        model = HexPlaneVAE(cfg.with_overrides(recompute=recompute)).train()
        torch.manual_seed(1)
        out = model(labels)
        loss = (
            F.cross_entropy(out.logits.reshape(-1, cfg.num_classes), labels.reshape(-1)) + out.posterior.kl()
        )
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], msg=name)


def test_the_release_upsampler_is_the_default_and_the_light_one_remains():
    assert all(
        cfg.plane_upsampler == "release" for name, cfg in VAE_PRESETS.items() if name != "synthtown-micro"
    )
    assert vae_preset("carlasc").fused_width == 64 and vae_preset("carlasc").latent_channels == 16
    cfg = TINY.with_overrides(plane_upsampler="transpose", fused_channels=None)
    torch.manual_seed(0)
    model = HexPlaneVAE(cfg)
    out = model(labels_for(cfg))
    assert out.logits.shape == (2, 4, 16, 16, 4, 5)
    planes = model.latent_decoder(out.latent)
    assert planes.tx.shape == (2, 8, 4, 8) and planes.xy.shape == (2, 8, 8, 8)


def test_a_run_from_before_the_upsamplers_loads_as_it_was_trained():
    """Its stored config has neither field and its transposed convs are named time_up.<plane>."""
    legacy = TINY.with_overrides(plane_upsampler="transpose", fused_channels=None)
    stored = {k: v for k, v in legacy.to_dict().items() if k not in ("plane_upsampler", "fused_channels")}
    cfg = VAEConfig.from_dict(stored)
    assert cfg == legacy
    torch.manual_seed(0)
    model = HexPlaneVAE(cfg).eval()
    state = {
        k.replace("upsample.", "time_up.").replace(".up.", ".") if k.startswith("latent_decoder.") else k: v
        for k, v in model.state_dict().items()
    }
    assert any(".time_up.tx." in k for k in state)
    again = HexPlaneVAE(cfg).eval()
    again.load_state_dict(state)
    x = labels_for(cfg)
    torch.testing.assert_close(again(x, sample=False).logits, model(x, sample=False).logits)


def test_the_pooled_readout_starts_as_average_pooling():
    from dynamiccity.vae.projection import AvgPoolEncoder, ProjectionEncoder

    cfg = TINY.with_overrides(proj_readout="pooled")
    torch.manual_seed(0)
    projection, pooling = ProjectionEncoder(cfg).eval(), AvgPoolEncoder(cfg)
    spatial, temporal = torch.randn(2, 4, 8, 8, 8, 2), torch.randn(2, 4, 8, 8, 8, 2)
    for name, plane in pooling(spatial, temporal).items():
        torch.testing.assert_close(projection(spatial, temporal)[name], plane, msg=name)
    model = HexPlaneVAE(cfg)
    out = model(labels_for(cfg))
    (out.logits.square().mean() + out.posterior.kl()).backward()
    reads = [p.grad for n, p in model.named_parameters() if n.endswith(".read.weight")]
    assert len(reads) == 7 and all(g.abs().sum() > 0 for g in reads)


def test_the_change_input_hides_the_static_world_from_the_time_planes():
    cfg = TINY.with_overrides(encoder="avgpool", temporal_input="change")
    torch.manual_seed(0)
    model = HexPlaneVAE(cfg).eval()
    still = [labels_for(cfg, batch=1, seed=s)[:, :1].expand(-1, cfg.frames, -1, -1, -1) for s in (1, 2)]
    a, b = (model.encode(x) for x in still)
    assert not torch.allclose(a.xy, b.xy)  # the spatial planes see the world
    for name in ("tx", "ty", "tz"):  # the time planes see only what changes, here nothing
        torch.testing.assert_close(getattr(a, name), getattr(b, name), msg=name)
    frames = HexPlaneVAE(cfg.with_overrides(temporal_input="frames")).eval()
    assert not torch.allclose(frames.encode(still[0]).tx, frames.encode(still[1]).tx)


@pytest.mark.parametrize("readout", ["token", "pooled"])
def test_a_projection_run_from_before_the_readouts_loads(readout):
    """Its projection networks' readout layers are stored as `norm` and `read`, not `readout.norm` and
    `readout.read`."""
    cfg = TINY.with_overrides(encoder="projection", proj_readout=readout)
    torch.manual_seed(0)
    model = HexPlaneVAE(cfg).eval()
    state = {k.replace(".readout.", "."): v for k, v in model.state_dict().items()}
    assert any(k.endswith("nets.t.norm.weight") for k in state)
    again = HexPlaneVAE(cfg).eval()
    again.load_state_dict(state)
    x = labels_for(cfg)
    torch.testing.assert_close(again(x, sample=False).logits, model(x, sample=False).logits)


def test_head_blocks_start_as_the_pointwise_head_and_learn():
    """Plane blocks in the latent head (ours) start as the identity: the same weights encode the same latent
    with or without them; their gradients are non-zero, and a config without them builds no such layers."""
    torch.manual_seed(0)
    base = HexPlaneVAE(TINY)
    blocks = HexPlaneVAE(TINY.with_overrides(head_blocks=2))
    missing, unexpected = blocks.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(name.startswith("latent_head.blocks.") for name in missing)
    assert not any(name.startswith("latent_head.blocks.") for name in base.state_dict())
    labels = labels_for(TINY)
    for name, plane in base.encode(labels).as_dict().items():
        torch.testing.assert_close(blocks.encode(labels).as_dict()[name], plane, rtol=0, atol=0)
    blocks.posterior(labels).mean.xy.square().mean().backward()
    grads = [
        p.grad
        for n, p in blocks.named_parameters()
        if n.startswith("latent_head.blocks.xy.") and "conv2.weight" in n
    ]
    assert len(grads) == 2 and grads[-1].abs().sum() > 0
    with pytest.raises(ValueError, match="head_blocks"):
        TINY.with_overrides(head_blocks=-1)


def test_iterative_encoder_starts_as_average_pooling_and_learns():
    """The iterative plane encoder (ours) gives average pooling's planes at initialisation; its updates get
    gradients; a round's expanded volume spans each plane's axes as ESS does."""
    from dynamiccity.vae.projection import AvgPoolEncoder, IterativeEncoder, _broadcast, _reduced

    torch.manual_seed(0)
    cfg = TINY.with_overrides(encoder="iterative", encoder_rounds=2)
    spatial, temporal = torch.randn(2, 4, 8, 8, 8, 2), torch.randn(2, 4, 8, 8, 8, 2)  # (B, T, C, X, Y, Z)
    encoder = IterativeEncoder(cfg)
    pooled = AvgPoolEncoder(cfg)(spatial, temporal)
    planes = encoder(spatial, temporal)
    for name, plane in pooled.items():
        torch.testing.assert_close(planes[name], plane, rtol=0, atol=0)
    sum(p.square().mean() for p in planes.values()).backward()
    assert all(conv.weight.grad.abs().sum() > 0 for conv in encoder.update[-1].values())
    assert _broadcast(torch.zeros(2, 8, 4, 8), "tx") == (2, 8, 4, 8, 1, 1)
    assert _reduced("tz") == (3, 4) and _reduced("xy") == (2, 5)
    model = HexPlaneVAE(cfg)
    assert model(labels_for(cfg)).logits.shape == (2, 4, 16, 16, 4, 5)
    with pytest.raises(ValueError, match="encoder_rounds"):
        TINY.with_overrides(encoder_rounds=0)
