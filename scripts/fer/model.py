"""The expression networks, each split into a frozen conv trunk (48x48x1 -> 2048 features) and a trainable FC head
(2048 -> 1024 -> 7).

The trunk -> head contract is fixed by the server (src/inference/heads/head-shape.ts FEATURES = 2048, HIDDEN = 1024):
personal heads, the fine-tuning step graph and the replay set all take 2048 trunk features, whatever the trunk is.

Architectures (`--arch` in scripts/train.py, `ARCHS` below):
  seed  atulapra/Emotion-detection's CNN, ~75 M MACs per face: the baseline (issue 17 keeps it available).
  seedw the seed with its third conv 256 wide, ~114 M MACs: more capacity, the seed's local 24 px features.
  seed5 the seed with a second conv (3x3 same, 128 -> 128 at 8x8) before its last pool, ~85 M MACs: depth, 32 px
        features on the seed's 4x4 grid.
  seed1x1 the seed with a 1x1 conv (128 -> 256 at 20x20) after its third conv, the fourth reading 256, ~98 M MACs:
        depth that keeps the seed's 24 px features on its 4x4 grid.
  seedds the seed with its last two convs depthwise-separable and 384 channels between them (the seed: 128), ~50 M
        MACs: width for fewer MACs, the seed's 24 px features on its 4x4 grid.
  vgg   4 VGG stages of two 3x3 convs (32, 64, 128, 256->512 channels at 48, 24, 12, 6 px), ~139 M MACs; the last
        stage's 512x6x6 is max-pooled 3x3 to 512x2x2 = 2048 features.
  vggs  vgg's slim student for distillation: one conv at 48 px, 256 channels at 6 px and a 1x1 conv to 512, ~101 M
        MACs (MAC count: scripts/bench/arch_cost.py).
  vggs4 vggs whose 2048 features keep the seed's 128 x 4x4 grid (a 3x3 valid conv 256->128 at 6 px instead of the
        1x1 to 512 and the pool), same cost: session 7 found vggs' 2x2 grid makes personal heads worse.
  res   ResNet-style: stem conv + stride-2 conv to 64x24x24, basic residual blocks at 64x24, 128x12, 256x6, a 1x1 conv
        to 512 and a 3x3 average pool to 512x2x2 = 2048 features, ~124 M MACs.
vgg and res always train with BatchNorm (their design): fold_batchnorm() merges it into the convs, so the checkpoint's
best weights, the ONNX export and the server hold plain Conv/Relu/Pool/Add graphs with no BatchNormalization node.
"""
import torch
from torch import nn

FEATURES = 2048
HIDDEN = 1024
CLASSES = 7


def conv_layers(cin, cout, batchnorm, k=3, padding=0, groups=1):
    """A conv, its BatchNorm when training in that form (fold_batchnorm() pairs them in order), and a ReLU."""
    return ([nn.Conv2d(cin, cout, k, padding=padding, groups=groups)] + ([nn.BatchNorm2d(cout)] if batchnorm else [])
            + [nn.ReLU(inplace=True)])


class Trunk(nn.Module):
    """The seed trunk: 48x48x1 -> 2048 features. 3x3 valid convs, ReLU; dropout as in the seed.

    batchnorm=True is a TRAINING-time form only: a BatchNorm after each conv, which fold_batchnorm() merges into the
    conv's weights and bias, giving back exactly the seed trunk (same layers, same parameter count).

    `widths` are the four convs' output channels (the last must stay 128: 128 x 4x4 = the heads' 2048 features). With
    the defaults every feature sees a 24x24 px patch of the face (receptive field: 3, 5, pool 6, 10, pool 12, 20, pool
    24; stride 8); each of `last_same_convs` widens that by 8 px, a `mid_pointwise` 1x1 conv not at all."""

    WIDTHS = (32, 64, 128, 128)

    def __init__(self, batchnorm: bool = False, widths: tuple = WIDTHS, last_same_convs: int = 0,
                 mid_pointwise: int = 0):
        super().__init__()
        w1, w2, w3, w4 = widths

        def conv(cin, cout, padding=0, k=3):
            return conv_layers(cin, cout, batchnorm, k=k, padding=padding)

        # extra 3x3 "same" convs at 8x8 after the fourth conv (DeepSeedTrunk): depth that widens the receptive field
        # by only 8 px each and keeps the 4x4 grid
        deep = [layer for _ in range(last_same_convs) for layer in conv(w4, w4, padding=1)]
        # a 1x1 conv after the third conv (PointwiseSeedTrunk): a channel mix per 20 px cell, receptive field unchanged
        pointwise = conv(w3, mid_pointwise, k=1) if mid_pointwise else []

        self.layers = nn.Sequential(
            *conv(1, w1),
            *conv(w1, w2),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            *conv(w2, w3),
            *pointwise,
            nn.MaxPool2d(2),
            *conv(mid_pointwise or w3, w4),
            *deep,
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Flatten(),
        )

    def forward(self, x):
        return self.layers(x)


class WideSeedTrunk(Trunk):
    """The seed trunk with its third conv twice as wide (256 channels at 20x20, so the fourth reads 256): ~114 M MACs.

    Session 13 found the `vggs` family's features (every one sees the whole face: receptive field 82 px) personalise
    worse than the seed's local ones (24 px patches on a 4x4 grid) at the same prototype separability. This trunk adds
    capacity without widening what each feature sees: same layers, same grid, same receptive field as the seed."""

    WIDTHS = (32, 64, 256, 128)

    def __init__(self, batchnorm: bool = True):
        super().__init__(batchnorm, self.WIDTHS)


class DeepSeedTrunk(Trunk):
    """The seed trunk with a second 3x3 conv in its last stage: 128 -> 128 "same" at 8x8, before the last pool (~85 M
    MACs).

    `seedw` (session 14) showed width at the third conv buys no FER-2013 accuracy while the seed's local features
    personalise well. This adds depth where the seed's features are formed instead, as VGG's paired convs do: one
    more nonlinear layer that combines neighbouring 20 px features, so each final feature sees 32 px (24 in the seed,
    82 in the `vggs` families) on the same 4x4 grid of 128 channels."""

    def __init__(self, batchnorm: bool = True):
        super().__init__(batchnorm, Trunk.WIDTHS, last_same_convs=1)


class PointwiseSeedTrunk(Trunk):
    """The seed trunk with a 1x1 conv (128 -> 256) after its third conv, so the fourth conv reads 256 channels: ~98 M
    MACs.

    `seed5` (session 15) bought FER-2013 and Taiwanese accuracy with one more layer, and its 32 px features cost
    JAFFE's one-photo personal models. This adds a layer that does not widen what a feature sees: a nonlinear channel
    mix within each 20 px cell before the pool, so the final features keep the seed's 24 px patches, 4x4 grid and 128
    channels (`seedw`, the same receptive field, showed 24 px features personalise at the shipped level)."""

    def __init__(self, batchnorm: bool = True):
        super().__init__(batchnorm, Trunk.WIDTHS, mid_pointwise=256)


class SeparableSeedTrunk(Trunk):
    """The seed trunk with its last two convs depthwise-separable (a 3x3 valid depthwise conv, then a 1x1 conv, each
    with its BatchNorm and ReLU) and the channels between them 384 wide (the seed: 128): ~50 M MACs.

    Issue 17 names depthwise-separable blocks as a candidate: they buy width for fewer MACs. Here the width goes where
    `seedw` put it (the third stage, 20x20), three times the seed's instead of twice, for two thirds of the seed's cost;
    every feature is still a 24 px patch on the seed's 4x4 grid of 128 channels (the same valid 3x3 kernels in the same
    places). The first two convs stay as the seed's: made separable and wide at 44x44 they train 2-4x slower on the
    CPU (memory-bound BatchNorm, ReLU and dropout on the wide activations), which no session could finish (MODEL.md).
    fold_batchnorm() folds each BatchNorm into the conv before it, depthwise ones included."""

    WIDTHS = (32, 64, 384, 128)

    def __init__(self, batchnorm: bool = True):
        nn.Module.__init__(self)
        w1, w2, w3, w4 = self.WIDTHS

        def conv(cin, cout, k=3, groups=1):
            return conv_layers(cin, cout, batchnorm, k=k, groups=groups)

        def separable(cin, cout):
            return conv(cin, cin, groups=cin) + conv(cin, cout, k=1)

        self.layers = nn.Sequential(
            *conv(1, w1),
            *conv(w1, w2),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            *separable(w2, w3),
            nn.MaxPool2d(2),
            *separable(w3, w4),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Flatten(),
        )

class ConvBN(nn.Module):
    """A conv followed (training form) by a BatchNorm, or (folded form, batchnorm=False) a conv with a bias.

    Both forms have the same conv at the same attribute path, so fold_batchnorm() matches them by name."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, batchnorm: bool = True, padding: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2 if padding is None else padding, bias=not batchnorm)
        self.bn = nn.BatchNorm2d(cout) if batchnorm else None

    def forward(self, x):
        x = self.conv(x)
        return self.bn(x) if self.bn is not None else x


class VggTrunk(nn.Module):
    """48x48x1 -> 2048: stages of two 3x3 'same' convs + BN + ReLU, max-pool between stages (48 -> 24 -> 12 -> 6);
    the last stage ends at 512 channels and a 3x3 max-pool gives 512x2x2."""

    WIDTHS = ((32, 32), (64, 64), (128, 128), (256, 512))

    def __init__(self, batchnorm: bool = True):
        super().__init__()
        layers, cin = [], 1
        for i, widths in enumerate(self.WIDTHS):
            for w in widths:
                layers += [ConvBN(cin, w, batchnorm=batchnorm), nn.ReLU(inplace=True)]
                cin = w
            layers.append(nn.MaxPool2d(3 if i == len(self.WIDTHS) - 1 else 2))
        self.layers = nn.Sequential(*layers, nn.Dropout(0.25), nn.Flatten())

    def forward(self, x):
        return self.layers(x)


def vgg_slim_stages(batchnorm: bool) -> list:
    """vggs' convs up to 256 channels at 6x6 px: Conv32-Pool-[Conv64 Conv64]-Pool-[Conv128 Conv128]-Pool-[Conv256 Conv256]."""
    widths = ((32,), (64, 64), (128, 128), (256, 256))
    layers, cin = [], 1
    for i, stage in enumerate(widths):
        for w in stage:
            layers += [ConvBN(cin, w, batchnorm=batchnorm), nn.ReLU(inplace=True)]
            cin = w
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
    return layers


class VggSlimTrunk(nn.Module):
    """The distillation student (issue 17: vgg costs ~2.5 ms/face, and the whole pipeline with it measured 195
    frames/s over 8 cameras against the 200 bar): vgg without its most expensive convs. One conv at 48 px (the 32->32
    conv there is a sixth of vgg's MACs and, on its large activations, more of its time), two at 24 and 12 px, two of
    256 at 6 px, then a 1x1 conv to 512 (vgg's 3x3 256->512 is 31% of its MACs) and a 3x3 max-pool to 512x2x2."""

    def __init__(self, batchnorm: bool = True):
        super().__init__()
        layers = vgg_slim_stages(batchnorm) + [ConvBN(256, 512, 1, batchnorm=batchnorm), nn.ReLU(inplace=True), nn.MaxPool2d(3)]
        self.layers = nn.Sequential(*layers, nn.Dropout(0.25), nn.Flatten())

    def forward(self, x):
        return self.layers(x)


class VggSlimGrid4Trunk(nn.Module):
    """vggs with the seed's feature layout: the same stages, then a 3x3 VALID conv 256->128 turns 6x6 into 4x4, so the
    2048 features are 128 channels on a 4x4 grid (the seed's) instead of 512 on 2x2 (vggs'). Session 7 measured that
    vggs' 2x2 features make personal heads worse (JAFFE 91.3% against the seed's 95.3%): the coarse grid has pooled
    away where things are on the face. Same cost as vggs (the last conv: 6x6x256 -> 4x4x128 x 9 = 4.7 M MACs, as
    vggs' 1x1 to 512)."""

    def __init__(self, batchnorm: bool = True):
        super().__init__()
        layers = vgg_slim_stages(batchnorm) + [ConvBN(256, 128, 3, batchnorm=batchnorm, padding=0), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers, nn.Dropout(0.25), nn.Flatten())

    def forward(self, x):
        return self.layers(x)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 ConvBNs, identity shortcut (a strided 1x1 ConvBN when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, batchnorm: bool = True):
        super().__init__()
        self.a = ConvBN(cin, cout, 3, stride, batchnorm)
        self.b = ConvBN(cout, cout, 3, 1, batchnorm)
        self.short = ConvBN(cin, cout, 1, stride, batchnorm) if stride != 1 or cin != cout else None

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return torch.relu(self.b(torch.relu(self.a(x))) + s)


class ResTrunk(nn.Module):
    """48x48x1 -> 2048: stem 3x3 conv (32 @ 48x48) and a stride-2 conv (64 @ 24x24), basic blocks 64@24, 128@12,
    256@6, a 1x1 conv to 512 and a 3x3 average pool to 512x2x2."""

    def __init__(self, batchnorm: bool = True):
        super().__init__()
        bn = batchnorm
        self.stem = nn.Sequential(ConvBN(1, 32, batchnorm=bn), nn.ReLU(inplace=True),
                                  ConvBN(32, 64, stride=2, batchnorm=bn), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(BasicBlock(64, 64, 1, bn), BasicBlock(64, 128, 2, bn), BasicBlock(128, 256, 2, bn))
        self.out = nn.Sequential(ConvBN(256, 512, 1, batchnorm=bn), nn.ReLU(inplace=True), nn.AvgPool2d(3),
                                 nn.Dropout(0.25), nn.Flatten())

    def forward(self, x):
        return self.out(self.blocks(self.stem(x)))


class Head(nn.Module):
    """2048 -> 1024 -> 7 logits. batchnorm=True (training form only) puts a BatchNorm between fc1 and its ReLU."""

    def __init__(self, batchnorm: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(FEATURES, HIDDEN)
        self.bn1 = nn.BatchNorm1d(HIDDEN) if batchnorm else None
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(HIDDEN, CLASSES)

    def forward(self, f):
        h = self.fc1(f)
        if self.bn1 is not None:
            h = self.bn1(h)
        return self.fc2(self.drop(torch.relu(h)))


# name -> (trunk class, whether training always uses BatchNorm, one-line description for the manifest)
ARCHS = {
    "seed": (Trunk, False, "atulapra/Emotion-detection seed CNN: Conv32-Conv64-Pool-Drop.25-Conv128-Pool-Conv128-Pool-"
                           "Drop.25-Flatten(2048)-Dense1024-Drop.5-Dense7, 3x3 valid convs, ReLU"),
    "seedw": (WideSeedTrunk, True, "seed CNN, third conv widened: Conv32-Conv64-Pool-Drop.25-Conv256-Pool-Conv128-Pool-"
                                   "Drop.25-Flatten(2048)-Dense1024-Drop.5-Dense7, 3x3 valid convs, BatchNorm folded "
                                   "into the convs, ReLU"),
    "seed5": (DeepSeedTrunk, True, "seed CNN, deeper last stage: Conv32-Conv64-Pool-Drop.25-Conv128-Pool-Conv128-"
                                   "Conv128 same-Pool-Drop.25-Flatten(2048)-Dense1024-Drop.5-Dense7, 3x3 convs, "
                                   "BatchNorm folded into the convs, ReLU"),
    "seed1x1": (PointwiseSeedTrunk, True, "seed CNN, a 1x1 conv after the third: Conv32-Conv64-Pool-Drop.25-Conv128-"
                                          "Conv1x1 256-Pool-Conv128-Pool-Drop.25-Flatten(2048)-Dense1024-Drop.5-Dense7, "
                                          "3x3 valid convs, BatchNorm folded into the convs, ReLU"),
    "seedds": (SeparableSeedTrunk, True, "seed CNN, last two convs depthwise-separable, 384 wide between: Conv32-Conv64-"
                                         "Pool-Drop.25-[DWConv3x3 Conv1x1 384]-Pool-[DWConv3x3 Conv1x1 128]-Pool-Drop.25-"
                                         "Flatten(2048)-Dense1024-Drop.5-Dense7, 3x3 valid convs, BatchNorm folded into "
                                         "the convs, ReLU"),
    "vgg": (VggTrunk, True, "VGG-style: [Conv32 Conv32]-Pool-[Conv64 Conv64]-Pool-[Conv128 Conv128]-Pool-"
                            "[Conv256 Conv512]-MaxPool3-Drop.25-Flatten(512x2x2=2048)-Dense1024-Drop.5-Dense7, 3x3 same "
                            "convs, BatchNorm folded into the convs, ReLU"),
    "vggs": (VggSlimTrunk, True, "VGG-style, slim (distillation student): Conv32-Pool-[Conv64 Conv64]-Pool-[Conv128 "
                                 "Conv128]-Pool-[Conv256 Conv256]-Conv1x1 512-MaxPool3-Drop.25-Flatten(512x2x2=2048)-"
                                 "Dense1024-Drop.5-Dense7, 3x3 same convs, BatchNorm folded into the convs, ReLU"),
    "vggs4": (VggSlimGrid4Trunk, True, "VGG-style, slim, seed feature grid: Conv32-Pool-[Conv64 Conv64]-Pool-[Conv128 "
                                       "Conv128]-Pool-[Conv256 Conv256]-Conv3x3 valid 128-Drop.25-Flatten(128x4x4=2048)-"
                                       "Dense1024-Drop.5-Dense7, 3x3 same convs, BatchNorm folded into the convs, ReLU"),
    "res": (ResTrunk, True, "ResNet-style: Conv32-Conv64/2-Block64-Block128/2-Block256/2-Conv1x1 512-AvgPool3-Drop.25-"
                            "Flatten(512x2x2=2048)-Dense1024-Drop.5-Dense7, basic blocks of two 3x3 convs, BatchNorm "
                            "folded into the convs, ReLU"),
}


class ExpressionNet(nn.Module):
    def __init__(self, arch: str = "seed", batchnorm: bool = False):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r} (one of {', '.join(ARCHS)})")
        self.arch = arch
        self.batchnorm = batchnorm
        self.trunk = ARCHS[arch][0](batchnorm)
        self.head = Head(batchnorm)

    def forward(self, x):
        return self.head(self.trunk(x))


class SeedCNN(ExpressionNet):
    def __init__(self, batchnorm: bool = False):
        super().__init__("seed", batchnorm)


def build_model(arch: str = "seed", batchnorm: bool = False) -> ExpressionNet:
    return SeedCNN(batchnorm) if arch == "seed" else ExpressionNet(arch, batchnorm)


def trains_with_batchnorm(arch: str) -> bool:
    return ARCHS[arch][1]


def describe(arch: str) -> str:
    return ARCHS[arch][2]


@torch.no_grad()
def count_macs(model: nn.Module, size: int = 48) -> int:
    """Multiply-accumulates of one 1x size x size face through `model` (convs and linear layers; pools, ReLUs, adds and
    BatchNorms are not counted: BatchNorm is folded away for inference)."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            total += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total += mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, 1, size, size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def _fold(src, bn, dst) -> None:
    """dst.weight/bias := src (weight, optional bias) followed by bn (running statistics, affine), in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = (-1,) + (1,) * (src.weight.dim() - 1)
    bias = src.bias if src.bias is not None else torch.zeros_like(bn.running_mean)
    dst.weight.copy_(src.weight * scale.view(shape))
    dst.bias.copy_((bias - bn.running_mean) * scale + bn.bias)


@torch.no_grad()
def fold_batchnorm(model: ExpressionNet) -> dict:
    """The plain (batchnorm=False) architecture's state dict equal (in eval mode) to `model`.

    A model trained with batchnorm=True is folded: each BatchNorm (running statistics, affine) becomes a per-channel
    scale of the preceding conv/linear weights and a shift of its bias. A plain model's state is returned as is."""
    if not model.batchnorm:
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    model = model.float()
    plain = build_model(model.arch, False)
    if isinstance(model.trunk, Trunk):
        src = [m for m in model.trunk.layers if isinstance(m, nn.Conv2d)]
        bns = [m for m in model.trunk.layers if isinstance(m, nn.BatchNorm2d)]
        dst = [m for m in plain.trunk.layers if isinstance(m, nn.Conv2d)]
        for c, b, d in zip(src, bns, dst):
            _fold(c, b, d)
    else:
        for name, mod in model.named_modules():
            if isinstance(mod, ConvBN):
                _fold(mod.conv, mod.bn, plain.get_submodule(name).conv)
    _fold(model.head.fc1, model.head.bn1, plain.head.fc1)
    plain.head.fc2.load_state_dict(model.head.fc2.state_dict())
    return {k: v.detach().cpu().clone() for k, v in plain.state_dict().items()}
