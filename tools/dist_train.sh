#!/usr/bin/env bash
# Distributed training: tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args ...]  (PYTHON=... picks the interpreter)
# One machine, N processes (GPUs with nccl, or CPU processes with gloo). Multi-node (static rendezvous, every
# machine started): set NNODES, NODE_RANK and MASTER_ADDR (e.g. NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1
# tools/dist_train.sh ...). MAX_RESTARTS=N lets torchrun restart the workers N times; they resume by themselves.
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$NPROC" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" --max-restarts="${MAX_RESTARTS:-0}" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
