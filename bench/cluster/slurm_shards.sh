#!/usr/bin/env bash
# The cost of sharding an evaluation through Slurm: trains <config> once,
# then evaluates the saved run unsharded and as an N-task Slurm array
# followed by a merge job, alternately, <rounds> times; checks each merged
# file is byte-identical to the unsharded one and prints the wall times.
# Brings up the same private single-node Slurm as scripts/slurm-test.sh.
# Usage: bench/cluster/slurm_shards.sh <temper binary> <config> [shards=3] [rounds=3]
set -euo pipefail

temper=$(realpath "${1:?usage: bench/cluster/slurm_shards.sh <temper binary> <config> [shards] [rounds]}")
config=$(realpath "${2:?config}")
shards=${3:-3}
rounds=${4:-3}
here=$(realpath "$(dirname "$0")/../../scripts")
started=$(date +%s)
# shellcheck source=scripts/slurm-up.sh
source "$here/slurm-up.sh"

cpus=$(nproc)
t0=$(date +%s)
temper train --config "$config" --out "$work/runs" --quiet 2>"$work/train.log" || { cat "$work/train.log" >&2; exit 1; }
echo "trained in $(( $(date +%s) - t0 )) s"
run=$(ls -d "$work"/runs/*/2* | head -n 1)
cat > eval.sh <<SH
#!/bin/bash
#SBATCH --array=0-$((shards - 1))
#SBATCH --cpus-per-task=$(( cpus / shards > 0 ? cpus / shards : 1 ))
#SBATCH --output=$work/eval-%A_%a.log
export RAYON_NUM_THREADS=\$SLURM_CPUS_PER_TASK
exec temper eval --run $run --shard auto/$shards --quiet
SH
echo "round,unsharded_s,slurm_${shards}_shards_s"
for r in $(seq "$rounds"); do
    t0=$(date +%s%N)
    temper eval --run "$run" --quiet 2>/dev/null
    whole=$(( ($(date +%s%N) - t0) / 1000000 ))
    rm -rf "$run/shards"
    t0=$(date +%s%N)
    eval_job=$(sbatch --parsable eval.sh)
    merge_job=$(sbatch --parsable --dependency=afterok:"$eval_job" --output="$work/merge-%j.log" \
        --wrap="exec temper merge $run --quiet")
    wait_for "$merge_job"
    sharded=$(( ($(date +%s%N) - t0) / 1000000 ))
    mapfile -t evals < <(ls -t "$run"/evals/*.json)
    cmp "${evals[0]}" "${evals[1]}"
    echo "$r,$(( whole / 1000 )).$(( whole % 1000 / 100 )),$(( sharded / 1000 )).$(( sharded % 1000 / 100 ))"
done
