"""Checkpoints: a restored optimizer takes exactly the steps the original would; a record is verified and a
save killed part-way never mixes two saves."""

from __future__ import annotations

import json

import pytest
import torch

from dynamiccity.train.checkpoint import open_checkpoint, restore_optimizer, save_checkpoint
from dynamiccity.train.loop import adamw


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    # channels-last convolution weights, as the VAE keeps them: their optimizer state must keep that layout
    return torch.nn.Sequential(torch.nn.Conv3d(3, 4, 3), torch.nn.Conv3d(4, 2, 1)).to(
        memory_format=torch.channels_last_3d
    )


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, i: int) -> None:
    x = torch.randn(2, 3, 5, 5, 5, generator=torch.Generator().manual_seed(i))
    model(x).square().mean().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def test_restored_adamw_continues_exactly(tmp_path):
    straight = _model()
    opt = adamw(straight.parameters(), lr=1e-2)
    for i in range(4):
        _step(straight, opt, i)

    split = _model()
    opt = adamw(split.parameters(), lr=1e-2)
    for i in range(2):
        _step(split, opt, i)
    save_checkpoint(tmp_path, "last", split.state_dict(), {"step": 2}, opt)
    ckpt = open_checkpoint(tmp_path, "last")
    resumed = _model()
    resumed.load_state_dict(ckpt.tensors())
    opt = adamw(resumed.parameters(), lr=1e-2)
    restore_optimizer(opt, ckpt.tensors("optim"), json.loads(json.dumps(ckpt.meta["optimizer"])))
    for param in resumed.parameters():
        for value in opt.state[param].values():
            if value.shape == param.shape:
                assert value.stride() == param.stride()
    for i in range(2, 4):
        _step(resumed, opt, i)

    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_checkpoint_moves_between_fused_and_unfused(tmp_path):
    model = _model()
    fused = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True)
    _step(model, fused, 0)
    save_checkpoint(tmp_path, "last", model.state_dict(), {"step": 1}, fused)
    ckpt = open_checkpoint(tmp_path, "last")
    plain = torch.optim.AdamW(model.parameters(), lr=1e-2)
    restore_optimizer(plain, ckpt.tensors("optim"), ckpt.meta["optimizer"])
    assert not plain.param_groups[0]["fused"] and plain.param_groups[0]["lr"] == 1e-2
    _step(model, plain, 1)
    assert all(int(plain.state[p]["step"]) == 2 for p in model.parameters())


def _save(folder, model, step, opt):
    return save_checkpoint(
        folder, "last", model.state_dict(), {"step": step}, opt, {"ema": model.state_dict()}
    )


def test_a_damaged_file_is_refused_by_name(tmp_path):
    model = _model()
    _save(tmp_path, model, 1, adamw(model.parameters(), lr=1e-2))
    ckpt = open_checkpoint(tmp_path, "last")
    path = ckpt.path("optim")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert ckpt.tensors().keys() == model.state_dict().keys()  # the other files still load
    with pytest.raises(ValueError, match=f"{path.name}: damaged or replaced"):
        ckpt.tensors("optim")
    path.unlink()
    with pytest.raises(FileNotFoundError, match=f"{path.name}: missing, though last.json lists it"):
        ckpt.tensors("optim")


def test_a_save_killed_part_way_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    import dynamiccity.train.checkpoint as checkpoint

    model = _model()
    opt = adamw(model.parameters(), lr=1e-2)
    _step(model, opt, 0)
    _save(tmp_path, model, 1, opt)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _step(model, opt, 1)
    real = checkpoint._save_tensors

    def dies_after_the_weights(tensors, folder, name, key):
        if key != "model":
            raise KeyboardInterrupt  # killed after the new weights reached the disk
        return real(tensors, folder, name, key)

    monkeypatch.setattr(checkpoint, "_save_tensors", dies_after_the_weights)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, model, 2, opt)
    monkeypatch.undo()
    ckpt = open_checkpoint(tmp_path, "last")
    assert ckpt.meta["step"] == 1
    assert all(torch.equal(before[k], v) for k, v in ckpt.tensors().items())
    assert ckpt.tensors("optim") and ckpt.tensors("ema")
    _save(tmp_path, model, 3, opt)  # the next save removes what the killed one left
    kept = {entry["file"] for entry in open_checkpoint(tmp_path, "last").meta["files"].values()}
    assert {p.name for p in tmp_path.glob("last.*safetensors")} == kept


def test_records_from_before_hashed_names_load(tmp_path):
    from safetensors.torch import save_file

    from dynamiccity.train.checkpoint import file_sha256

    model = _model()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "best.safetensors"))
    record = {"step": 4, "files": {"model": file_sha256(tmp_path / "best.safetensors")}}
    (tmp_path / "best.json").write_text(json.dumps(record))
    ckpt = open_checkpoint(tmp_path, "best")
    assert ckpt.path() == tmp_path / "best.safetensors" and ckpt.tensors().keys() == model.state_dict().keys()
