#!/bin/bash
# usage (device machine, repo root): bash .gpu_issue27/gpu7.sh SECONDS WORKERS NAME:DIALECT:STEPS:BATCH:LR:READSTEPS:READLR:REPEATS:SEED[:KIND=N] ...
# Small model jobs trained at the same time on the one GPU (read stage first when READSTEPS > 0; the typing
# rows REPEATS more times; swift's seed SEED; the rows of KIND's answers N more times); each comes back under $OUT with its reading measure.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu_issue27/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi -L; nproc
python3 -c "import torch, transformers, swift; print(torch.__version__, transformers.__version__, torch.cuda.is_available())" || exit 1
P=/tmp/pack; rm -rf $P; mkdir -p $P && tar xJf .gpu_issue27/${DATA:-data.txz} -C $P || exit 1
python3 .gpu_issue27/init_weights.py $P/init-small | tee -a $OUT/init.txt
limit=$1; workers=$2; shift 2
start=$(date +%s)
for job in "$@"; do
  IFS=: read name dialect steps batch lr rsteps rlr repeats seed kind <<< "$job"
  extra=""; [ -n "$kind" ] && extra="--repeat-kind $kind"
  W=/tmp/fw-$name; rm -rf $W; mkdir -p $W; if [ "$dialect" = both ]; then ln -s $P/data $W/data; else python3 .gpu_issue27/split.py $P/data $W/data $dialect; fi; cp -r $P/init-small $W/model-init
  stages=train; [ "$rsteps" -gt 0 ] && stages=read,train
  ( timeout "$limit" python3 benchmarks/flywheel.py --out $W --stages $stages --torch-device cuda \
      --train-steps $steps --batch $batch --learning-rate $lr --reading-steps $rsteps --reading-learning-rate $rlr \
      --typing-repeats $repeats --training-seed $seed $extra --workers $workers --save-every 500 > $W/$name-flywheel.log 2>&1
    echo "$name exit $? after $(( $(date +%s) - start )) s" | tee -a $OUT/exits.txt ) &
done
wait
for job in "$@"; do
  IFS=: read name dialect steps batch lr rsteps rlr repeats seed kind <<< "$job"
  W=/tmp/fw-$name
  ( cd $W || exit
    if [ -f model-trained/config.json ]; then last=model-trained; else
      last=$(ls -d sft/v*/checkpoint-* 2>/dev/null | awk -F- '{print $NF, $0}' | sort -n | tail -1 | cut -d" " -f2); fi
    echo "$name kept: $last"
    # the reading measure along the way (each 1000 steps) and at the end
    for c in ${READ_CHECKPOINTS:+$(ls -d sft/v*/checkpoint-*000 2>/dev/null)} $last; do
      timeout 120 python3 $OLDPWD/benchmarks/flywheel_reading.py --model $W/$c --data $W/data 2>/dev/null | tail -1 | sed "s|^|$name $c reading: |" >> $W/reading.txt
    done
    for f in logs/*.log; do cp $f $(basename $f); done
    tar cf - flywheel.json *-command.json *.log reading.txt sft*/v*/logging.jsonl $last 2>/dev/null | gzip -1 > $OUT/$name.tgz  # one file a job: few files come back
    cat reading.txt >> $OUT/reading.txt ) &
done
wait
cat $OUT/reading.txt | cut -c1-220
ls -la $OUT
