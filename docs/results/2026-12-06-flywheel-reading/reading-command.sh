# The reading runs of docs/finetune.md ("Reading the task's word"), as they were run (the night of 2026-12-06):
#   /tmp/copyexp/data/train.jsonl = benchmarks/flywheel_reading.typing_rows(/tmp/fw7/data), 1,199 rows, images linked
#   bash reading-command.sh /tmp/fw7/model-init /tmp/copyexp/scratch 400 0.001    -> reading-lr1e-3-logging.jsonl
#   bash reading-command.sh /tmp/fw7/model-init /tmp/copyexp/scratch3 2000 0.003  -> reading-lr3e-3-logging.jsonl, reading.jsonl
# /tmp/fw7 is `benchmarks/flywheel.py --out /tmp/fw7 --episodes-of click-test=1000 --episodes-of enter-text=1000`.
# flywheel.py --reading-steps N now issues the same command (benchmarks/flywheel_train.py).
set -e
export MAX_PIXELS=18816 MIN_PIXELS=3136 QWENVL_BBOX_FORMAT=new ROOT_IMAGE_DIR=/tmp/copyexp/data OMP_NUM_THREADS=1 PYTHONPATH=/work/main
MODEL=$1; OUTDIR=$2; STEPS=$3; LR=$4
python3 -c "from swift.cli.main import cli_main; cli_main()" sft --model $MODEL --template qwen2_5_vl_small_vocab --dataset /tmp/copyexp/data/train.jsonl --tuner_type full --freeze_vit false --torch_dtype float32 --per_device_train_batch_size 16 --gradient_accumulation_steps 1 --learning_rate $LR --max_length 4096 --logging_steps 10 --output_dir $OUTDIR --model_type qwen2_5_vl --custom_register_path /work/main/tests/support/swift_small_vocab.py --freeze_aligner false --lr_scheduler_type cosine --warmup_ratio 0.05 --weight_decay 0.01 --max_steps $STEPS --save_steps $STEPS --save_only_model true --check_model false --gradient_checkpointing false --dataloader_num_workers 0 --dataset_num_proc 1 --split_dataset_ratio 0 --report_to none --seed 42
