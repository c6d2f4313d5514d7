"""The training augmentation (random shifts) keeps pixel values and only moves the digit."""

import torch

from noisybnn.train import random_shift


def test_shift_zero_is_identity():
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(random_shift(x, 0), x)


def test_shift_moves_each_image_within_the_range():
    torch.manual_seed(0)
    x = torch.zeros(200, 1, 28, 28)
    x[:, 0, 12, 15] = 0.75
    y = random_shift(x, 2)
    assert y.shape == x.shape
    assert torch.equal(y.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))  # nothing lost or added
    pos = (y[:, 0] == 0.75).nonzero()[:, 1:]
    offsets = pos - torch.tensor([12, 15])
    assert offsets.abs().max() == 2
    assert len({tuple(o.tolist()) for o in offsets}) == 25  # all 5 x 5 offsets drawn
    assert set(torch.unique(y).tolist()) == {0.0, 0.75}  # no interpolation


def test_shift_is_seeded():
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(3)
    a = random_shift(x, 1)
    torch.manual_seed(3)
    assert torch.equal(random_shift(x, 1), a)
