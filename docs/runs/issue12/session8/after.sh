set -x
cd /work/main
E=.venv/bin/eclip-desktop
F=DIR
R=RUN
while pgrep -f "out DIR" >/dev/null; do sleep 20; done
# cards: the finished family re-planned with --resume writes every card again (the chain behind --init)
bash $R/run.sh --resume > $R/resume.log 2>&1
export OMP_NUM_THREADS=1
( .venv/bin/python scripts/evaluate_family.py --family $F --gen 300 --gen2 300 --shapes 500 --methods itsm surgery --device cpu --json $R/evaluate_family.json > $R/evaluate_family.md 2> $R/evaluate_family.log ) &
( for d in gen:300 gen2:300 shapes:500; do $E eval --dataset $d --model eclip-tiny-vit64 --pretrained $F/base/native.safetensors --pooling native --device cpu --json $R/base_${d/:/}.json; done
  mkdir -p $R/remedy
  $E train --pooling masked_max --model eclip-tiny-vit64 --pretrained $F/avg.safetensors --guide $F/base/native.safetensors --scenes 8000 --objects 1-3 --steps 400 --batch-size 64 --lr 0.0005 --warmup 20 --unlock-blocks 3 --tau topk --device cpu --out $R/remedy
  $E eval --dataset gen:300 --model eclip-tiny-vit64 --pretrained $R/remedy/masked_max.safetensors --pooling masked_max --device cpu --json $R/remedy/eval_gen300.json
  $E eval --dataset shapes:100 --method convis --model $F --pooling native --pooling masked_max --device cpu --json $R/convis_shapes100.json
) > $R/side.log 2>&1 &
wait
echo ALL DONE
