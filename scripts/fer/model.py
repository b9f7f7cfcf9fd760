"""The seed architecture of atulapra/Emotion-detection, split into a frozen conv trunk and a trainable FC head."""
import torch
from torch import nn

FEATURES = 2048
HIDDEN = 1024
CLASSES = 7


class Trunk(nn.Module):
    """48x48x1 -> 2048 features. 3x3 valid convs, ReLU; dropout as in the seed."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(128, 128, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Flatten(),
        )

    def forward(self, x):
        return self.layers(x)


class Head(nn.Module):
    """2048 -> 1024 -> 7 logits."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(FEATURES, HIDDEN)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(HIDDEN, CLASSES)

    def forward(self, f):
        return self.fc2(self.drop(torch.relu(self.fc1(f))))


class SeedCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = Trunk()
        self.head = Head()

    def forward(self, x):
        return self.head(self.trunk(x))
