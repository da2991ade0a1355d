"""EfficientNet-Lite as a fully convolutional multi-scale trunk.

The architecture is read off the checkpoint (kernel sizes, widths, block
count), so Lite0..Lite4 share one definition; only the stage strides are
fixed by the EfficientNet design. Lite drops squeeze-excitation and uses
ReLU6, which keeps every layer local: the trunk can run on tiles of any size.
"""
from collections import OrderedDict

import torch
from torch import nn

STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
BN_EPS = 1e-3


def _bn(ch):
    return nn.BatchNorm2d(ch, eps=BN_EPS)


class MBConv(nn.Module):
    def __init__(self, c_in, c_mid, c_out, kernel, stride):
        super().__init__()
        self.expand = c_mid != c_in
        if self.expand:
            self._expand_conv = nn.Conv2d(c_in, c_mid, 1, bias=False)
            self._bn0 = _bn(c_mid)
        self._depthwise_conv = nn.Conv2d(c_mid, c_mid, kernel, stride, kernel // 2, groups=c_mid, bias=False)
        self._bn1 = _bn(c_mid)
        self._project_conv = nn.Conv2d(c_mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out
        self.stride = stride

    def forward(self, x):
        y = x
        if self.expand:
            y = torch.clamp(self._bn0(self._expand_conv(y)), 0, 6)
        y = torch.clamp(self._bn1(self._depthwise_conv(y)), 0, 6)
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


def block_specs(state_dict):
    """[(c_in, c_mid, c_out, kernel, stride), ...] read from checkpoint shapes."""
    n = 1 + max(int(k.split(".")[1]) for k in state_dict if k.startswith("_blocks."))
    specs, stage, last_out = [], -1, None
    for i in range(n):
        p = f"_blocks.{i}."
        dw = state_dict[p + "_depthwise_conv.weight"]
        proj = state_dict[p + "_project_conv.weight"]
        c_mid, kernel, c_out = dw.shape[0], dw.shape[-1], proj.shape[0]
        c_in = state_dict[p + "_expand_conv.weight"].shape[1] if p + "_expand_conv.weight" in state_dict else c_mid
        first_of_stage = c_out != last_out
        if first_of_stage:
            stage += 1
        stride = STAGE_STRIDES[stage] if first_of_stage else 1
        specs.append((c_in, c_mid, c_out, kernel, stride))
        last_out = c_out
    return specs


class EfficientNetLiteTrunk(nn.Module):
    """Returns the feature maps after the blocks named in `taps` (block indices)."""

    def __init__(self, specs, stem_ch):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, stem_ch, 3, 2, 1, bias=False)
        self._bn0 = _bn(stem_ch)
        self._blocks = nn.ModuleList(MBConv(*s) for s in specs)
        strides, s = [], 2
        for spec in specs:
            s *= spec[4]
            strides.append(s)
        self.block_strides = strides
        self.block_channels = [spec[2] for spec in specs]

    @classmethod
    def from_state_dict(cls, state_dict):
        net = cls(block_specs(state_dict), state_dict["_conv_stem.weight"].shape[0])
        keep = OrderedDict((k, v) for k, v in state_dict.items()
                           if k.startswith(("_conv_stem", "_bn0", "_blocks")))
        missing, unexpected = net.load_state_dict(keep, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"checkpoint does not fit EfficientNet-Lite: missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}")
        return net.eval()

    def forward(self, x, taps):
        out = {}
        x = torch.clamp(self._bn0(self._conv_stem(x)), 0, 6)
        last = max(taps)
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in taps:
                out[i] = x
            if i == last:
                break
        return [out[t] for t in taps]


def last_block_of_stride(net, stride):
    return max(i for i, s in enumerate(net.block_strides) if s == stride)
