set -x
cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
P=.venv/bin/python
while pgrep -f "out /work/runs/seed1" >/dev/null; do sleep 15; done
mkdir -p /work/runs/seed1_topk
$E train --pooling masked_max --model eclip-tiny-vit64 --pretrained /work/runs/seed1/base/native.safetensors --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --tau topk --seed 1 --data-seed 1 --device cpu --out /work/runs/seed1_topk
$P scripts/evaluate_family.py --family /work/runs/seed1 --gen 300 --shapes 500 --methods itsm --device cpu --json /work/runs/seed1_eval.json
$E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained /work/runs/seed1/base/native.safetensors --pooling native --device cpu --json /work/runs/seed1_base_gen300.json
$E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained /work/runs/seed1_topk/masked_max.safetensors --pooling masked_max --device cpu --json /work/runs/seed1_topk/eval_gen300.json
$E eval --dataset shapes:500 --model eclip-tiny-vit64 --pretrained /work/runs/seed1_topk/masked_max.safetensors --pooling masked_max --device cpu --json /work/runs/seed1_topk/eval_shapes500.json
