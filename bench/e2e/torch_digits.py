#!/usr/bin/env python3
"""The PyTorch + Albumentations script a user would write instead of
`temper train --config configs/digits-augment.toml`.

The same work: PNG paths from a CSV (path,label) decoded with Pillow; a
DataLoader whose training transform applies the config's four augmentations
(rotate p 0.5, gaussian noise p 0.3, gaussian blur p 0.3, contrast p 0.3,
each at a random severity 1..5 with Temper's parameters); the same CNN
(conv 32 -> BN -> ReLU -> pool, conv 64 -> BN -> ReLU -> pool, dense 128,
dropout 0.25), Adam 1e-3, batch 64, 3 epochs; clean accuracy and the 25
corruption cells (5 corruptions x severities 1..5) over the whole test set;
FGSM and PGD-10 (step eps/4, random start) at eps 0.05, 0.1, 0.2 on the first
1,000 test images.

Prints one JSON line: seconds per phase, peak RSS and clean accuracy.

Usage: bench/.venv-torch/bin/python bench/e2e/torch_digits.py TRAIN.csv TEST.csv [--threads N] [--workers N]
"""

import argparse
import json
import resource
import time

import albumentations as A
import cv2
import numpy as np
import torch
from PIL import Image

# The tables Temper's `auto` picks for 28 px grayscale (`temper list`),
# severity 1..5: CIFAR-10-C's noise, blur and contrast, MNIST-C's rotate and
# brightness.
ROTATE_DEGREES = [11.46, 22.92, 34.38, 45.84, 57.30]
NOISE_SIGMA = [0.04, 0.06, 0.08, 0.09, 0.10]
BLUR_SIGMA = [0.4, 0.6, 0.7, 0.8, 1.0]
BRIGHTNESS = [0.1, 0.2, 0.3, 0.4, 0.5]
CONTRAST = [0.75, 0.5, 0.4, 0.3, 0.15]


def per_severity(make):
    return [make(s) for s in range(5)]


def rotate(s):
    d = ROTATE_DEGREES[s]
    return A.Rotate(limit=(-d, d), border_mode=cv2.BORDER_CONSTANT, fill=0, p=1)


def noise(s):
    return A.GaussNoise(std_range=(NOISE_SIGMA[s], NOISE_SIGMA[s]), p=1)


def blur(s):
    return A.GaussianBlur(sigma_limit=(BLUR_SIGMA[s], BLUR_SIGMA[s]), blur_limit=0, p=1)


def contrast(s):
    c = CONTRAST[s] - 1.0
    return A.RandomBrightnessContrast(brightness_limit=(0, 0), contrast_limit=(c, c), p=1)


def brightness(s):
    b = BRIGHTNESS[s]
    return A.RandomBrightnessContrast(brightness_limit=(b, b), contrast_limit=(0, 0), p=1)


def train_transform():
    return A.Compose([
        A.OneOf(per_severity(rotate), p=0.5),
        A.OneOf(per_severity(noise), p=0.3),
        A.OneOf(per_severity(blur), p=0.3),
        A.OneOf(per_severity(contrast), p=0.3),
    ])


CORRUPTIONS = {"gaussian_noise": noise, "gaussian_blur": blur, "brightness": brightness,
               "contrast": contrast, "rotate": rotate}


class Digits(torch.utils.data.Dataset):
    def __init__(self, images, labels, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = self.images[i]
        if self.transform is not None:
            img = self.transform(image=img)["image"]
        return torch.from_numpy(np.array(img)).float().div_(255).unsqueeze(0), self.labels[i]


def load(csv):
    import csv as csvmod
    from pathlib import Path

    base = Path(csv).parent
    images, labels = [], []
    with open(csv, newline="") as f:
        for row in csvmod.DictReader(f):
            images.append(np.asarray(Image.open(base / row["path"]).convert("L")))
            labels.append(int(row["label"]))
    return images, labels


def model():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10),
    )


def accuracy(net, loader):
    hits = n = 0
    with torch.no_grad():
        for x, y in loader:
            hits += (net(x).argmax(1) == y).sum().item()
            n += len(y)
    return hits / n


def attack(net, x, y, eps, steps):
    loss_fn = torch.nn.CrossEntropyLoss()
    if steps == 0:
        x = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_fn(net(x), y), x)
        return (x + eps * g.sign()).clamp(0, 1).detach()
    alpha = eps / 4
    delta = ((x + (torch.rand_like(x) * 2 - 1) * eps).clamp(0, 1) - x)
    for _ in range(steps):
        delta.requires_grad_(True)
        (g,) = torch.autograd.grad(loss_fn(net(x + delta), y), delta)
        delta = (delta.detach() + alpha * g.sign()).clamp(-eps, eps)
        delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    cv2.setNumThreads(1)
    seconds = {}
    t = time.perf_counter()
    train_x, train_y = load(args.train)
    test_x, test_y = load(args.test)
    seconds["load"] = time.perf_counter() - t

    t = time.perf_counter()
    loader = torch.utils.data.DataLoader(Digits(train_x, train_y, train_transform()), batch_size=64,
                                         shuffle=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0)
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        net.train()
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
    net.eval()
    seconds["train"] = time.perf_counter() - t

    t = time.perf_counter()

    def test_loader(transform):
        return torch.utils.data.DataLoader(Digits(test_x, test_y, transform), batch_size=256,
                                           num_workers=args.workers)

    clean = accuracy(net, test_loader(None))
    corruption = {name: [accuracy(net, test_loader(make(s))) for s in range(5)]
                  for name, make in CORRUPTIONS.items()}
    seconds["corruption"] = time.perf_counter() - t

    t = time.perf_counter()
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.stack([Digits(test_x, test_y)[i][0] for i in range(1000)])
    y = torch.tensor(test_y[:1000])
    attacked = {}
    for name, steps in [("fgsm", 0), ("pgd_linf", 10)]:
        for eps in [0.05, 0.1, 0.2]:
            adv = torch.cat([attack(net, x[i:i + 256], y[i:i + 256], eps, steps) for i in range(0, 1000, 256)])
            with torch.no_grad():
                attacked[f"{name}@{eps}"] = (net(adv).argmax(1) == y).float().mean().item()
    seconds["attack"] = time.perf_counter() - t
    seconds["total"] = sum(seconds.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_rss_mib": rss / 1024, "clean_accuracy": clean,
                      "mean_corruption_accuracy": float(np.mean([a for v in corruption.values() for a in v])),
                      "attack_accuracy": attacked}))


if __name__ == "__main__":
    main()
