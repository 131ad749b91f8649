"""Steering by an objective on the clean estimate: every sampler and prediction type follows it, and a scale
of 0 changes nothing."""

import pytest
import torch

from dynamiccity.diffusion.process import Diffusion, DiffusionConfig
from dynamiccity.diffusion.steering import Steer, steered
from tests.diffusion.test_process import TARGET, oracle


def pull_first_to(value: float) -> Steer:
    """Lowers the squared distance of each sample's first element to `value`, nothing else."""
    return Steer(lambda x0: (x0[:, 0, 0, 0] - value).square(), scale=0.1, iterations=3)


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize(("sampler", "steps"), [("ddpm", 200), ("ddim", 20), ("dpmpp", 20)])
def test_a_steered_sampler_moves_what_the_objective_asks_and_only_that(prediction, sampler, steps):
    diffusion = Diffusion(DiffusionConfig(prediction=prediction))
    model = steered(oracle(diffusion), pull_first_to(3.0), diffusion)
    x = diffusion.sample(model, (2, 1, 2, 2), sampler, steps, generator=torch.Generator().manual_seed(0))
    first = x[:, 0, 0, 0]
    # the oracle insists on TARGET (0.5 there); the last step's estimate is pulled 3 x 0.1 x 2 = 0.6 towards 3
    assert torch.all(first > TARGET[0, 0, 0, 0] + 0.4) and torch.all(first < 3.0), first
    rest = torch.ones(2, 2, dtype=torch.bool)
    rest[0, 0] = False
    torch.testing.assert_close(x[:, 0][:, rest], TARGET[0, 0][rest].expand(2, -1), atol=0.05, rtol=0)


def test_a_steer_of_scale_zero_is_the_denoiser_itself():
    diffusion = Diffusion(DiffusionConfig())
    denoiser = oracle(diffusion)
    assert steered(denoiser, Steer(lambda x0: x0.sum((1, 2, 3)), scale=0.0), diffusion) is denoiser


def test_moved_lowers_the_objective_with_steps_of_the_given_size():
    steer = pull_first_to(3.0)
    x0 = torch.zeros(1, 1, 2, 2)
    moved = steer.moved(x0)
    assert moved[0, 0, 0, 0].item() == pytest.approx(0.6)  # unit-RMS gradient: 2 on one of 4 elements
    assert torch.count_nonzero(moved) == 1 and not x0.any()
    with pytest.raises(ValueError, match="scale must be >= 0"):
        Steer(lambda x: x.sum(), scale=-1.0)


def test_a_steer_with_a_region_moves_only_inside_it():
    region = torch.zeros(1, 1, 2, 2)
    region[..., 1, 1] = 1
    steer = Steer(lambda x0: (x0 - 3.0).square().sum((1, 2, 3)), scale=0.1, iterations=2, region=region)
    moved = steer.moved(torch.zeros(1, 1, 2, 2))
    assert moved[0, 0, 1, 1].item() == pytest.approx(0.4)  # unit RMS over the masked gradient: 2 per step
    assert torch.count_nonzero(moved) == 1
