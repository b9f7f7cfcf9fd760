#!/usr/bin/env bash
# Train a large teacher network on a GPU machine and bring back its soft targets, in one prepared command
# (docs/MODEL.md, "A GPU teacher": why soft targets and not a checkpoint, and how to run it through the device tool).
#
#   bash scripts/gpu/teacher.sh DATA OUT [MINUTES]
#
# DATA     packed training faces (scripts/fer/packed.py, .npz.xz: ../shared does not travel to a device machine)
# OUT      folder for teacher-targets.npz (train.py --teachers reads it), teacher-history.json and teacher.log
# MINUTES  training budget (default 7). A one-epoch probe measures the speed and the run plans as many epochs as fit
#          in 90% of it (at most MAX_EPOCHS, default 300), so the cosine schedule ends inside the budget; train.py's
#          --stop-after stops it cleanly if the estimate was short, and the best epoch so far is used.
# Env: PYTHON (python3), ARCH (vgg), LR (0.01), MAX_EPOCHS (300), EXTRA (more train.py arguments, e.g. --limit 300).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash scripts/gpu/teacher.sh DATA OUT [MINUTES]" >&2
  exit 2
fi
DATA=$1
OUT=$2
MINUTES=${3:-7}
PY=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
LOG="$OUT/teacher.log"
# shellcheck disable=SC2206 # EXTRA is a list of arguments
common=(--data "$DATA" --arch "${ARCH:-vgg}" --optimizer sgd --lr "${LR:-0.01}" --augment full --class-weight-power 0.3
        --ema 0.999 --batch 128 ${EXTRA:-})
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' | tee "$LOG"

"$PY" "$HERE/train.py" "${common[@]}" --run "$WORK/probe" --epochs 1 >> "$LOG" 2>&1
EPOCHS=$("$PY" - "$WORK/probe/history.json" "$MINUTES" "${MAX_EPOCHS:-300}" <<'PY'
import json, sys
seconds = json.load(open(sys.argv[1]))[-1]["seconds"]
print(max(1, min(int(sys.argv[3]), int(float(sys.argv[2]) * 60 * 0.9 / seconds))))
PY
)
echo "probe epoch done; planning $EPOCHS epochs in $MINUTES minutes" | tee -a "$LOG"

"$PY" "$HERE/train.py" "${common[@]}" --run "$WORK/teacher" --epochs "$EPOCHS" --stop-after "$MINUTES" >> "$LOG" 2>&1
grep '^epoch' "$LOG" | tail -3
"$PY" "$HERE/soft_targets.py" --teachers "$WORK/teacher/checkpoint.pt" --data "$DATA" --out "$OUT/teacher-targets.npz" | tee -a "$LOG"
cp "$WORK/teacher/history.json" "$OUT/teacher-history.json"
