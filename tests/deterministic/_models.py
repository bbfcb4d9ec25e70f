"""Small ReLU networks shared by the deterministic-network tests."""
import torch
from torch import nn


def small_mlp(seed, sizes=(20, 64, 64, 10)):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double().eval()
