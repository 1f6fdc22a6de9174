"""The one [-1, 1] <-> uint8 pair: ranges, rounding, saturation, tensors and arrays alike."""

from __future__ import annotations

import numpy as np
import torch

from animegan.utils.images import from_uint8_image, to_uint8_image


def test_every_uint8_value_round_trips_for_tensors_and_arrays() -> None:
    values = np.arange(256, dtype=np.uint8)
    as_float = from_uint8_image(values)
    assert as_float.dtype == np.float32 and as_float[0] == -1.0 and as_float[255] == 1.0
    assert np.array_equal(to_uint8_image(as_float), values)
    tensor = from_uint8_image(torch.from_numpy(values))
    assert tensor.dtype == torch.float32
    assert np.array_equal(tensor.numpy().view(np.uint32), as_float.view(np.uint32))  # bit-equal
    assert torch.equal(to_uint8_image(tensor), torch.from_numpy(values))


def test_rounding_to_nearest_and_out_of_range_saturates() -> None:
    # Nearest integer; x = 0 gives exactly 127.5 (the only exact half: (x + 1) = (2n + 1) / 255
    # is a binary fraction only for n = 127), which becomes 128.
    just_below = np.nextafter(np.float32(0.5 / 127.5 - 1), np.float32(-2))  # 0.49999... -> 0
    wide = np.array([-7.0, -1.0001, 1.0001, 3.0, 0.0, 1 / 127.5 - 1, just_below])
    expected = [0, 0, 255, 255, 128, 1, 0]
    assert to_uint8_image(wide).tolist() == expected
    assert to_uint8_image(torch.from_numpy(wide)).tolist() == expected


def test_tensors_and_arrays_agree_and_keep_their_shape() -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 17, 9, generator=generator) * 3 - 1.5  # [B, C, H, W]
    from_tensor = to_uint8_image(image.requires_grad_(True))
    from_array = to_uint8_image(image.detach().numpy()[:, :, ::-1])  # a negative-stride view
    assert from_tensor.shape == (2, 3, 17, 9) and from_tensor.dtype == torch.uint8
    assert np.array_equal(from_tensor.numpy()[:, :, ::-1], from_array)
