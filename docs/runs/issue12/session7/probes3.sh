set -x
cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
F=resources/models/eclip-shapes-vit-ft
mkdir -p /work/runs/remedy_topk1600
$E train --pooling masked_max --model eclip-tiny-vit64 --pretrained $F/avg.safetensors --guide $F/base/native.safetensors --scenes 8000 --objects 1-3 --steps 1600 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --tau topk --device cpu --out /work/runs/remedy_topk1600
$E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained /work/runs/remedy_topk1600/masked_max.safetensors --pooling masked_max --device cpu --json /work/runs/remedy_topk1600/eval_gen300.json
