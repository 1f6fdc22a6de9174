"""AnimeGANv2 patch discriminator (official TensorFlow ``D_net`` with ``ch=64, n_dis=3``).

conv 3→32 · lrelu · [conv s2 → 64 · lrelu · conv → 128 · LN · lrelu] ·
[conv s2 → 128 · lrelu · conv → 256 · LN · lrelu] · conv → 256 · LN · lrelu · conv → 1.
All convs 3x3, no bias, zero padding, spectrally normalised (1 power iteration per training
forward), weights drawn from N(0, 0.02). LN is layer norm over (C, H, W) with a per-channel
affine, i.e. ``GroupNorm(1, C)``.

Spectral norm uses ``torch.nn.utils.parametrizations.spectral_norm`` (the maintained
implementation; the hook-based ``torch.nn.utils.spectral_norm`` is deprecated). It is a plain
module in the graph, so torch.compile and the ONNX exporter trace it without hooks; in eval
mode it skips the power iteration and uses the stored singular vectors. Its state_dict keys
are ``*.parametrizations.weight.original`` and ``*.parametrizations.weight.0._u/_v``.

Output size: the two stride-2 convs use symmetric padding 1, so each maps n to ceil(n/2) and
the logits are [B, 1, ceil(H/4), ceil(W/4)]. The official TF conv pads stride-2 convs 1 before
and 0 after; both give identical numbers for even sizes (only the official output size
floor(n/2) differs for odd n). Official layer norm (tf.contrib) uses eps 1e-12; here 1e-5
(PyTorch's default), which only matters for near-constant feature maps.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LEAKY_SLOPE = 0.2
INIT_STD = 0.02


class Discriminator(nn.Module):
    """Patch discriminator returning raw logits (no sigmoid), one per 4x4-pixel patch.

    Args:
        in_channels: input image channels (3 for RGB and 3-channel grayscale).
        channels: width of the first conv; the layers use 1, 2, 4, 4, 8, 8 times this.
        use_spectral_norm: wrap every conv in spectral normalisation (official: True).
    """

    def __init__(
        self, in_channels: int = 3, channels: int = 32, use_spectral_norm: bool = True
    ) -> None:
        super().__init__()
        self.use_spectral_norm = use_spectral_norm
        c = channels
        self.layers = nn.Sequential(
            self._conv(in_channels, c, stride=1),
            nn.LeakyReLU(LEAKY_SLOPE),
            self._conv(c, 2 * c, stride=2),
            nn.LeakyReLU(LEAKY_SLOPE),
            self._conv(2 * c, 4 * c, stride=1),
            nn.GroupNorm(num_groups=1, num_channels=4 * c, affine=True),
            nn.LeakyReLU(LEAKY_SLOPE),
            self._conv(4 * c, 4 * c, stride=2),
            nn.LeakyReLU(LEAKY_SLOPE),
            self._conv(4 * c, 8 * c, stride=1),
            nn.GroupNorm(num_groups=1, num_channels=8 * c, affine=True),
            nn.LeakyReLU(LEAKY_SLOPE),
            self._conv(8 * c, 8 * c, stride=1),
            nn.GroupNorm(num_groups=1, num_channels=8 * c, affine=True),
            nn.LeakyReLU(LEAKY_SLOPE),
            self._conv(8 * c, 1, stride=1),
        )

    def _conv(self, in_channels: int, out_channels: int, stride: int) -> nn.Module:
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        # Initialise before wrapping: spectral_norm seeds its singular vectors from this weight.
        nn.init.normal_(conv.weight, mean=0.0, std=INIT_STD)
        if self.use_spectral_norm:
            return spectral_norm(conv, n_power_iterations=1)
        return conv

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Score every patch of a batch of images.

        Args:
            image: [B, in_channels, H, W], RGB (or gray copied to 3 channels) in [-1, 1].

        Returns:
            Logits [B, 1, ceil(H/4), ceil(W/4)]; higher means "looks like real anime".
        """
        return self.layers(image)
