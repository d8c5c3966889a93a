"""Feed-forward child networks. Each takes ``act=`` (anything :func:`resolve_act` accepts) and builds one fresh
activation module per place it is used, so trainable activation parameters are per layer."""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._act import ActSpec, resolve_act, unary_act

__all__ = ["MLP", "CNN1D", "CNN2D", "ResNet20"]


class MLP(nn.Module):
    r"""Multi-layer perceptron: ``Linear → act`` per hidden layer, then a linear classifier.

    Args:
        in_shape: shape of one sample; it is flattened. Default ``(40,)``.
        n_classes: number of outputs. Default 10.
        hidden: widths of the hidden layers. Default ``(100, 100)`` (the MNIST-1D paper's MLP).
        act: the activation. Default ``"relu"``.

    Shape:
        - Input: :math:`(N, *in\_shape)`. Output: :math:`(N, n\_classes)`.

    Example::

        >>> MLP((64,), 10, act="isrlu")(torch.randn(2, 64)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_shape: Sequence[int] = (40,), n_classes: int = 10, hidden: Sequence[int] = (100, 100),
                 act: ActSpec = "relu") -> None:
        super().__init__()
        make = resolve_act(act)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for h in hidden:
            act_m = make()
            # a gated activation (GLU family) halves the last dimension: its Linear produces 2h
            layers += [nn.Linear(width, 2 * h if getattr(act_m, "gated", False) else h), act_m]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)
        self.hidden = tuple(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def extra_repr(self) -> str:
        return f"hidden={self.hidden}"


class CNN1D(nn.Module):
    r"""The MNIST-1D convolutional baseline (Greydanus 2020): three stride-2 Conv1d layers and a linear classifier.

    ``Conv1d(1, c, 5, s2, p1) → act → Conv1d(c, c, 3, s2, p1) → act → Conv1d(c, c, 3, s2, p1) → act → Linear``.

    Args:
        in_shape: ``(length,)`` or ``(channels, length)``. Default ``(40,)``.
        n_classes: number of outputs. Default 10.
        channels: width of every convolution. Default 25 (the paper's).
        act: the activation. Default ``"relu"``.

    Shape:
        - Input: :math:`(N, L)` or :math:`(N, C, L)`. Output: :math:`(N, n\_classes)`.

    Example::

        >>> CNN1D(act="swish")(torch.randn(2, 40)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_shape: Sequence[int] = (40,), n_classes: int = 10, channels: int = 25,
                 act: ActSpec = "relu") -> None:
        super().__init__()
        make = unary_act(act, "CNN1D")
        c_in, length = (1, in_shape[0]) if len(in_shape) == 1 else (in_shape[0], in_shape[1])
        self.c_in, self.channels = c_in, channels
        self.features = nn.Sequential(
            nn.Conv1d(c_in, channels, 5, stride=2, padding=1), make(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), make(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), make(),
        )
        for k in (5, 3, 3):
            length = (length + 2 - k) // 2 + 1
        self.classifier = nn.Linear(channels * length, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.reshape(x.shape[0], self.c_in, -1))
        return self.classifier(h.flatten(1))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class CNN2D(nn.Module):
    r"""A small image CNN: two ``Conv3x3 → act → MaxPool2`` stages and a hidden linear layer.

    Args:
        in_shape: ``(channels, height, width)``. Default ``(1, 28, 28)`` (Fashion-MNIST).
        n_classes: number of outputs. Default 10.
        channels: widths of the two convolution stages. Default ``(16, 32)``.
        hidden: width of the hidden linear layer. Default 128.
        act: the activation. Default ``"relu"``.

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: :math:`(N, n\_classes)`.

    Example::

        >>> CNN2D(act="elu")(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_shape: Sequence[int] = (1, 28, 28), n_classes: int = 10,
                 channels: Sequence[int] = (16, 32), hidden: int = 128, act: ActSpec = "relu") -> None:
        super().__init__()
        make = unary_act(act, "CNN2D")
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for width in channels:
            layers += [nn.Conv2d(c, width, 3, padding=1), make(), nn.MaxPool2d(2)]
            c, h, w = width, h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), make(),
                                        nn.Linear(hidden, n_classes))
        self.channels, self.hidden = tuple(channels), hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, hidden={self.hidden}"


class _BasicBlock(nn.Module):
    """3x3 conv → BN → act → 3x3 conv → BN, plus the shortcut, → act (He et al. 2016, CIFAR variant)."""

    def __init__(self, c_in: int, c_out: int, stride: int, make) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = make()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = make()
        self.stride, self.pad = stride, c_out - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        # Option A: parameter-free shortcut, subsample spatially and zero-pad the new channels.
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class ResNet20(nn.Module):
    r"""ResNet-20 for 32x32 images (He et al. 2016, §4.2): 3 stages of 3 basic blocks with 16/32/64 channels,
    option-A (zero-padding) shortcuts, global average pooling and a linear classifier. ~0.27M parameters.

    The child network of Ramachandran et al. 2017; every ReLU of the original is replaced by ``act``.

    Args:
        in_shape: ``(channels, height, width)``. Default ``(3, 32, 32)``.
        n_classes: number of outputs. Default 10.
        blocks: basic blocks per stage (``n`` in the paper; depth = 6n + 2). Default 3.
        act: the activation. Default ``"relu"``.

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: :math:`(N, n\_classes)`.

    Example::

        >>> ResNet20(act="swish")(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_shape: Sequence[int] = (3, 32, 32), n_classes: int = 10, blocks: int = 3,
                 act: ActSpec = "relu") -> None:
        super().__init__()
        make = unary_act(act, "ResNet20")
        self.stem = nn.Sequential(nn.Conv2d(in_shape[0], 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), make())
        stages: list[nn.Module] = []
        c = 16
        for i, width in enumerate((16, 32, 64)):
            for j in range(blocks):
                stages.append(_BasicBlock(c, width, 2 if (i > 0 and j == 0) else 1, make))
                c = width
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c, n_classes)
        self.blocks = blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stages(self.stem(x))
        return self.fc(h.mean(dim=(2, 3)))

    def extra_repr(self) -> str:
        return f"depth={6 * self.blocks + 2}"
