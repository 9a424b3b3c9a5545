"""The DDPM noise-prediction U-Net (Ho et al. 2020, in the DDIM code's form).

A PyTorch definition written from the architecture, for the model zoo: its
`state_dict` names are those of the published CIFAR-10 checkpoints
(`conv_in`, `temb.dense.0`, `down.1.block.0.nin_shortcut`, `mid.attn_1.q`,
`up.3.upsample.conv`, `norm_out`, ...), so such weights load unchanged.

    from ddpm_unet import DDPMUNet
    net = DDPMUNet.cifar10().eval()
    eps = net(x, t)        # x: (B, 3, 32, 32), t: (B,) timesteps in [0, 1000)

Structure: a timestep embedding (sinusoid, Linear, SiLU, Linear); `conv_in`;
per resolution level `num_res_blocks` residual blocks (GroupNorm, SiLU, 3x3
conv, + projected embedding, GroupNorm, SiLU, dropout, 3x3 conv, + shortcut),
each followed by self-attention at the attention resolutions, and a stride-2
downsampling conv between levels; a middle block, attention, block; on the
way up `num_res_blocks + 1` blocks per level whose inputs are concatenated
with the tensors saved on the way down (last saved first), and nearest x2
upsampling + 3x3 conv between levels; GroupNorm, SiLU, `conv_out`.
GroupNorm is 32 groups with eps 1e-6 everywhere; dropout is identity in eval.

gen_zoo.py walks this module (forward hooks) to write ddpm_cifar10.yaml.
"""

import math

import torch
from torch import nn
import torch.nn.functional as F

GROUPS = 32
EPS = 1e-6


def group_norm(channels):
    return nn.GroupNorm(GROUPS, channels, eps=EPS, affine=True)


def timestep_embedding(t, dim, dtype):
    """Sinusoid of the DDPM code: [sin(t f_i), cos(t f_i)], f_i = 10000^(-i/(half-1))."""
    if dim % 2:
        raise ValueError(f"timestep embedding dim {dim} must be even")
    half = dim // 2
    scale = -math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=dtype, device=t.device) * scale)
    ang = t.to(dtype)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)


class ResnetBlock(nn.Module):
    """GN-SiLU-conv, + Linear(SiLU(temb)), GN-SiLU-dropout-conv, + shortcut."""

    def __init__(self, cin, cout, temb_ch, dropout):
        super().__init__()
        self.in_channels, self.out_channels = cin, cout
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.temb_proj = nn.Linear(temb_ch, cout)
        self.norm2 = group_norm(cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1, 1, 0)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = self.nin_shortcut(x) if self.in_channels != self.out_channels else x
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the pixels, 1x1 conv q/k/v/out, residual."""

    def __init__(self, channels):
        super().__init__()
        self.norm = group_norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        n = self.norm(x)
        q, k, v = (m(n).reshape(b, c, hh * ww) for m in (self.q, self.k, self.v))
        # w[b, i, j]: query pixel i against key pixel j
        w = torch.softmax(torch.einsum("bci,bcj->bij", q, k) * c ** -0.5, dim=2)
        out = torch.einsum("bij,bcj->bci", w, v).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Zero pad right/bottom by one, 3x3 stride-2 conv (or 2x2 average pool)."""

    def __init__(self, channels, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x):
        if self.with_conv:
            return self.conv(F.pad(x, (0, 1, 0, 1)))
        return F.avg_pool2d(x, 2, 2)


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 conv when with_conv."""

    def __init__(self, channels, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if self.with_conv else x


class DDPMUNet(nn.Module):
    def __init__(self, ch=128, out_ch=3, ch_mult=(1, 2, 2, 2), num_res_blocks=2,
                 attn_resolutions=(16,), dropout=0.1, in_channels=3,
                 resolution=32, resamp_with_conv=True):
        super().__init__()
        self.ch, self.temb_ch = ch, 4 * ch
        self.resolution = resolution
        self.num_res_blocks = num_res_blocks
        levels = len(ch_mult)
        self.temb = nn.Module()
        self.temb.dense = nn.ModuleList([nn.Linear(ch, self.temb_ch),
                                         nn.Linear(self.temb_ch, self.temb_ch)])
        self.conv_in = nn.Conv2d(in_channels, ch, 3, 1, 1)

        # Channels of the tensors the down path saves, in saving order; the
        # up path pops them from the end.
        saved = [ch]
        res, cur = resolution, ch
        self.down = nn.ModuleList()
        for lvl, mult in enumerate(ch_mult):
            stage = nn.Module()
            stage.block, stage.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks):
                stage.block.append(ResnetBlock(cur, ch * mult, self.temb_ch, dropout))
                cur = ch * mult
                if res in attn_resolutions:
                    stage.attn.append(AttnBlock(cur))
                saved.append(cur)
            if lvl != levels - 1:
                stage.downsample = Downsample(cur, resamp_with_conv)
                res //= 2
                saved.append(cur)
            self.down.append(stage)

        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(cur, cur, self.temb_ch, dropout)
        self.mid.attn_1 = AttnBlock(cur)
        self.mid.block_2 = ResnetBlock(cur, cur, self.temb_ch, dropout)

        stages = [None] * levels
        for lvl in reversed(range(levels)):
            stage = nn.Module()
            stage.block, stage.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                stage.block.append(ResnetBlock(cur + saved.pop(), ch * ch_mult[lvl],
                                               self.temb_ch, dropout))
                cur = ch * ch_mult[lvl]
                if res in attn_resolutions:
                    stage.attn.append(AttnBlock(cur))
            if lvl != 0:
                stage.upsample = Upsample(cur, resamp_with_conv)
                res *= 2
            stages[lvl] = stage
        self.up = nn.ModuleList(stages)     # indexed by level, as down is

        self.norm_out = group_norm(cur)
        self.conv_out = nn.Conv2d(cur, out_ch, 3, 1, 1)

    @classmethod
    def cifar10(cls):
        """The CIFAR-10 configuration (35.7M parameters)."""
        return cls(ch=128, out_ch=3, ch_mult=(1, 2, 2, 2), num_res_blocks=2,
                   attn_resolutions=(16,), dropout=0.1, in_channels=3,
                   resolution=32, resamp_with_conv=True)

    def forward(self, x, t):
        if x.shape[2] != self.resolution or x.shape[3] != self.resolution:
            raise ValueError(f"input {tuple(x.shape)}: want {self.resolution}x"
                             f"{self.resolution}")
        temb = timestep_embedding(t, self.ch, self.conv_in.weight.dtype)
        temb = self.temb.dense[1](F.silu(self.temb.dense[0](temb)))

        hs = [self.conv_in(x)]
        for stage in self.down:
            for i, blk in enumerate(stage.block):
                h = blk(hs[-1], temb)
                if len(stage.attn):
                    h = stage.attn[i](h)
                hs.append(h)
            if hasattr(stage, "downsample"):
                hs.append(stage.downsample(hs[-1]))

        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(hs[-1], temb)), temb)

        for stage in reversed(self.up):
            for i, blk in enumerate(stage.block):
                h = blk(torch.cat([h, hs.pop()], dim=1), temb)
                if len(stage.attn):
                    h = stage.attn[i](h)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)

        return self.conv_out(F.silu(self.norm_out(h)))
