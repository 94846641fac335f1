#!/usr/bin/env python3
"""Single-thread throughput of AugLy and nlpaug on the ops Temper shares.

Usage:
    python3 bench/text_peers_bench.py [--ours FILE] [--seconds S]

Creates bench/.venv-text on first run and installs the pinned peers into it,
then re-runs itself inside. It builds the same 5,000 sentences as
`cargo bench -p augment --bench text_ops` (same word list, same LCG; the
checksum line must match) and prints strings per second per op. With
`--ours FILE` (the Markdown table that cargo bench printed) it adds Temper's
single-thread numbers and the ratios.
"""

import argparse
import time
from pathlib import Path

from _venv import reexec_in

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-text"
PEERS = ["augly==1.0.0", "nlpaug==1.1.11"]
N_SENTENCES = 5000
SHARE = 0.3  # Temper's severity 3 perturbs 30% of the words


def ensure_venv():
    reexec_in(VENV, PEERS, __file__)


def sentences():
    """The benchmark sentences: the same LCG and word list as the Rust bench."""
    words = [
        line
        for line in (HERE / "words.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    state = 0x5EED_0000_0000_0001
    mask = (1 << 64) - 1

    def nxt():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        return state >> 33

    out = []
    for _ in range(N_SENTENCES):
        n = 10 + nxt() % 21
        s = " ".join(words[nxt() % len(words)] for _ in range(n))
        out.append(s[0].upper() + s[1:] + ".")
    return out


def checksum(texts):
    h = 0xCBF29CE484222325
    for b in "\n".join(texts).encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & ((1 << 64) - 1)
    return h


def rate(fn, texts, seconds):
    """Strings per second of fn(text) over texts, stopping after `seconds`."""
    fn(texts[0])  # warm-up: model and table loading
    start = time.perf_counter()
    done = 0
    while True:
        for t in texts:
            fn(t)
            done += 1
            if done % 50 == 0 and time.perf_counter() - start > seconds:
                return done / (time.perf_counter() - start)
        if time.perf_counter() - start > seconds:
            return done / (time.perf_counter() - start)


def augly_ops():
    import augly.text as txt

    mapping = {"money": "cash", "free": "gratis", "win": "prevail"}
    return {
        "typo": lambda t: txt.simulate_typos([t], aug_word_p=SHARE, typo_type="keyboard"),
        "homoglyph": lambda t: txt.replace_similar_unicode_chars([t], aug_word_p=SHARE),
        "similar_unicode": lambda t: txt.replace_similar_unicode_chars([t], aug_word_p=SHARE),
        "leetspeak": lambda t: txt.replace_similar_chars([t], aug_word_p=SHARE),
        "zero_width": lambda t: txt.insert_zero_width_chars([t], granularity="word", cadence=1 / SHARE),
        "bidi": lambda t: txt.replace_bidirectional([t], granularity="word"),
        "fun_fonts": lambda t: txt.replace_fun_fonts([t], aug_p=SHARE, granularity="word"),
        "upside_down": lambda t: txt.replace_upside_down([t], aug_p=SHARE, granularity="word"),
        "change_case": lambda t: txt.change_case([t], granularity="word", cadence=1 / SHARE),
        "insert_punctuation": lambda t: txt.insert_punctuation_chars([t], granularity="word", cadence=1 / SHARE),
        "insert_whitespace": lambda t: txt.insert_whitespace_chars([t], granularity="word", cadence=1 / SHARE),
        "split_words": lambda t: txt.split_words([t], aug_word_p=SHARE),
        "merge_words": lambda t: txt.merge_words([t], aug_word_p=SHARE),
        "contractions": lambda t: txt.contractions([t], aug_p=SHARE),
        "replace_words": lambda t: txt.replace_words([t], mapping=mapping),
        "swap_gendered_words": lambda t: txt.swap_gendered_words([t], aug_word_p=SHARE),
    }


def nlpaug_ops():
    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw

    def char(action):
        return nac.RandomCharAug(action=action, aug_word_p=SHARE, aug_char_max=1, aug_char_min=1)

    augs = {
        "typo": nac.KeyboardAug(aug_word_p=SHARE, aug_char_max=1, aug_char_min=1),
        "ocr_error": nac.OcrAug(aug_word_p=SHARE, aug_char_max=1, aug_char_min=1),
        "char_insert": char("insert"),
        "char_substitute": char("substitute"),
        "char_swap": char("swap"),
        "char_delete": char("delete"),
        "word_swap": naw.RandomWordAug(action="swap", aug_p=SHARE),
        "word_delete": naw.RandomWordAug(action="delete", aug_p=SHARE),
        "word_crop": naw.RandomWordAug(action="crop", aug_p=SHARE),
        "split_words": naw.SplitAug(aug_p=SHARE),
    }
    return {name: (lambda a: lambda t: a.augment(t))(aug) for name, aug in augs.items()}


def read_ours(path):
    """Temper's single-thread rates from the cargo bench Markdown table."""
    ours = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1].replace(".", "").isdigit():
            ours[cells[0]] = float(cells[1])
    return ours


def main():
    ensure_venv()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", help="Markdown table printed by cargo bench --bench text_ops")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per op and library")
    args = parser.parse_args()

    import random

    import numpy

    random.seed(0)
    numpy.random.seed(0)
    texts = sentences()
    print(f"{len(texts)} sentences, checksum {checksum(texts):016x}, 1 thread", flush=True)
    peers = {"AugLy": augly_ops(), "nlpaug": nlpaug_ops()}
    names = sorted({n for ops in peers.values() for n in ops}, key=lambda n: (n not in peers["AugLy"], n))
    ours = read_ours(args.ours) if args.ours else {}
    print("\n| op | Temper | AugLy | nlpaug | Temper / AugLy | Temper / nlpaug |")
    print("|---|---:|---:|---:|---:|---:|")
    failed = {}
    for name in names:
        row = {}
        for lib, ops in peers.items():
            if name in ops:
                try:
                    row[lib] = rate(ops[name], texts, args.seconds)
                except Exception as e:  # a peer's bug: report it, keep going
                    failed[(name, lib)] = f"{type(e).__name__}: {e}"
        mine = ours.get(name)

        def fmt(v):
            return f"{v:,.0f}" if v is not None else "-"

        def peer(lib):
            return "fails" if (name, lib) in failed else fmt(row.get(lib))

        def ratio(lib):
            return f"{mine / row[lib]:,.0f}x" if mine and lib in row else "-"

        print(
            f"| {name} | {fmt(mine)} | {peer('AugLy')} | {peer('nlpaug')} "
            f"| {ratio('AugLy')} | {ratio('nlpaug')} |",
            flush=True,
        )
    for (name, lib), message in sorted(failed.items()):
        print(f"\n{lib} {name} fails: {message}")


if __name__ == "__main__":
    main()
