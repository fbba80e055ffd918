"""Probe: ITSM of the default masked-max sibling on gen:300 at larger encoder inputs (more tokens)."""
import sys

from eclip_desktop.core.evaluation.evaluate import evaluate_maps, gen_items
from eclip_desktop.core.explain import engine as engine_mod
from eclip_desktop.core.shapes import class_names

which = sys.argv[1] if len(sys.argv) > 1 else "masked_max"
eng = engine_mod.engines_for("eclip-shapes-vit-ft", None, [which], "cpu")[which]
orig = eng.analyse
for size in (64, 96, 128):
    eng.analyse = lambda images, input_size=None, batch_size=16, _s=size: orig(images, _s, batch_size=batch_size)
    r = evaluate_maps(eng, gen_items(300, 2000), class_names(), "itsm")
    print(which, size, {k: round(v, 3) for k, v in r.items() if k in ("miou_fg", "msc", "pointing", "bg_preferred")}, flush=True)
