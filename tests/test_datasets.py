"""Dataset loaders on tiny fixtures written here in the real on-disk formats."""
import json

import numpy as np
import pytest
from PIL import Image

from eclip_desktop.core.errors import DatasetError, EclipError
from eclip_desktop.core.evaluation.datasets import (
    VOC_CLASSES,
    EvalSample,
    decode_rle,
    load_coco,
    load_cub,
    load_imagefolder,
    load_voc,
    parse_dataset_arg,
    polygon_mask,
    rle_string_to_counts,
)

# ----------------------------------------------------------------------------- writers for fixtures


def write_jpg(path, w, h):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path, quality=90)


def write_palette_png(path, indices):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.ascontiguousarray(indices, np.uint8)
    im = Image.frombytes("P", (arr.shape[1], arr.shape[0]), arr.tobytes())
    im.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    im.save(path)


def rle_counts(mask):
    """Run lengths of a mask in COCO's order: column-major, starting with a (maybe empty) 0-run."""
    flat = np.asarray(mask, bool).T.ravel()
    counts, current, run = [], False, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return counts


def rle_string(counts):
    """COCO's compressed RLE string, written from the format's description (see coco.py)."""
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


# ----------------------------------------------------------------------------- VOC

CAT, PERSON = VOC_CLASSES.index("cat") + 1, VOC_CLASSES.index("person") + 1


def voc_fixture(root, with_objects=True):
    """One 12x10 image: a cat with a void border, a person; plus a listed id whose JPEG is missing."""
    cls = np.zeros((10, 12), np.uint8)
    cls[1:7, 1:7] = 255
    cls[2:6, 2:6] = CAT
    cls[7:9, 8:11] = PERSON
    obj = np.zeros_like(cls)
    obj[cls == 255] = 255
    obj[cls == CAT] = 1
    obj[cls == PERSON] = 2
    write_jpg(root / "JPEGImages" / "2007_000001.jpg", 12, 10)
    write_palette_png(root / "SegmentationClass" / "2007_000001.png", cls)
    if with_objects:
        write_palette_png(root / "SegmentationObject" / "2007_000001.png", obj)
    write_palette_png(root / "SegmentationClass" / "2007_000002.png", cls)  # its JPEG is missing
    sets = root / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "val.txt").write_text("2007_000001\n2007_000002\n\n")
    (sets / "train.txt").write_text("2007_000002\n")
    return cls


def test_voc_masks_ignore_and_boxes(tmp_path):
    cls = voc_fixture(tmp_path)
    ds = load_voc(tmp_path)
    assert len(ds) == 1 and ds.class_names == list(VOC_CLASSES)
    assert len(ds.skipped) == 1 and "2007_000002" in ds.skipped[0]
    s = ds[0]
    assert isinstance(s, EvalSample) and s.image_path.endswith("2007_000001.jpg")
    assert sorted(s.masks) == ["cat", "person"]
    assert np.array_equal(s.masks["cat"], cls == CAT) and s.masks["cat"].sum() == 16
    assert np.array_equal(s.masks["person"], cls == PERSON)
    assert s.masks["cat"].dtype == bool
    assert np.array_equal(s.ignore, cls == 255) and s.ignore.sum() == 36 - 16
    assert not (s.ignore & s.masks["cat"]).any()  # void is never part of an object
    assert s.boxes == {"cat": [(2, 2, 6, 6)], "person": [(8, 7, 11, 9)]}
    assert s.meta["id"] == "2007_000001"


def test_voc_without_instance_masks_has_no_boxes(tmp_path):
    voc_fixture(tmp_path, with_objects=False)
    assert load_voc(tmp_path)[0].boxes == {}


def test_voc_finds_devkit_inside(tmp_path):
    voc_fixture(tmp_path / "VOCdevkit" / "VOC2012")
    assert len(load_voc(tmp_path)) == 1


def test_voc_labels_txt_as_the_shapes_writer_writes_it(tmp_path):
    cls = np.zeros((10, 12), np.uint8)
    cls[3:5, 3:9] = 2
    write_jpg(tmp_path / "JPEGImages" / "a.jpg", 12, 10)
    write_palette_png(tmp_path / "SegmentationClass" / "a.png", cls)
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Segmentation" / "val.txt").write_text("a\n")
    (tmp_path / "labels.txt").write_text("0\tbackground\t-\n1\tcircle\tcircle.n.01\n2\tsquare\tsquare.n.01\n"
                                         "255\tvoid\t-\n")
    (tmp_path / "class_names.txt").write_text("background\nnot\nused\n")  # labels.txt wins
    ds = load_voc(tmp_path)
    assert ds.class_names == ["circle", "square"]
    assert ds.meta["synsets"] == {"circle": "circle.n.01", "square": "square.n.01"}
    assert list(ds[0].masks) == ["square"] and ds[0].masks["square"].sum() == 12


def test_voc_class_names_txt_with_and_without_background(tmp_path):
    cls = np.zeros((4, 4), np.uint8)
    cls[0, 0] = 1
    write_jpg(tmp_path / "JPEGImages" / "a.jpg", 4, 4)
    write_palette_png(tmp_path / "SegmentationClass" / "a.png", cls)
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Segmentation" / "val.txt").write_text("a\n")
    (tmp_path / "class_names.txt").write_text("background\nballoon\nkite\n")
    assert list(load_voc(tmp_path)[0].masks) == ["balloon"]
    (tmp_path / "class_names.txt").write_text("kite\nballoon\n")
    assert list(load_voc(tmp_path)[0].masks) == ["kite"]


def test_voc_real_shapes_world_output(tmp_path):
    from eclip_desktop.core.shapes import class_names, generate_scene
    from eclip_desktop.core.shapes.writer import write_voc

    ids = write_voc(tmp_path, seed=3, count=2, size=48, split="val")
    ds = load_voc(tmp_path, split="val")
    assert len(ds) == 2 and ds.class_names == class_names()
    for sample, sid in zip(ds, ids):
        scene = generate_scene(3, int(sid.split("_")[1]), size=48)
        expected = {}
        for obj in scene.objects:
            expected[obj.shape] = expected.get(obj.shape, np.zeros((48, 48), bool)) | obj.mask
        assert sorted(sample.masks) == sorted(expected)
        for name, mask in expected.items():
            assert np.array_equal(sample.masks[name], mask)
        assert not sample.ignore.any()
        boxes = {}
        for obj in scene.objects:
            if obj.area:
                boxes.setdefault(obj.shape, []).append(tuple(obj.box))
        assert sample.boxes == boxes


def test_voc_limit_and_errors(tmp_path):
    voc_fixture(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        load_voc(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="JPEGImages"):
        load_voc(tmp_path / "ImageSets")
    with pytest.raises(DatasetError, match="splits there: train, val"):
        load_voc(tmp_path, split="test")
    with pytest.raises(DatasetError, match="plain name"):
        load_voc(tmp_path, split="../val")
    with pytest.raises(DatasetError, match="no usable images"):
        load_voc(tmp_path, split="train")  # its only id has no JPEG
    with pytest.raises(DatasetError, match="limit"):
        load_voc(tmp_path, limit=0)
    assert len(load_voc(tmp_path, limit=1)) == 1


def test_voc_malformed_files(tmp_path):
    voc_fixture(tmp_path)
    sets = tmp_path / "ImageSets" / "Segmentation"
    (sets / "bad.txt").write_text("2007_000001\n2007_000001 1\n")
    with pytest.raises(DatasetError, match=r"bad\.txt:2"):
        load_voc(tmp_path, split="bad")
    (tmp_path / "labels.txt").write_text("0 background\nx cat\n")
    with pytest.raises(DatasetError, match=r"labels\.txt:2"):
        load_voc(tmp_path)
    (tmp_path / "labels.txt").write_text("0 background\n1 dog\n")  # index 8 (cat) now unnamed
    ds = load_voc(tmp_path)
    with pytest.raises(DatasetError, match="class index 8"):
        ds[0]


def test_voc_mask_of_wrong_size_or_mode(tmp_path):
    voc_fixture(tmp_path)
    write_palette_png(tmp_path / "SegmentationClass" / "2007_000001.png", np.zeros((9, 12), np.uint8))
    with pytest.raises(DatasetError, match="12x9"):
        load_voc(tmp_path)[0]
    Image.new("RGB", (12, 10)).save(tmp_path / "SegmentationClass" / "2007_000001.png")
    with pytest.raises(DatasetError, match="mode RGB"):
        load_voc(tmp_path)[0]


# ----------------------------------------------------------------------------- COCO RLE


def test_rle_hand_computed_case():
    # Columns of [[1 1 1 1], [1 1 0 1]] read top to bottom: 0 zeros, 5 ones, 1 zero, 2 ones.
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 1]], bool)
    assert rle_counts(mask) == [0, 5, 1, 2]
    # '0' '5' '1' are plain digits; the 4th count is stored as 2 - 5 = -3 -> 29 + 48 = 'M'.
    assert rle_string([0, 5, 1, 2]) == "051M"
    assert rle_string_to_counts("051M") == [0, 5, 1, 2]
    assert rle_string_to_counts("X1") == [40]  # 8 | 0x20 -> 'X', then 1 << 5
    assert np.array_equal(decode_rle({"size": [2, 4], "counts": "051M"}, 2, 4), mask)
    assert np.array_equal(decode_rle({"size": [2, 4], "counts": [0, 5, 1, 2]}, 2, 4), mask)


def test_rle_round_trip_on_random_masks():
    rng = np.random.default_rng(11)
    for h, w, p in [(1, 1, 0.5), (7, 5, 0.5), (40, 33, 0.05), (64, 80, 0.9), (30, 30, 0.0)]:
        mask = rng.random((h, w)) < p
        mask[h // 3: h // 2, : w // 2] = True  # long runs: counts needing several 5-bit groups
        counts = rle_counts(mask)
        text = rle_string(counts)
        assert rle_string_to_counts(text) == counts
        assert np.array_equal(decode_rle({"size": [h, w], "counts": text}, h, w), mask)


def test_rle_rejects_bad_data():
    with pytest.raises(ValueError, match="pixels"):
        decode_rle({"size": [2, 4], "counts": [0, 5]}, 2, 4)
    with pytest.raises(ValueError, match="size"):
        decode_rle({"size": [4, 2], "counts": [8]}, 2, 4)
    with pytest.raises(ValueError, match="middle"):
        rle_string_to_counts("X")  # continuation bit set on the last character


def test_polygon_pixel_centre_rule():
    rect = polygon_mask([1, 1, 4, 1, 4, 3, 1, 3], 5, 6)
    expected = np.zeros((5, 6), bool)
    expected[1:3, 1:4] = True
    assert np.array_equal(rect, expected)
    tri = polygon_mask([0.5, 0.5, 5.5, 0.5, 3, 4.5], 6, 6)
    assert tri[0].tolist() == [True] * 5 + [False]
    assert tri[3].tolist() == [False, False, True, True, False, False]
    assert not tri[4:].any()
    assert not polygon_mask([1, 1, 3, 3], 5, 5).any()  # two points enclose nothing
    clipped = polygon_mask([-5, -5, 20, -5, 20, 2, -5, 2], 4, 4)  # reaches past the image
    assert clipped[:2].all() and not clipped[2:].any()


# ----------------------------------------------------------------------------- COCO files


def coco_fixture(root):
    """image 1 (8x6): cat polygon + cat compressed RLE, crowd person uncompressed RLE, dog compressed RLE.
    image 2: no annotations. image 3: annotated but its file is missing."""
    h, w = 6, 8
    person = np.zeros((h, w), bool)
    person[3:6, 0:3] = True
    cat2 = np.zeros((h, w), bool)
    cat2[0, 6:8] = True
    dog = np.zeros((h, w), bool)
    dog[4:6, 5:8] = True
    dog[3, 7] = True
    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "height": h, "width": w},
            {"id": 2, "file_name": "b.jpg", "height": h, "width": w},
            {"id": 3, "file_name": "c.jpg", "height": h, "width": w},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 17, "iscrowd": 0, "bbox": [1, 1, 3, 2],
             "segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]]},
            {"id": 11, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 3, 3, 3],
             "segmentation": {"size": [h, w], "counts": rle_counts(person)}},
            {"id": 12, "image_id": 1, "category_id": 18, "iscrowd": 0, "bbox": [5, 3, 3, 3],
             "segmentation": {"size": [h, w], "counts": rle_string(rle_counts(dog))}},
            {"id": 13, "image_id": 1, "category_id": 17, "iscrowd": 0, "bbox": [6, 0, 2, 1],
             "segmentation": {"size": [h, w], "counts": rle_string(rle_counts(cat2))}},
            {"id": 14, "image_id": 3, "category_id": 18, "iscrowd": 0, "bbox": [0, 0, 1, 1],
             "segmentation": [[0, 0, 1, 0, 1, 1]]},
        ],
    }
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    write_jpg(root / "val2017" / "a.jpg", w, h)
    write_jpg(root / "val2017" / "b.jpg", w, h)
    cat = np.zeros((h, w), bool)
    cat[1:3, 1:4] = True
    return data, {"cat": cat | cat2, "person": person, "dog": dog}


def test_coco_masks_boxes_and_crowds(tmp_path):
    _, expected = coco_fixture(tmp_path)
    ds = load_coco(tmp_path)
    assert ds.class_names == ["person", "cat", "dog"]  # by category id, names from the JSON
    assert len(ds) == 1 and ds.meta["unannotated"] == 1
    assert len(ds.skipped) == 1 and "c.jpg" in ds.skipped[0]
    s = ds[0]
    assert s.image_path.endswith("a.jpg") and s.ignore is None
    assert sorted(s.masks) == ["cat", "dog", "person"]
    for name, mask in expected.items():
        assert np.array_equal(s.masks[name], mask), name
    assert s.boxes == {"cat": [(1.0, 1.0, 4.0, 3.0), (6.0, 0.0, 8.0, 1.0)], "dog": [(5.0, 3.0, 8.0, 6.0)]}
    assert s.meta["crowd_classes"] == ["person"] and s.meta["crowd_boxes"] == {"person": [(0.0, 3.0, 3.0, 6.0)]}


def test_coco_explicit_json_and_images_dir(tmp_path):
    coco_fixture(tmp_path)
    ds = load_coco(tmp_path / "annotations" / "instances_val2017.json", images_dir=tmp_path / "val2017")
    assert len(ds) == 1 and ds[0].masks["person"].sum() == 9
    with pytest.raises(DatasetError, match="not found"):
        load_coco(tmp_path / "annotations" / "instances_val2017.json", images_dir=tmp_path / "nope")


def test_coco_bad_inputs(tmp_path):
    data, _ = coco_fixture(tmp_path)
    path = tmp_path / "annotations" / "instances_val2017.json"
    with pytest.raises(DatasetError, match="not found"):
        load_coco(tmp_path / "missing")
    path.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(DatasetError, match=r"instances_val2017\.json:2: not valid JSON"):
        load_coco(tmp_path)
    broken = json.loads(json.dumps(data))
    del broken["annotations"][1]["image_id"]
    path.write_text(json.dumps(broken))
    with pytest.raises(DatasetError, match=r"annotations\[1\] lacks 'image_id'"):
        load_coco(tmp_path)
    broken = json.loads(json.dumps(data))
    broken["annotations"][0]["category_id"] = 99
    path.write_text(json.dumps(broken))
    with pytest.raises(DatasetError, match="category id 99"):
        load_coco(tmp_path)
    broken = json.loads(json.dumps(data))
    broken["annotations"][1]["segmentation"]["counts"] = [0, 5]
    path.write_text(json.dumps(broken))
    ds = load_coco(tmp_path)  # the syntax is fine; the counts are checked when the mask is decoded
    with pytest.raises(DatasetError, match=r"id 11\).*5 pixels"):
        ds[0]
    broken = json.loads(json.dumps(data))
    broken["images"] = broken["images"][2:]
    broken["annotations"] = broken["annotations"][4:]
    path.write_text(json.dumps(broken))
    with pytest.raises(DatasetError, match="no usable images.*c.jpg"):
        load_coco(tmp_path)


# ----------------------------------------------------------------------------- CUB


def cub_fixture(root, split=True):
    root.mkdir(parents=True, exist_ok=True)
    (root / "images.txt").write_text("1 001.Albatross/a.jpg\n2 001.Albatross/b.jpg\n3 002.Auklet/c.jpg\n")
    (root / "bounding_boxes.txt").write_text("1 2.0 3.0 4.0 5.0\n2 0.0 0.0 10.0 8.0\n3 1 1 2 2\n")
    if split:
        (root / "train_test_split.txt").write_text("1 0\n2 1\n3 0\n")
    write_jpg(root / "images" / "001.Albatross" / "a.jpg", 16, 12)
    write_jpg(root / "images" / "001.Albatross" / "b.jpg", 16, 12)  # c.jpg is missing


def test_cub_boxes_converted_to_corners(tmp_path):
    cub_fixture(tmp_path)
    ds = load_cub(tmp_path)
    assert len(ds) == 1 and ds.class_names == ["bird"]
    assert len(ds.skipped) == 1 and "c.jpg" in ds.skipped[0]
    s = ds[0]
    assert s.boxes == {"bird": [(2.0, 3.0, 6.0, 8.0)]} and s.masks == {} and s.meta["id"] == 1
    assert s.image_path.endswith("a.jpg")
    train = load_cub(tmp_path, split="train")
    assert [x.meta["id"] for x in train] == [2] and train[0].boxes["bird"] == [(0.0, 0.0, 10.0, 8.0)]
    assert [x.meta["id"] for x in load_cub(tmp_path, split="all")] == [1, 2]


def test_cub_without_split_file_uses_every_image(tmp_path):
    cub_fixture(tmp_path / "CUB_200_2011", split=False)
    ds = load_cub(tmp_path)
    assert [x.meta["id"] for x in ds] == [1, 2] and "all" in ds.meta["split"]


@pytest.mark.parametrize("name, text, where", [
    ("bounding_boxes.txt", "1 2.0 3.0 4.0 5.0\n2 0 0 10\n", r"bounding_boxes\.txt:2"),
    ("bounding_boxes.txt", "1 2.0 3.0 four 5.0\n", r"bounding_boxes\.txt:1"),
    ("bounding_boxes.txt", "9 2.0 3.0 4.0 5.0\n", r"bounding_boxes\.txt:1.*id 9"),
    ("bounding_boxes.txt", "1 2.0 3.0 -4.0 5.0\n", r"bounding_boxes\.txt:1"),
    ("images.txt", "1 a.jpg\n2\n", r"images\.txt:2"),
    ("images.txt", "1 a.jpg\n1 b.jpg\n", r"images\.txt:2.*twice"),
    ("train_test_split.txt", "1 0\n2 yes\n", r"train_test_split\.txt:2"),
])
def test_cub_malformed_lines(tmp_path, name, text, where):
    cub_fixture(tmp_path)
    (tmp_path / name).write_text(text)
    with pytest.raises(DatasetError, match=where):
        load_cub(tmp_path)


def test_cub_missing_files_and_empty(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_cub(tmp_path / "nope")
    cub_fixture(tmp_path)
    with pytest.raises(DatasetError, match="split"):
        load_cub(tmp_path, split="val")
    (tmp_path / "bounding_boxes.txt").unlink()
    with pytest.raises(DatasetError, match="bounding_boxes.txt not found"):
        load_cub(tmp_path)
    cub_fixture(tmp_path)
    (tmp_path / "images" / "001.Albatross" / "a.jpg").unlink()
    with pytest.raises(DatasetError, match="no usable images"):
        load_cub(tmp_path)  # the test split's only other image (c.jpg) is missing too


# ----------------------------------------------------------------------------- ImageFolder


def test_imagefolder_lists_classes_and_images(tmp_path):
    for rel in ("cat/a.jpg", "cat/b.png", "dog/c.JPG", ".hidden/x.jpg", "dog/.d.jpg"):
        write_jpg(tmp_path / rel, 4, 4)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    write_jpg(tmp_path / "stray.jpg", 4, 4)
    (tmp_path / "empty").mkdir()
    items = load_imagefolder(tmp_path)
    assert [(p.split("/")[-1], c) for p, c in items] == [("a.jpg", "cat"), ("b.png", "cat"), ("c.JPG", "dog")]


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_imagefolder(tmp_path / "nope")
    write_jpg(tmp_path / "stray.jpg", 4, 4)
    with pytest.raises(DatasetError, match="no class sub-folders"):
        load_imagefolder(tmp_path)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match="no images"):
        load_imagefolder(tmp_path)


# ----------------------------------------------------------------------------- CLI argument


def test_parse_dataset_arg_forms():
    assert parse_dataset_arg("shapes") == ("shapes", {"count": 100, "seed": 1000, "objects": (1, 3)})
    assert parse_dataset_arg("shapes:20") == ("shapes", {"count": 20, "seed": 1000, "objects": (1, 3)})
    assert parse_dataset_arg("shapes:20:7") == ("shapes", {"count": 20, "seed": 7, "objects": (1, 3)})
    assert parse_dataset_arg("shapes:20:7:1") == ("shapes", {"count": 20, "seed": 7, "objects": (1, 1)})
    assert parse_dataset_arg("shapes:20:7:2-4") == ("shapes", {"count": 20, "seed": 7, "objects": (2, 4)})
    assert parse_dataset_arg("voc:/data/VOC2012") == ("voc", "/data/VOC2012")
    assert parse_dataset_arg("COCO:/data/coco") == ("coco", "/data/coco")
    assert parse_dataset_arg("cub:C:\\data\\cub") == ("cub", "C:\\data\\cub")  # only the first ':' splits
    assert parse_dataset_arg("imagefolder:ood") == ("imagefolder", "ood")


@pytest.mark.parametrize("arg, message", [
    ("", "empty"),
    ("imagenet:/x", "unknown dataset kind 'imagenet'"),
    ("/data/voc", "unknown dataset kind"),
    ("voc", "names no directory"),
    ("voc:  ", "names no directory"),
    ("shapes:0", "positive"),
    ("shapes:ten", "positive"),
    ("shapes:5:-1", "seed"),
    ("shapes:5:1:2:3", "too many"),
    ("shapes:5:1:0", "objects per scene"),
    ("shapes:5:1:3-1", "objects per scene"),
    ("shapes:5:1:many", "objects per scene"),
])
def test_parse_dataset_arg_errors(arg, message):
    with pytest.raises(DatasetError, match=message) as info:
        parse_dataset_arg(arg)
    assert isinstance(info.value, EclipError)
