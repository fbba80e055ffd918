cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
for pair in aug:/work/runs/aug/aug/native.safetensors plain300:/work/runs/aug/plain/native.safetensors div600:/work/runs/div/div/native.safetensors plain600:/work/runs/div/plain/native.safetensors seed1base:/work/runs/seed1/base/native.safetensors base:resources/models/eclip-shapes-vit-ft/base/native.safetensors; do
  n=${pair%%:*}; w=${pair#*:}
  $E eval --dataset gen2:300 --model eclip-tiny-vit64 --pretrained $w --pooling native --device cpu --json /work/runs/gen2/$n.json > /work/runs/gen2/$n.log 2>&1
done
