#!/bin/bash
# Several trainings of the fine-tuning loop at once on one lent GPU (the device tool's machine), each from the
# same exported rows and initial weights; one packed file per job comes back (the tool returns few files).
#
# On this machine, in the repo root (the kit folder is git-ignored through .git/info/exclude):
#   KIT=.gpu_flywheel; mkdir -p $KIT/whl
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 ... -d $KIT/whl NAME==VERSION
#     (docs/finetune.md, "Resuming, a GPU, the kept model", lists the wheels the machine lacks: with
#     modelscope_hub 0.5.1 that includes cryptography (its absence failed a call) and what it declares: cffi, pycparser)
#   tar --sort=name -cf - -C W data model-init | xz -9 -T2 > $KIT/data.txz   (W: a flywheel folder after --stages export,build)
#   The wheels and the data together outgrow the device's 64 MiB a call; unpacked and packed with xz, the wheels
#   take 10 MB instead of 17 (a wheel unpacked is what pip --target installs; none of these puts modules in .data):
#   S=$(mktemp -d); for w in $KIT/whl/*.whl; do unzip -q -o $w -d $S; done
#   tar --sort=name -cf - -C $S . | xz -9e -T2 > $KIT/site.txz
# On the device (carry $KIT/site.txz, or $KIT/whl, and $KIT/data.txz):
#   bash benchmarks/flywheel_gpu.sh SECONDS NAME:STEPS:BATCH:LR:REPEATS:SEED[:READSTEPS:READLR[:INIT]] ...
# Each job runs `benchmarks/flywheel.py --stages train --torch-device cuda` in its own folder
# (REPEATS: --typing-repeats; SEED: --training-seed; READSTEPS > 0: the reading stage first, --stages
# read,train with --reading-steps and --reading-learning-rate READLR; INIT > 0: --init-seed INIT, the initial
# weights built on the device, READSTEPS 0 for none) and comes back as $OUT/NAME.tgz with the trained
# model, flywheel.json, the train command, its log and ms-swift's logging.jsonl (and, after a reading stage, its
# model's reading measure: reading-stage.txt); then, here, unpack it
# into a copy of W (model-trained/) and run --stages reference,eval,table.
# Time a call: on an H100 with three jobs at once (2026-12-07), a build 13-17 s, a reading stage 0.083 s a step
# and ~40 s to start, a main stage 0.076 s a step and ~65 s to start and exit: 2,000 + 4,000 steps came to
# ~595 s a job, and the 560-s limit stopped all three after their training's end, before the model was copied
# out (it saved its only checkpoint at the end, which is what model-trained/ copies); 1,000 + 4,000 steps take ~510 s.
# Jobs now save one every SAVE_EVERY steps (default 500), and a job its limit stops sends back its last
# checkpoint (sft/v*/checkpoint-N) instead of model-trained/.
# DEVICE=cpu OUT=folder runs the same jobs on this machine's CPU (a check of the script at a few steps).
# READING_MEASURE=0 skips the reading stage's measure on the device (~100 s of a call's CPU after the trainings);
# the trained model's reading is measured here with the table either way.
# FLAGS: more of flywheel.py's training options, the same for every job (e.g. FLAGS="--repeat-kind scroll=4").
# WORKERS (default 3): ms-swift's data loader processes per job. The model is tiny, so a step's time is
# the host's: with none (rows decoded and encoded in the training process, four jobs at 16 threads each on
# 16 cores) a step took 3 s on an H100 instead of 0.1 s.
set -u
KIT=${KIT:-.gpu_flywheel}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-3}
SAVE_EVERY=${SAVE_EVERY:-500}
FLAGS=${FLAGS:-}
# site.txz (the wheels unpacked, as pip --target would lay them out) is the smaller form of the same packages.
if [ -f $KIT/site.txz ]; then
  mkdir -p /tmp/site && tar xJf $KIT/site.txz -C /tmp/site || exit 1
elif ls $KIT/whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $KIT/whl/*.whl || exit 1
fi
REPO=$PWD
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
[ "$DEVICE" = cuda ] && nvidia-smi -L; nproc
python3 -c "import torch, transformers, swift; print(torch.__version__, transformers.__version__, torch.cuda.is_available())" || exit 1
P=/tmp/pack; rm -rf $P; mkdir -p $P && tar xJf $KIT/data.txz -C $P || exit 1
limit=$1; shift
start=$(date +%s)
for job in "$@"; do
  IFS=: read name steps batch lr repeats seed rsteps rlr init <<< "$job"
  W=/tmp/fw-$name; rm -rf $W; mkdir -p $W; ln -s $P/data $W/data
  init=${init:-0}
  stages=train; reading=""
  # INIT > 0: another start, the build stage run here on the kit's rows (the kit holds seed 0's weights alone:
  # more would outgrow a call); its weights' sha256 comes back to compare with the same build on the eval's side.
  if [ "$init" -gt 0 ]; then stages=build,$stages; else cp -r $P/model-init $W/model-init; fi
  if [ "${rsteps:-0}" -gt 0 ]; then stages=${stages/train/read,train}; reading="--reading-steps $rsteps --reading-learning-rate ${rlr:-0.003}"; fi
  # The cores shared out among the jobs' training processes (their loaders' processes run beside them).
  ( OMP_NUM_THREADS=$(( ($(nproc) + $# - 1) / $# )) timeout "$limit" python3 benchmarks/flywheel.py --out $W \
      --stages $stages $reading --init-seed $init --torch-device $DEVICE --workers $WORKERS --save-every $SAVE_EVERY --train-steps $steps --batch $batch --learning-rate $lr --typing-repeats $repeats --training-seed $seed $FLAGS \
      > $W/$name-flywheel.log 2>&1
    echo "$name exit $? after $(( $(date +%s) - start )) s" | tee -a $OUT/exits.txt ) &
done
wait
for job in "$@"; do
  IFS=: read name _ <<< "$job"
  ( cd /tmp/fw-$name || exit
    for f in logs/*.log; do [ -f "$f" ] && cp "$f" "$(basename "$f")"; done
    # Whether the reading stage's model reads the asked word yet (the trained model's measure comes with the table).
    if [ "${READING_MEASURE:-1}" != 0 ] && [ -f model-reading/config.json ]; then
      python3 $REPO/benchmarks/flywheel_reading.py --model model-reading --data data > reading-stage.txt 2>&1
    fi
    [ -f model-init/model.safetensors ] && sha256sum model-init/model.safetensors > init-sha256.txt
    # A job its limit stopped (exit 124) has no model-trained/, but ms-swift saved a checkpoint every SAVE_EVERY
    # steps: its last one comes back instead, under its own step's name, not as the finished model.
    last=""
    if [ ! -f model-trained/config.json ]; then
      last=$(ls -d sft/v*/checkpoint-* 2>/dev/null | awk -F'checkpoint-' '{print $NF, $0}' | sort -n | tail -1 | cut -d' ' -f2)
      [ -n "$last" ] && echo "$name: no model-trained; its last checkpoint is $last" | tee -a $OUT/exits.txt
    fi
    tar cf - flywheel.json *-command.json *.log reading-stage.txt init-sha256.txt sft*/v*/logging.jsonl model-trained $last 2>/dev/null \
      | gzip -1 > $OUT/$name.tgz ) &
done
wait
ls -la $OUT
