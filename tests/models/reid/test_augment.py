"""reid's batched augmentation does to each crop exactly what its drawn parameters say."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from colab_utils.models.reid import augment
from colab_utils.models.reid.files import Crop, parse_crop_name
from colab_utils.models.reid.samples import ReidCrops

H, W = 16, 8


def crops(n: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(1).integers(0, 256, (n, 3, H, W), dtype=np.uint8))


def params(flip=0, shift_y=0, shift_x=0, box=(0, 0, 0, 0)) -> torch.Tensor:
    return torch.tensor([[flip, shift_y, shift_x, *box]], dtype=torch.int16)


def as_numpy(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()  # (H, W, 3)


def test_no_parameters_leave_the_crop_as_it_is():
    image = crops(1)
    assert torch.equal(augment.apply(image, params()), image)


def test_a_flipped_crop_is_the_mirror_image():
    image = crops(1)
    flipped = augment.apply(image, params(flip=1))
    assert np.array_equal(as_numpy(flipped[0]), np.fliplr(as_numpy(image[0])))


def test_a_shift_moves_the_content_and_brings_in_black():
    image = crops(1)
    moved = as_numpy(augment.apply(image, params(shift_y=2, shift_x=-3))[0])
    original = as_numpy(image[0])
    assert np.array_equal(moved[2:, : W - 3], original[: H - 2, 3:])
    assert not moved[:2].any() and not moved[:, W - 3 :].any()


def test_flip_comes_before_the_shift():
    image = crops(1)
    got = as_numpy(augment.apply(image, params(flip=1, shift_x=2))[0])
    mirrored = np.fliplr(as_numpy(image[0]))
    assert np.array_equal(got[:, 2:], mirrored[:, : W - 2]) and not got[:, :2].any()


def test_the_erased_box_is_filled_with_the_mean_colour_and_nothing_else_changes():
    image = crops(1)
    got = as_numpy(augment.apply(image, params(box=(3, 1, 5, 4)))[0])
    expected = as_numpy(image[0]).copy()
    expected[3:8, 1:5] = augment.FILL
    assert np.array_equal(got, expected)


def test_each_crop_of_a_batch_gets_its_own_parameters():
    images = crops(4)
    drawn = torch.cat(
        [params(), params(flip=1), params(shift_y=-1, shift_x=1), params(flip=1, shift_y=3, box=(0, 0, H, 2))]
    )
    batch = augment.apply(images, drawn)
    for i in range(4):
        assert torch.equal(batch[i], augment.apply(images[i : i + 1], drawn[i : i + 1])[0])
    assert not torch.equal(batch[1], images[1])


def test_drawn_parameters_stay_in_range_and_are_a_function_of_the_generator():
    height, width = 256, 128
    pad = round(augment.PAD_FRACTION * height)
    draws = [augment.draw(np.random.default_rng(i), height, width, erase_p=0.5) for i in range(300)]
    again = [augment.draw(np.random.default_rng(i), height, width, erase_p=0.5) for i in range(300)]
    assert all(torch.equal(a, b) for a, b in zip(draws, again, strict=True))
    flip, shift_y, shift_x, top, left, box_h, box_w = torch.stack(draws).long().unbind(1)
    assert set(flip.tolist()) == {0, 1} and shift_y.abs().max() == pad and shift_x.abs().max() == pad
    erased = box_h > 0
    assert 0.35 < erased.float().mean() < 0.65 and torch.equal(erased, box_w > 0)
    assert (top + box_h <= height).all() and (left + box_w <= width).all() and (top >= 0).all()
    assert not augment.draw(np.random.default_rng(0), height, width, erase_p=0.0)[5:].any()


def test_a_training_crop_carries_its_parameters_and_a_validation_crop_none(tmp_path):
    path = tmp_path / "0-0-a-0-Player-1-u-20x10.png"
    cv2.imwrite(str(path), np.full((20, 10, 3), 200, np.uint8))
    crop = Crop(path, "train", parse_crop_name(path.name))
    image, target = ReidCrops([crop, crop], (W, H), train=True)[(0, 1)]
    assert image.shape == (3, H, W) and target["augment"].shape == (7,)
    _, target = ReidCrops([crop], (W, H), train=False)[0]
    assert "augment" not in target
