set -x
cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
B=resources/models/eclip-shapes-vit-ft/base/native.safetensors
while pgrep -f probes3.sh >/dev/null; do sleep 20; done
for N in 100 200 800; do
  D=/work/runs/curve_topk/$N; mkdir -p $D
  $E train --pooling masked_max --model eclip-tiny-vit64 --pretrained $B --scenes 8000 --objects 1-3 --steps $N --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --tau topk --device cpu --out $D
  $E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained $D/masked_max.safetensors --pooling masked_max --device cpu --json $D/eval_gen300.json
done
