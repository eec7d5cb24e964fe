#!/usr/bin/env bash
# The one prepared command for the GPU machine (issue 17). From the repository root, with .gpu-bundle carried:
#     bash bench/gpu_check.sh          (everything, about 6 minutes on an H100)
#     bash bench/gpu_check.sh quick    (the sweep and the headline only, about 4 minutes)
# Each step has its own time limit and the script goes on when one fails; outputs land in $OUT
# (the run tool's folder; /tmp/vigil-gpu-out elsewhere).
OUT=${OUT:-/tmp/vigil-gpu-out}
mkdir -p "$OUT"

step() {  # step NAME LIMIT_S COMMAND...: run with a time limit, keep its output, report its status
    local name=$1 limit=$2 started=$SECONDS rc
    shift 2
    echo "=== $name (limit ${limit} s)"
    timeout -k 10 "$limit" "$@" > "$OUT/$name.txt" 2>&1
    rc=$?
    grep -v -e "token" -e "^\s*warnings.warn" "$OUT/$name.txt" | tail -n 60
    echo "=== $name: exit $rc after $((SECONDS - started)) s"
}

step setup 120 bash .gpu-bundle/setup.sh
# shellcheck disable=SC1091
. .gpu-bundle/env
nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv
python3 -c "import torch, ray, pydantic; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| ray', ray.__version__, '| pydantic', pydantic.__version__)"

# the steps that matter most first: if time runs short, the diagnostics at the end are what is lost
# nvidia-smi samples the GPU's utilisation every 200 ms during the bench: a second view of the idle share.
# The pool's GPU knobs first (shards at once per actor, shards per call, how scores return) on the MLP at 16M rows:
# the sweep picks the configuration with the best worst-precision ratio (the default unless another beats it by 0.03),
# and the headline bench runs both models at that configuration (the defaults if the sweep failed).
step sweep 200 python3 bench/gpu_sweep.py --rows 16000000 --precisions fp32 bf16 --repeats 3 --best-config "$OUT/best.json"
[ -s "$OUT/best.json" ] || echo '{}' > "$OUT/best.json"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -lms 200 > "$OUT/smi.csv" 2>&1 &
smi=$!
step cuda 270 python3 bench/inference.py --device cuda --precisions fp32 bf16 --repeats 3 --pool-config "$OUT/best.json"
kill "$smi" 2>/dev/null
if [ "${1:-}" = quick ]; then
    echo "=== quick: parity, host_read and cpu skipped"
else
step parity 90 python3 bench/precision_parity.py --device cuda --rows 200000
# the host side alone: rows into pinned buffers from an array, a memory map, the lanes' threaded copy (no GPU work)
step host_read 90 python3 bench/host_read.py --rows 4000000 --threads 8
step cpu 150 python3 bench/inference.py --repeats 3
fi
echo "=== summary"
grep -h -e "ratio_vs" -e "ratio_at" -e "precision_parity" -e "summary" -e "pool per call" -e "tuned per call" -e "best ratio" -e "best config" -e "pool knobs" "$OUT"/cuda.txt "$OUT"/sweep.txt "$OUT"/parity.txt "$OUT"/cpu.txt 2>/dev/null
