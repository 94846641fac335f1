#!/usr/bin/env bash
# Runs Temper's generated Slurm pipeline on a real single-node Slurm cluster
# brought up on this machine from Debian's packages (slurmctld, slurmd,
# munge), then checks it against runs made by hand:
#   - a config with a 3-point sweep and a 3-way sharded evaluation goes
#     through `temper jobs --scheduler slurm --eval-shards 3` (train array,
#     then the 9-task eval array, then the merge array, by afterok);
#   - each merged run's metrics.json must equal `temper train --sweep-index
#     N` run by hand, but for wall times and run ids;
#   - a 3-shard evaluation of one saved run under Slurm must equal one
#     `temper eval` byte for byte; its time against the unsharded one is
#     printed.
# The daemons run from a private config and state folder and are stopped
# on exit. Usage: scripts/slurm-test.sh <temper binary>
set -euo pipefail

temper=$(realpath "${1:?usage: scripts/slurm-test.sh <temper binary>}")
here=$(realpath "$(dirname "$0")")
started=$(date +%s)

# shellcheck source=scripts/slurm-up.sh
source "$here/slurm-up.sh"
"$here/cluster-fixture.sh"

# 1. The pipeline: a 3-point sweep, each point evaluated in 3 shards.
t0=$(date +%s)
temper jobs --scheduler slurm sweep.toml --out "$work/cluster" --eval-shards 3 --cpus 1 --memory 1G > submit.sh
submitted=$(bash submit.sh)
echo "slurm-test: $submitted"
merge_job=$(echo "$submitted" | sed -E 's/.*merge ([0-9]+).*/\1/')
wait_for "$merge_job"
echo "slurm-test: sweep pipeline (3 trains, 9 eval shards, 3 merges) took $(( $(date +%s) - t0 )) s under Slurm"
for i in 0 1 2; do
    temper train --config sweep.toml --sweep-index "$i" --out "$work/by-hand" --quiet 2>"$work/by-hand.log" \
        || { cat "$work/by-hand.log" >&2; exit 1; }
done
python3 "$here/same_runs.py" "$work/cluster" "$work/by-hand" cluster-digits-0 cluster-digits-1 cluster-digits-2

# 2. A 3-shard evaluation of one saved run, against one unsharded evaluation.
run=$(ls -d "$work"/by-hand/cluster-digits-0/2*)
t0=$(date +%s%N)
temper eval --run "$run" --quiet 2>/dev/null
ms_whole=$(( ($(date +%s%N) - t0) / 1000000 ))
cat > eval.sh <<EOF
#!/bin/bash
#SBATCH --array=0-2
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/eval-%A_%a.log
exec temper eval --run $run --shard auto/3 --quiet
EOF
t0=$(date +%s%N)
eval_job=$(sbatch --parsable eval.sh)
merge_job=$(sbatch --parsable --dependency=afterok:"$eval_job" --output="$work/merge-%j.log" \
    --wrap="exec temper merge $run --quiet")
wait_for "$merge_job"
ms_sharded=$(( ($(date +%s%N) - t0) / 1000000 ))
evals=("$run"/evals/*.json)
[ "${#evals[@]}" -eq 2 ] || { echo "slurm-test: expected 2 evaluations, found ${evals[*]}" >&2; cat "$work"/merge-*.log >&2; exit 1; }
cmp "${evals[0]}" "${evals[1]}"
echo "slurm-test: 3-shard evaluation under Slurm ${ms_sharded} ms (submit to merged), unsharded ${ms_whole} ms; merged file identical"
echo "slurm-test: passed in $(( $(date +%s) - started )) s"
