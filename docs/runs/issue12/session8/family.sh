cd /work/main
export OMP_NUM_THREADS=1
.venv/bin/eclip-desktop train --pooling all --model eclip-tiny-vit64 --base-pooling native --base-steps 4000 \
  --init docs/runs/issue12/session7/fresh/native.safetensors --scenes 150000 --objects 1-3 \
  --batch-size 128 --lr 0.0003 --warmup 50 --schedule cosine --seed 3 --data-seed 21 --tau topk \
  --finetune-steps 400 --finetune-lr 0.0005 --finetune-batch-size 64 --finetune-scenes 8000 --finetune-objects 1-3 \
  --finetune-warmup 20 --unlock-blocks 3 --eval-every 500 --checkpoint-every 250 --device cpu --out DIR "$@"
