"""Shapes World generator and writers: determinism, exact masks, captions, VOC output, argument checks."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from eclip_desktop.core.shapes import (
    CAPTION_KINDS,
    COLORS,
    caption_gloss,
    class_names,
    describes,
    generate_scene,
    gloss_for,
    hypernym_paths,
    is_a,
    iter_scenes,
    prompt_for,
    synset_for,
)
from eclip_desktop.core.shapes.writer import voc_palette, write_captions, write_voc


def _box_of(mask):
    ys, xs = np.nonzero(mask)
    return (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


# ----------------------------------------------------------------------------- concepts


def test_concepts_come_from_wordnet():
    names = class_names()
    assert len(names) >= 8 and {"circle", "square", "triangle"} <= set(names)
    assert synset_for("circle") == "circle.n.01"
    assert synset_for("pentagon") == "pentagon.n.03"  # not the building
    assert gloss_for("polygon.n.01") == "a closed plane figure bounded by straight sides"
    assert gloss_for("circle.n.01").startswith("ellipse in which the two axes are of equal length")
    square_paths = hypernym_paths("square.n.01")
    assert len(square_paths) == 2 and all(p[-1] == "entity.n.01" for p in square_paths)
    assert any(p[0] == "rectangle.n.01" for p in square_paths)
    assert is_a("circle.n.01", "ellipse.n.01") and is_a("triangle.n.01", "polygon.n.01")
    assert not is_a("circle.n.01", "polygon.n.01") and not is_a("ellipse.n.01", "circle.n.01")
    # a star is drawn with straight edges: the polygon gloss is true of it, outside WordNet's tree
    assert describes("polygon.n.01", "star") and not is_a("star.n.05", "polygon.n.01")
    assert describes("rectangle.n.01", "square") and not describes("rectangle.n.01", "circle")
    # every shape is a plane figure: guards against a wrong sense in concepts.json
    assert all(is_a(synset_for(n), "plane_figure.n.01") for n in names)


def test_prompts():
    assert prompt_for("circle", "red") == "a photo of a red circle."
    assert prompt_for("circle") == "a photo of a circle."
    assert prompt_for("ellipse") == "a photo of an ellipse."
    assert prompt_for("square", "orange") == "a photo of an orange square."
    assert caption_gloss("square.n.01").startswith("a plane rectangle")  # "(geometry) " dropped
    with pytest.raises(ValueError, match="unknown shape"):
        prompt_for("dodecahedron")
    with pytest.raises(ValueError, match="unknown colour"):
        prompt_for("circle", "mauve")
    with pytest.raises(ValueError, match="not in the Shapes World"):
        gloss_for("dog.n.01")


# ----------------------------------------------------------------------------- scenes


def test_deterministic_for_seed_and_index_whatever_the_call_order():
    a = generate_scene(5, 17)
    generate_scene(5, 3)
    generate_scene(6, 17)
    b = list(iter_scenes(5, 15, 3))[2]
    assert b.index == 17
    assert np.array_equal(a.image, b.image)
    assert a.caption == b.caption and a.caption_target == b.caption_target
    assert len(a.objects) == len(b.objects)
    for oa, ob in zip(a.objects, b.objects):
        assert np.array_equal(oa.mask, ob.mask) and oa.box == ob.box and oa.shape == ob.shape
    assert not np.array_equal(a.image, generate_scene(5, 18).image)
    assert not np.array_equal(a.image, generate_scene(6, 17).image)


def test_caption_kind_and_background_leave_the_objects_unchanged():
    a = generate_scene(2, 9, caption_kinds="template", background="plain")
    b = generate_scene(2, 9, caption_kinds="gloss", background="cluttered")
    assert [o.shape for o in a.objects] == [o.shape for o in b.objects]
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(a.objects, b.objects))
    assert a.caption != b.caption


def test_masks_are_exact_disjoint_and_boxed():
    for scene in iter_scenes(11, 0, 40, n_objects=(1, 4), noise=0):
        h, w = scene.image.shape[:2]
        cover = np.zeros((h, w), int)
        for obj in scene.objects:
            assert obj.mask.dtype == bool and obj.mask.shape == (h, w)
            assert obj.mask.any()
            assert np.all(scene.image[obj.mask] == obj.rgb), "mask pixel not painted in the object's colour"
            assert obj.box == _box_of(obj.mask)
            assert obj.visible_fraction >= 0.4
            cover += obj.mask
        assert cover.max() <= 1, "object masks overlap"


def test_masks_cover_exactly_the_painted_pixels():
    # On a plain background without noise, every pixel outside the masks is the background colour.
    for scene in iter_scenes(12, 0, 20, background="plain", noise=0):
        outside = ~np.any([o.mask for o in scene.objects], axis=0)
        colours = np.unique(scene.image[outside], axis=0)
        assert len(colours) == 1
        for obj in scene.objects:
            assert not np.array_equal(colours[0], obj.rgb)


def test_noise_changes_pixels_but_not_masks():
    clean = generate_scene(3, 4, noise=0)
    noisy = generate_scene(3, 4, noise=3.0)
    diff = np.abs(clean.image.astype(int) - noisy.image.astype(int))
    assert 0 < diff.mean() < 6
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(clean.objects, noisy.objects))


def test_same_colour_objects_never_touch():
    same_colour_pairs = 0
    for scene in iter_scenes(13, 0, 60, n_objects=4, background="plain"):
        for i, a in enumerate(scene.objects):
            grown = cv2.dilate(a.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            for b in scene.objects[i + 1:]:
                if a.color == b.color:
                    same_colour_pairs += 1
                    assert not (grown & b.mask).any(), "same-coloured objects would read as one blob"
    assert same_colour_pairs > 0


@pytest.mark.parametrize("size", [32, 50, 64, 224])
def test_sizes(size):
    scene = generate_scene(1, 2, size=size, n_objects=1, background="textured")
    assert scene.image.shape == (size, size, 3) and scene.image.dtype == np.uint8
    (obj,) = scene.objects
    x0, y0, x1, y1 = obj.box
    # one unoccluded object: its extent follows the 22-45 % scale (triangles and stars a little larger)
    assert 0.12 * size <= max(x1 - x0, y1 - y0) <= 0.55 * size
    assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size


def test_crowded_scenes_terminate_and_stay_visible():
    for scene in iter_scenes(4, 0, 5, size=32, n_objects=6):
        assert 1 <= len(scene.objects) <= 6
        assert all(o.visible_fraction >= 0.4 for o in scene.objects)


def test_every_class_and_colour_appears():
    seen_shapes, seen_colours, counts = set(), set(), []
    for scene in iter_scenes(21, 0, 300, size=32, background="plain", noise=0):
        counts.append(len(scene.objects))
        for obj in scene.objects:
            seen_shapes.add(obj.shape)
            seen_colours.add(obj.color)
            assert obj.synset == synset_for(obj.shape)
    assert seen_shapes == set(class_names())
    assert seen_colours == set(COLORS)
    assert set(counts) == {1, 2, 3}


def test_captions_describe_their_target():
    kinds = set()
    for scene in iter_scenes(8, 0, 200, size=32, background="plain", caption_kinds=list(CAPTION_KINDS)):
        kinds.add(scene.caption_kind)
        target = scene.objects[scene.caption_target]
        assert scene.caption_target in scene.caption_objects
        if scene.caption_kind == "template":
            assert scene.caption == prompt_for(target.shape, target.color)
        elif scene.caption_kind == "short":
            assert target.shape in scene.caption and len(scene.caption.split()) <= 3
            for k in scene.caption_objects:
                assert scene.objects[k].shape == target.shape
        elif scene.caption_kind == "name":  # the shape alone: every object of that shape matches
            assert target.shape in scene.caption and target.color not in scene.caption
            assert scene.caption_objects == tuple(k for k, o in enumerate(scene.objects) if o.shape == target.shape)
        elif scene.caption_kind == "gloss":
            assert scene.caption_synset == target.synset
            assert scene.caption == caption_gloss(target.synset)
        elif scene.caption_kind == "list":  # every object by name; the caption is about all of them
            assert scene.caption.startswith("a photo of ") and scene.caption_objects == tuple(range(len(scene.objects)))
            for o in scene.objects:
                assert o.shape in scene.caption and o.color not in scene.caption
        else:
            assert scene.caption_kind == "hypernym_gloss"
            assert any(scene.caption_synset in p for p in hypernym_paths(target.synset))
            assert scene.caption == caption_gloss(scene.caption_synset)
            assert scene.caption_synset != "plane_figure.n.01"
        if scene.caption_kind.endswith("gloss"):
            described = tuple(k for k, o in enumerate(scene.objects) if describes(scene.caption_synset, o.shape))
            assert scene.caption_objects == described
    assert kinds == set(CAPTION_KINDS)


def test_caption_kinds_are_selectable():
    for scene in iter_scenes(9, 0, 30, caption_kinds="template"):
        target = scene.objects[scene.caption_target]
        assert scene.caption == f"a photo of {'an' if target.color[0] in 'aeiou' else 'a'} {target.color} {target.shape}."
    for scene in iter_scenes(9, 0, 30, caption_kinds={"gloss": 1.0, "short": 0.0}):
        assert scene.caption_kind == "gloss"


def test_list_captions_count_repeated_shapes():
    seen = set()
    for scene in iter_scenes(11, 0, 120, caption_kinds="list", n_objects=(1, 3)):
        shapes = [o.shape for o in scene.objects]
        for shape in set(shapes):
            n = shapes.count(shape)
            word = {1: f"a {shape}" if shape[0] not in "aeiou" else f"an {shape}", 2: f"two {shape}s",
                    3: f"three {shape}s"}[n]
            assert word in scene.caption, (shapes, scene.caption)
            seen.add(n)
        if len(set(shapes)) > 1:
            assert " and " in scene.caption
    assert seen == {1, 2}  # repeats happen in 120 scenes of 1-3 objects


def test_caption_mask_and_class_mask():
    scene = generate_scene(10, 0, n_objects=3)
    cls = scene.class_mask()
    for obj in scene.objects:
        assert np.all(cls[obj.mask] == class_names().index(obj.shape) + 1)
    assert np.array_equal(scene.caption_mask(), scene.objects[scene.caption_target].mask | scene.caption_mask())
    assert scene.caption_mask().sum() >= scene.objects[scene.caption_target].mask.sum()


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 31}, "size must be at least 32"),
    ({"size": 64.0}, "size must be an integer"),
    ({"n_objects": 0}, "n_objects must be at least 1"),
    ({"n_objects": (0, 2)}, "n_objects must be at least 1"),
    ({"n_objects": (3, 2)}, "range is empty"),
    ({"n_objects": 7}, "at most 6"),
    ({"background": "noisy"}, "unknown background 'noisy'"),
    ({"caption_kinds": "poem"}, "unknown caption kind"),
    ({"caption_kinds": {"gloss": 0}}, "positive weight"),
    ({"noise": -1}, "noise must be >= 0"),
    ({"scale": (0.5, 0.2)}, "scale must be"),
])
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_scene(0, 0, **kwargs)


def test_bad_seed_index_and_counts():
    with pytest.raises(ValueError, match="seed must be at least 0"):
        generate_scene(-1, 0)
    with pytest.raises(ValueError, match="index must be an integer"):
        generate_scene(0, "3")
    with pytest.raises(ValueError, match="count must be at least 0"):
        iter_scenes(0, 0, -1)  # raised at the call, not on first next()
    with pytest.raises(ValueError, match="size must be at least 32"):
        iter_scenes(0, 0, 3, size=8)


# ----------------------------------------------------------------------------- writers


def test_voc_writer(tmp_path):
    ids = write_voc(tmp_path / "voc", seed=3, count=10, size=48, val_fraction=0.3)
    root = tmp_path / "voc"
    assert ids == [f"shapes_{i:06d}" for i in range(10)]
    palette = voc_palette()
    assert palette[3:6] == [128, 0, 0] and palette[255 * 3:] == [224, 224, 192]
    for sid, scene in zip(ids, iter_scenes(3, 0, 10, size=48)):
        cls = Image.open(root / "SegmentationClass" / f"{sid}.png")
        obj = Image.open(root / "SegmentationObject" / f"{sid}.png")
        assert cls.mode == "P" and obj.mode == "P"
        assert cls.getpalette()[:30] == palette[:30]
        cls_arr = np.array(cls)
        assert np.array_equal(cls_arr, scene.class_mask())
        assert 255 not in cls_arr
        for o in scene.objects:
            assert np.all(cls_arr[o.mask] == class_names().index(o.shape) + 1)
        assert np.array_equal(np.array(obj), scene.instance_mask())
        jpg = np.array(Image.open(root / "JPEGImages" / f"{sid}.jpg"))
        assert jpg.shape == (48, 48, 3)
        assert np.abs(jpg.astype(int) - scene.image.astype(int)).mean() < 6
    sets = root / "ImageSets" / "Segmentation"
    train = (sets / "train.txt").read_text().split()
    val = (sets / "val.txt").read_text().split()
    assert sorted(train + val) == ids and not set(train) & set(val) and len(val) == 3
    assert sorted((sets / "trainval.txt").read_text().split()) == ids
    labels = (root / "labels.txt").read_text().splitlines()
    assert labels[0].split("\t") == ["0", "background", "-"]
    assert labels[1].split("\t") == ["1", class_names()[0], synset_for(class_names()[0])]
    assert (root / "class_names.txt").read_text().split() == ["background", *class_names()]
    manifest = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    assert [m["id"] for m in manifest] == ids

    # deterministic: a second directory gets byte-identical masks and images
    write_voc(tmp_path / "again", seed=3, count=10, size=48, val_fraction=0.3)
    for sub in ("SegmentationClass", "JPEGImages"):
        for sid in ids:
            ext = "png" if sub == "SegmentationClass" else "jpg"
            assert (root / sub / f"{sid}.{ext}").read_bytes() == (tmp_path / "again" / sub / f"{sid}.{ext}").read_bytes()


def test_voc_split_argument_and_directory_guard(tmp_path):
    root = tmp_path / "voc"
    ids = write_voc(root, seed=1, count=3, split="test", start=100)
    assert ids == ["shapes_000100", "shapes_000101", "shapes_000102"]
    sets = root / "ImageSets" / "Segmentation"
    assert (sets / "test.txt").read_text().split() == ids
    assert not (sets / "train.txt").exists()
    more = write_voc(root, seed=1, count=2, split="test", start=103)
    assert (sets / "test.txt").read_text().split() == ids + more
    with pytest.raises(ValueError, match="seed 1"):
        write_voc(root, seed=2, count=1)
    with pytest.raises(ValueError, match="split must be"):
        write_voc(tmp_path / "x", seed=1, count=1, split="../evil")
    with pytest.raises(ValueError, match="size must be at least 32"):
        write_voc(tmp_path / "y", seed=1, count=1, size=20)


def test_caption_writer(tmp_path):
    ids = write_captions(tmp_path / "cap", seed=4, count=6, size=40, caption_kinds="template")
    manifest = [json.loads(line) for line in (tmp_path / "cap" / "manifest.jsonl").read_text().splitlines()]
    assert [m["id"] for m in manifest] == ids
    for sid, record, scene in zip(ids, manifest, iter_scenes(4, 0, 6, size=40, caption_kinds="template")):
        assert (tmp_path / "cap" / f"{sid}.txt").read_text().strip() == scene.caption == record["caption"]
        image = np.array(Image.open(tmp_path / "cap" / record["image"]))
        assert np.array_equal(image, scene.image)  # PNG is lossless
        assert [tuple(o["box"]) for o in record["objects"]] == [o.box for o in scene.objects]
        assert {"shape", "synset", "color", "box"} <= set(record["objects"][0])


def test_core_shapes_imports_neither_qt_nor_torch():
    code = ("import sys, eclip_desktop.core.shapes.writer; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'PyQt5', 'PyQt6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
