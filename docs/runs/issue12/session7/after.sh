set -x
cd /work/main
export OMP_NUM_THREADS=1
E=.venv/bin/eclip-desktop
P=.venv/bin/python
# the default family with its new masked-max sibling (writes metrics into the shipped cards)
while pgrep -f curve.sh >/dev/null; do sleep 15; done
$P scripts/evaluate_family.py --family eclip-shapes-vit-ft --gen 300 --shapes 500 --methods itsm surgery --device cpu --json /work/runs/default_eval.json
$E eval --dataset shapes:100 --method convis --model eclip-shapes-vit-ft --pooling masked_max --device cpu --json /work/runs/convis_mm.json
