"""The seed architecture of atulapra/Emotion-detection, split into a frozen conv trunk and a trainable FC head."""
import torch
from torch import nn

FEATURES = 2048
HIDDEN = 1024
CLASSES = 7


class Trunk(nn.Module):
    """48x48x1 -> 2048 features. 3x3 valid convs, ReLU; dropout as in the seed.

    batchnorm=True is a TRAINING-time form only: a BatchNorm after each conv, which fold_batchnorm() merges into the
    conv's weights and bias, giving back exactly the seed trunk (same layers, same parameter count)."""

    def __init__(self, batchnorm: bool = False):
        super().__init__()

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3)] + ([nn.BatchNorm2d(cout)] if batchnorm else []) + [nn.ReLU(inplace=True)]

        self.layers = nn.Sequential(
            *conv(1, 32),
            *conv(32, 64),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            *conv(64, 128),
            nn.MaxPool2d(2),
            *conv(128, 128),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Flatten(),
        )

    def forward(self, x):
        return self.layers(x)


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


class SeedCNN(nn.Module):
    def __init__(self, batchnorm: bool = False):
        super().__init__()
        self.batchnorm = batchnorm
        self.trunk = Trunk(batchnorm)
        self.head = Head(batchnorm)

    def forward(self, x):
        return self.head(self.trunk(x))


@torch.no_grad()
def fold_batchnorm(model: SeedCNN) -> dict:
    """The plain seed architecture's state dict equal (in eval mode) to `model`.

    A model trained with batchnorm=True is folded: each BatchNorm (running statistics, affine) becomes a per-channel
    scale of the preceding conv/linear weights and a shift of its bias. A plain model's state is returned as is."""
    if not model.batchnorm:
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    plain = SeedCNN()

    def fold(src, bn, dst):
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shape = (-1,) + (1,) * (src.weight.dim() - 1)
        dst.weight.copy_(src.weight * scale.view(shape))
        dst.bias.copy_((src.bias - bn.running_mean) * scale + bn.bias)

    src = [m for m in model.trunk.layers if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.trunk.layers if isinstance(m, nn.BatchNorm2d)]
    dst = [m for m in plain.trunk.layers if isinstance(m, nn.Conv2d)]
    for c, b, d in zip(src, bns, dst):
        fold(c.float(), b.float(), d)
    fold(model.head.fc1, model.head.bn1, plain.head.fc1)
    plain.head.fc2.load_state_dict(model.head.fc2.state_dict())
    return {k: v.detach().cpu().clone() for k, v in plain.state_dict().items()}
