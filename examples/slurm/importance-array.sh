#!/bin/bash
# Measure a LayerMerge importance table on many machines with a Slurm job
# array: one shard of entry ids per array task, then a dependent job that
# merges the shards (docs/shards.md).
#
#   importance-array.sh submit GRAPH.yaml OUTDIR [TASKS]  submit the array + merge job
#   importance-array.sh local  GRAPH.yaml OUTDIR [TASKS]  run every task here, in turn
#   (the array tasks call it as `worker`, the last job as `merge`)
#
# Environment:
#   LAYERMERGE   the layermerge command (default: layermerge on PATH)
#   TRAIN_CMD    your training loop, run as `$TRAIN_CMD PLANS.yaml OUT.csv`:
#                for every plan document in PLANS.yaml (one per entry) apply
#                the plan, fine-tune briefly, evaluate, and write one row of
#                the authors' importance CSV
#                  id,st,end,ker,str,is_dw,conv_comb,importance
#                with the top-1 accuracy in percent as `importance`. Append
#                and flush a row per entry: a restarted task skips the ids
#                already in OUT.csv.
#                Unset: a stand-in, `layermerge importance proxy` with
#                random weights (no data, no fine-tune; for trying the
#                pipeline only).
#   SBATCH_ARGS  extra sbatch options (partition, GPUs, time, account...)
set -euo pipefail

lm=${LAYERMERGE:-layermerge}
mode=${1:?usage: importance-array.sh submit|local|worker|merge GRAPH.yaml OUTDIR [TASKS]}
graph=$(readlink -f "${2:?graph file}")
out=${3:?output directory}
tasks=${4:-8}
self=$(readlink -f "$0")
mkdir -p "$out"
out=$(readlink -f "$out")

# Entry ids are stable for a graph (their enumeration index), so shard i
# of T covers ids [i*n/T, (i+1)*n/T) on every machine.
entry_count() { "$lm" entries "$graph" | tail -n +2 | wc -l; }
shard_range() { # task index -> "lo:hi"
    local n; n=$(entry_count)
    echo "$(( $1 * n / tasks )):$(( ($1 + 1) * n / tasks ))"
}

worker() { # one array task: plans -> measurements -> a shard table
    local i=$1 range
    range=$(shard_range "$i")
    local plans="$out/plans_$i.yaml" csv="$out/shard_$i.csv" shard="$out/shard_$i.yaml"
    echo "task $i: entries $range"
    if [ -n "${TRAIN_CMD:-}" ]; then
        "$lm" importance shard "$graph" --range "$range" -o "$plans"
        $TRAIN_CMD "$plans" "$csv"
        # The import matches each row to its entry by key; a row that is
        # no entry of this graph fails, naming its line. Written atomically.
        "$lm" table import --kind importance --metric accuracy \
            --graph "$graph" "$csv" -o "$shard"
    else
        # Saves after every entry and resumes from $shard when restarted.
        "$lm" importance proxy "$graph" --random-weights 1 --size 64 \
            --range "$range" -o "$shard"
    fi
}

merge() { # coverage, duplicate and conflict checks happen here
    local shards=()
    for ((i = 0; i < tasks; i++)); do shards+=("$out/shard_$i.yaml"); done
    "$lm" table merge --graph "$graph" "${shards[@]}" -o "$out/importance.yaml"
    "$lm" table show "$out/importance.yaml"
}

case $mode in
submit)
    # shellcheck disable=SC2086
    job=$(sbatch --parsable --array=0-$((tasks - 1)) ${SBATCH_ARGS:-} \
        --job-name=lm-importance --output="$out/task_%a.log" \
        --export=ALL --wrap="'$self' worker '$graph' '$out' $tasks")
    sbatch --parsable --dependency="afterok:${job%%;*}" --job-name=lm-merge \
        --output="$out/merge.log" --export=ALL \
        --wrap="'$self' merge '$graph' '$out' $tasks"
    echo "submitted array job $job ($tasks tasks) and its merge job"
    ;;
worker) worker "${SLURM_ARRAY_TASK_ID:?worker runs inside a Slurm array task}" ;;
local)
    for ((i = 0; i < tasks; i++)); do worker "$i"; done
    merge
    ;;
merge) merge ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
