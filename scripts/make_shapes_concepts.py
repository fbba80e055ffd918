"""Build resources/shapes/concepts.json: the WordNet 3.0 facts the Shapes World generator needs.

The generator must run without WordNet, so this script freezes, once, what it
needs from WordNet: for each shape its synset, gloss and lemma names, and every
hypernym path up to entity.n.01 with the gloss of each synset on the way.

Usage:
    python scripts/make_shapes_concepts.py DATA_DIR [--out PATH]

DATA_DIR is either an nltk data directory (holding corpora/wordnet/) or a raw
WordNet 3.0 dict directory such as Debian's /usr/share/wordnet. The Debian
package ships no `lexnames` file, which nltk cannot do without, so a raw dict
directory is staged into a temporary nltk layout with the standard lexnames
table written next to it.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

# Order fixes the class indices (1..K) of every segmentation dataset written
# from this file, so append new shapes at the end rather than reordering.
# Each sense was checked by hand in WordNet 3.0 to be the plane-figure sense.
SHAPES = [
    ("circle", "circle.n.01"),
    ("square", "square.n.01"),
    ("triangle", "triangle.n.01"),
    ("rectangle", "rectangle.n.01"),
    ("ellipse", "ellipse.n.01"),
    ("pentagon", "pentagon.n.03"),  # .01 is the building, .02 the US military
    ("hexagon", "hexagon.n.01"),
    ("star", "star.n.05"),  # .01/.03 are celestial bodies; .05 is "a plane figure with 5 or more points"
]

# Every shape must descend from this synset; it guards against a wrong sense
# slipping in (e.g. the pentagon building or an astronomical star).
PLANE_FIGURE = "plane_figure.n.01"

# Hypernym glosses that make poor captions. plane_figure ("a two-dimensional
# shape") is true of every shape alike; captions use only hypernyms strictly
# below it. regular_polygon and isogon ("a polygon with all sides and all
# angles equal", "an equiangular polygon") are true of the regular triangles,
# pentagons and hexagons the world draws, yet WordNet files only the square
# under them, so a caption built from them would name the wrong set of objects.
EXCLUDED_CAPTION_HYPERNYMS = {"plane_figure.n.01", "regular_polygon.n.01", "isogon.n.01"}

# Concepts a shape satisfies as drawn although WordNet does not file it there.
# The star is drawn as a closed figure of straight edges, so the polygon gloss
# ("a closed plane figure bounded by straight sides") is true of it.
DRAWN_ALSO_SATISFIES = {"star": ["polygon.n.01"]}

# WordNet's lexnames(5WN) table: file number, lexicographer file, syntactic category.
LEXNAMES = [
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal",
    "noun.artifact", "noun.attribute", "noun.body", "noun.cognition",
    "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon",
    "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body",
    "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
]
_POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def lexnames_text() -> str:
    return "".join(
        f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES)
    )


def stage_nltk_data(data_dir: Path, tmp: Path) -> Path:
    """Return a directory nltk can use as a data path for the WordNet in data_dir."""
    if (data_dir / "corpora" / "wordnet").is_dir():
        return data_dir
    if not (data_dir / "data.noun").is_file():
        raise SystemExit(
            f"{data_dir}: neither an nltk data directory (corpora/wordnet/) "
            "nor a WordNet dict directory (data.noun)"
        )
    target = tmp / "corpora" / "wordnet"
    target.mkdir(parents=True)
    for f in data_dir.iterdir():
        if f.is_file():
            shutil.copy2(f, target / f.name)
    if not (target / "lexnames").exists():
        (target / "lexnames").write_text(lexnames_text(), encoding="ascii")
    return tmp


def load_wordnet(nltk_dir: Path):
    import warnings

    import nltk

    # Only the staged directory may be searched: a different WordNet found
    # elsewhere on nltk's default path would silently change the glosses.
    nltk.data.path[:] = [str(nltk_dir)]
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    with warnings.catch_warnings():
        # Without an Open Multilingual WordNet reader nltk warns that non-English
        # lemmas are unavailable; only English glosses are needed here.
        warnings.filterwarnings("ignore", message="The multilingual functions")
        wn = WordNetCorpusReader(str(nltk_dir / "corpora" / "wordnet"), None)
    if wn.get_version() != "3.0":
        raise SystemExit(f"expected WordNet 3.0, found {wn.get_version()}")
    return wn


def nearest_first_paths(s) -> list[list[str]]:
    # nltk keeps pointers in sets, so the order of a synset's paths follows
    # string hashing and changes between runs; sorting keeps the file stable.
    # nltk lists each path root-first; nearest-first reads as "a circle is an
    # ellipse is a conic section ...".
    return sorted([h.name() for h in reversed(p[:-1])] for p in s.hypernym_paths())


def build(wn) -> dict:
    synsets: dict[str, dict] = {}
    shapes = []

    def record(s) -> None:
        if s.name() not in synsets:
            synsets[s.name()] = {
                "gloss": s.definition(),
                "lemmas": list(s.lemma_names()),
                "lexname": s.lexname(),
                "hypernym_paths": nearest_first_paths(s),
            }

    for name, synset_name in SHAPES:
        s = wn.synset(synset_name)
        paths = nearest_first_paths(s)
        if s.lexname() != "noun.shape" or not any(PLANE_FIGURE in p for p in paths):
            raise SystemExit(f"{synset_name} is not a plane figure: {s.definition()!r}")
        if name not in s.lemma_names():
            raise SystemExit(f"{synset_name} has no lemma {name!r}: {s.lemma_names()}")
        record(s)
        for p in s.hypernym_paths():
            for h in p:
                record(h)
        caption_hypernyms = []
        for p in paths:
            for h in p[: p.index(PLANE_FIGURE)]:
                if h not in EXCLUDED_CAPTION_HYPERNYMS and h not in caption_hypernyms:
                    caption_hypernyms.append(h)
        shapes.append({
            "name": name,
            "synset": synset_name,
            "gloss": s.definition(),
            "lemmas": list(s.lemma_names()),
            "hypernym_paths": paths,
            "caption_hypernyms": caption_hypernyms,
            "also_satisfies": DRAWN_ALSO_SATISFIES.get(name, []),
        })
        for extra in DRAWN_ALSO_SATISFIES.get(name, []):
            record(wn.synset(extra))

    return {
        "format": 1,
        "wordnet_version": wn.get_version(),
        "generated_by": "scripts/make_shapes_concepts.py",
        "note": (
            "hypernym_paths run nearest hypernym first and end at entity.n.01; "
            "caption_hypernyms are the hypernyms strictly below plane_figure.n.01 "
            "whose glosses name exactly the shapes WordNet files under them; "
            "also_satisfies lists concepts true of a shape as drawn but not in WordNet's hierarchy"
        ),
        "shapes": shapes,
        "synsets": dict(sorted(synsets.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="nltk data dir or raw WordNet 3.0 dict dir")
    default_out = Path(__file__).resolve().parents[1] / "resources" / "shapes" / "concepts.json"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wn = load_wordnet(stage_nltk_data(args.data_dir.resolve(), Path(tmp)))
        data = build(wn)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(data['shapes'])} shapes, {len(data['synsets'])} synsets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
