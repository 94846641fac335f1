#!/usr/bin/env bash
# The whole-run benchmark: `temper train` on configs/digits-augment.toml
# against bench/e2e/torch_digits.py (the PyTorch + Albumentations script that
# does the same work), on one table of PNG paths made with the bundled
# generator, one after the other, ROUNDS times alternating which goes first.
#
# Usage: bench/e2e/run.sh TEMPER_BINARY [TRAIN=60000] [TEST=10000] [ROUNDS=1]
# Data goes to ${BENCH_DATA:-$HOME/.cache/temper-bench}/digits-<train>-<test>
# (made once); PyTorch comes from bench/.venv-torch (torch_cnn_bench.py makes it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
temper="$(realpath "$1")"
train="${2:-60000}"
test="${3:-10000}"
rounds="${4:-1}"
threads="${THREADS:-$(nproc)}"
data="${BENCH_DATA:-$HOME/.cache/temper-bench}/digits-$train-$test"
py="$root/bench/.venv-torch/bin/python"
[ -x "$py" ] || python3 "$root/bench/torch_cnn_bench.py" --steps 1 --batch 8 >/dev/null
"$py" -c 'import albumentations' 2>/dev/null || "$py" -m pip install -q albumentations==2.0.8

if [ ! -f "$data/digits/test.csv" ]; then
  "$temper" synth --out "$data" --only digits --train "$train" --test "$test" --layout csv >&2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed -e "s#^train = .*#train = \"$data/digits/train.csv\"#" -e "s#^test = .*#test = \"$data/digits/test.csv\"#" \
  -e 's#^device = .*#device = "cpu"#' -e 's#^modality = "image"#modality = "image"\ninput-column = "path"#' \
  "$root/configs/digits-augment.toml" > "$work/digits-augment.toml"

run_temper() {
  local out="$work/runs-$1"
  /usr/bin/time -f '%M %e' -o "$work/rss" env RAYON_NUM_THREADS="$threads" \
    "$temper" train --config "$work/digits-augment.toml" --quiet --out "$out" 2>/dev/null >/dev/null
  local dir
  dir="$(dirname "$(find "$out" -name metrics.json | head -1)")"
  python3 - "$dir" $(cat "$work/rss") <<'EOF'
import json, sys
# Wall time of the whole command: loading, training, evaluating, reports.
d, rss, total = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
events = [json.loads(l) for l in open(f"{d}/log.jsonl")]
m = json.load(open(f"{d}/metrics.json"))
train = sum(e["seconds"] for e in events if e["event"] == "epoch")
corr = next(e["seconds"] for e in events if e["event"] == "evaluated")
attack = sum(e["seconds"] for e in events if e["event"] == "attacked")
print(json.dumps({"seconds": {"load_and_reports": total - train - corr - attack, "train": train, "corruption": corr,
  "attack": attack, "wall": total}, "peak_rss_mib": rss / 1024, "clean_accuracy": m["clean_accuracy"],
  "mean_corruption_accuracy": m["mean_corruption_accuracy"]}))
EOF
}

run_torch() {
  /usr/bin/time -f '%e' -o "$work/wall" \
    "$py" "$here/torch_digits.py" "$data/digits/train.csv" "$data/digits/test.csv" --threads "$threads" > "$work/torch.json"
  # Wall time of the whole command, interpreter start and imports included.
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["seconds"]["wall"]=float(open(sys.argv[2]).read().split()[-1]); print(json.dumps(r))' \
    "$work/torch.json" "$work/wall"
}

for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="temper torch"; else order="torch temper"; fi
  for who in $order; do
    result="$(run_"$who" "$r")"
    echo "{\"round\": $r, \"who\": \"$who\", \"result\": $result}"
  done
done
