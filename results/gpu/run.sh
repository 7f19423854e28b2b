#!/bin/bash
# The GPU session that produced results/gpu/: the device report, then the
# NN-2 experiments of Tables II, III (Fashion-MNIST row) and I (Fashion-MNIST)
# with the paper's 50 trials, float32 matmuls, two runs at a time, until a
# deadline. Each run has its own workdir; the results of every finished run
# are packed into OUT/runs.tar as soon as it ends.
#
#   OUT=DIR [SECONDS=540] [TINY=1] bash results/gpu/run.sh
#
# Data: $ADADECAY_DATA_DIR (MNIST and Fashion-MNIST IDX files). TINY=1 shrinks
# everything to check the script on a CPU.
set -u
START=$(date +%s)
DEADLINE=$((START + ${SECONDS_BUDGET:-540}))
WORK=${WORK:-/dev/shm/adadecay-work}
LOGS=$WORK/logs
mkdir -p "$OUT" "$LOGS"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false
export JAX_DEFAULT_MATMUL_PRECISION=float32  # the paper's float32, not TF32
log() { echo "$(date -u +%H:%M:%S) +$(( $(date +%s) - START ))s $*" | tee -a "$OUT/progress.txt"; }

nvidia-smi -L 2>/dev/null | tee -a "$OUT/progress.txt"
python3 -c 'import jax, flax, optax, orbax.checkpoint as ocp, ml_collections
print("jax", jax.__version__, "flax", flax.__version__, "optax", optax.__version__,
      "orbax", ocp.__version__, jax.devices())' 2>&1 | tee -a "$OUT/progress.txt"

# 1. The device report, alone on the device (its timings), without its own
#    run (e): the runs below are that and more.
if [ -n "${TINY:-}" ]; then REPORT_ARGS=(--tiny); else REPORT_ARGS=(); fi
log "device report: start"
timeout $(( ${REPORT_SECONDS:-240} )) python3 benchmarks/device_report.py \
    --out "$OUT/report" --sections abcd "${REPORT_ARGS[@]}" > "$LOGS/report.log" 2>&1
rc=$?
log "device report: rc=$rc"
[ $rc -eq 0 ] || { tail -40 "$LOGS/report.log"; exit 1; }

# 2. The runs, in priority order: name|config|overrides.
COMMON="--config.checkpoint_every=25 --config.progress=False --config.download=False"
if [ -n "${TINY:-}" ]; then
  COMMON="$COMMON --config.trials=2 --config.epochs=2 --config.train_subset=2560 --config.test_subset=1000"
fi
JOBS=$(cat <<'JOBS'
nn2-fashion_mnist-sgd|configs/table2_theta.py|--config.datasets=('fashion_mnist',) --config.optimizers=('sgd',)
nn2-fashion_mnist-adadecay|configs/table2_theta.py|--config.datasets=('fashion_mnist',) --config.optimizers=('adadecay',)
nn2-fashion_mnist-randomized|configs/table2_theta.py|--config.datasets=('fashion_mnist',) --config.optimizers=('randomized',)
nn2-mnist-sgd|configs/table2_theta.py|--config.datasets=('mnist',) --config.optimizers=('sgd',)
nn2-mnist-adadecay|configs/table2_theta.py|--config.datasets=('mnist',) --config.optimizers=('adadecay',)
nn2-mnist-randomized|configs/table2_theta.py|--config.datasets=('mnist',) --config.optimizers=('randomized',)
nn2-fashion_mnist-rmsprop|configs/table3_shallow.py|--config.models=('nn2',) --config.datasets=('fashion_mnist',) --config.optimizers=('rmsprop',)
nn2-fashion_mnist-adam|configs/table3_shallow.py|--config.models=('nn2',) --config.datasets=('fashion_mnist',) --config.optimizers=('adam',)
nn2-fashion_mnist-accelerated_sgd|configs/table3_shallow.py|--config.models=('nn2',) --config.datasets=('fashion_mnist',) --config.optimizers=('accelerated_sgd',)
nn2-fashion_mnist-entropy_sgd|configs/table3_shallow.py|--config.models=('nn2',) --config.datasets=('fashion_mnist',) --config.optimizers=('entropy_sgd',)
nn2-fashion_mnist-alpha-1|configs/table1_alpha.py|--config.datasets=('fashion_mnist',) --config.optimizers=('adadecay(alpha=-1)',)
nn2-fashion_mnist-alpha1|configs/table1_alpha.py|--config.datasets=('fashion_mnist',) --config.optimizers=('adadecay(alpha=1)',)
nn2-fashion_mnist-alpha2|configs/table1_alpha.py|--config.datasets=('fashion_mnist',) --config.optimizers=('adadecay(alpha=2)',)
nn2-fashion_mnist-alpha8|configs/table1_alpha.py|--config.datasets=('fashion_mnist',) --config.optimizers=('adadecay(alpha=8)',)
JOBS
)

pack() {  # every finished run's files, one tar (replaced whole)
  ( flock 9
    cd "$WORK" && tar cf "$OUT/.runs.tar" --ignore-failed-read \
        logs $(ls -d */results.json */accuracy.csv */config.json */table.md 2>/dev/null) \
      && mv "$OUT/.runs.tar" "$OUT/runs.tar" ) 9> "$WORK/.lock"
}

run_job() {
  IFS='|' read -r name config overrides <<< "$1"
  left=$(( DEADLINE - $(date +%s) ))
  [ $left -gt 30 ] || { log "$name: skipped, ${left}s left"; return; }
  log "$name: start"
  # shellcheck disable=SC2086
  timeout $left python3 -m train --config "$config" --workdir "$WORK/$name" \
      $overrides $COMMON > "$LOGS/$name.log" 2>&1
  log "$name: rc=$?"
  pack
}
export -f run_job pack log
export START DEADLINE WORK OUT COMMON LOGS
echo "$JOBS" | xargs -d '\n' -P "${WORKERS:-2}" -I{} bash -c 'run_job "$@"' _ {}
log "all: done"
pack
