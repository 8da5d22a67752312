#!/usr/bin/env bash
# Distributed training: tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args ...]
# One machine, N processes (GPUs with nccl, or CPU processes with gloo). Multi-node: set NNODES,
# NODE_RANK and MASTER_ADDR (e.g. NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 tools/dist_train.sh ...).
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec python -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --nproc_per_node="$NPROC" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
