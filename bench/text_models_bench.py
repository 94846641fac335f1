#!/usr/bin/env python3
"""Temper's text configs beside two scikit-learn baselines on one text table.

Usage:
    python3 bench/text_models_bench.py --temper BIN --train T.csv --test S.csv \
        [--config configs/messages.toml ...] [--examples N]

Creates bench/.venv-sklearn on first run (scikit-learn 1.7.2) and re-runs
itself inside. Fits, on `text,label` tables:
    word LR   TF-IDF of word 1-2-grams, logistic regression (defaults)
    char SVM  TF-IDF of character 2-5-grams, linear SVM (defaults)
then runs `temper train` for each config with its `[data]` paths pointed at
the two tables and the attacks' `examples` set to --examples, and prints one
Markdown table: clean accuracy, accuracy under DeepWordBug and TextBugger
(Temper's own attacks, as configured), and seconds (fit, or the whole
`temper train` command: training, corruptions and attacks).
"""

import argparse
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from _venv import reexec_in

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-sklearn"
PEERS = ["scikit-learn==1.7.2"]


def ensure_venv():
    reexec_in(VENV, PEERS, __file__)


def read(path):
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def baselines(train, test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    models = {
        "word LR (sklearn)": make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=1000)
        ),
        "char SVM (sklearn)": make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(2, 5)), LinearSVC()
        ),
    }
    out = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(*train)
        seconds = time.perf_counter() - start
        predicted = model.predict(test[0])
        accuracy = sum(p == t for p, t in zip(predicted, test[1])) / len(test[1])
        out.append({"model": name, "clean": accuracy, "seconds": seconds})
    return out


def pointed(config: Path, train: Path, test: Path, examples: int) -> str:
    """The config's text with its data paths and attack sizes replaced."""
    text = config.read_text()
    text = re.sub(r'(?m)^train = ".*"$', f'train = "{train.resolve()}"', text)
    text = re.sub(r'(?m)^test = ".*"$', f'test = "{test.resolve()}"', text)
    text = re.sub(r"(?m)^examples = \d+$", f"examples = {examples}", text)
    return text


def temper(binary, config, train, test, examples, out):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", dir=out, delete=False) as f:
        f.write(pointed(config, train, test, examples))
        path = f.name
    start = time.perf_counter()
    subprocess.run(
        [binary, "train", "--config", path, "--out", str(out), "--quiet", "--device", "cpu"],
        check=True, stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    name = re.search(r'(?m)^name = "(.*)"$', config.read_text()).group(1)
    metrics = json.loads((Path(out) / name / "latest" / "metrics.json").read_text())
    attacks = metrics.get("attack_accuracy", {})
    row = {"model": f"Temper `{config.stem}`", "clean": metrics["clean_accuracy"], "seconds": seconds}
    for attack in ("deepwordbug", "textbugger"):
        if attack in attacks:
            row[attack] = next(iter(attacks[attack].values()))
    epochs = metrics.get("training", [])
    row["train_seconds"] = sum(e["seconds"] for e in epochs)
    return row


def main():
    ensure_venv()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--temper", required=True)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--test", type=Path, required=True)
    ap.add_argument("--config", type=Path, action="append", default=[])
    ap.add_argument("--examples", type=int, default=500)
    args = ap.parse_args()
    rows = baselines(read(args.train), read(args.test))
    with tempfile.TemporaryDirectory() as out:
        for config in args.config or [HERE.parent / "configs/messages.toml"]:
            rows.append(temper(args.temper, config, args.train, args.test, args.examples, out))
    pct = lambda r, k: f"{100 * r[k]:.1f}%" if k in r else ""
    print(f"\n{args.train.parent.name}: {len(read(args.train)[0])} train, {len(read(args.test)[0])} test\n")
    print("| model | clean | deepwordbug | textbugger | seconds (training) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        seconds = f"{r['seconds']:.1f}"
        if "train_seconds" in r:
            seconds += f" ({r['train_seconds']:.1f})"
        print(f"| {r['model']} | {pct(r, 'clean')} | {pct(r, 'deepwordbug')} | {pct(r, 'textbugger')} | {seconds} |")


if __name__ == "__main__":
    main()
