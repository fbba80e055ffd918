"""Concept sets by the names the CLI and the app offer: default, paper, all, shapes, or a file."""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import ConceptError
from eclip_desktop.core.io.guards import not_regular, shown

NAMED_SETS = ("default", "paper", "all", "shapes")


def shapes_concept_set(hierarchy):
    """The Shapes World classes' synsets and their hypernym closure."""
    from eclip_desktop.core.shapes.world import class_names, synset_for
    return hierarchy.concept_set_from_synsets("shapes", [synset_for(c) for c in class_names()])


def concept_set_by_name(hierarchy, spec: str):
    """``default``, ``paper``, ``all``, ``shapes`` or the path of a concept file."""
    if spec == "default":
        return hierarchy.default_concept_set()
    if spec == "paper":
        from eclip_desktop.core.convis.paper_set import paper_concept_set
        return paper_concept_set(hierarchy)
    if spec in ("all", "all-nouns"):
        return hierarchy.all_nouns_concept_set()
    if spec == "shapes":
        return shapes_concept_set(hierarchy)
    path = Path(spec)
    if not path.is_file():
        try:
            kind = not_regular(path.stat().st_mode)  # a FIFO or a device: say what it is
        except (OSError, ValueError):
            kind = None
        why = f"it is {kind}, not a regular file" if kind else f"not one of {', '.join(NAMED_SETS)} and not a file"
        raise ConceptError(f"--concept-set {shown(spec)}: {why}.")
    return hierarchy.concept_set_from_file(path)


def set_that_has(hierarchy, synset: str, current: str) -> str:
    """The smallest named set other than ``current`` that contains ``synset`` (``all`` has every noun)."""
    for name in ("shapes", "default"):
        if name != current and synset in concept_set_by_name(hierarchy, name):
            return name
    return "all"


def resolve_in_set(hierarchy, names, concept_set, set_spec: str, what: str = "") -> list[str]:
    """Synset names for words or synset names, each required to be in ``concept_set``; the error
    names a set that has it. Order kept, duplicates dropped."""
    from eclip_desktop.core.errors import ConceptError
    out = []
    for raw in names:
        name = hierarchy.resolve(raw)
        if name not in concept_set:
            label = f"{what} {name}".strip()
            raise ConceptError(f"{label} is not in the concept set '{concept_set.name}' ({len(concept_set)} "
                               f"synsets); use --concept-set {set_that_has(hierarchy, name, set_spec)}, "
                               "which has it.")
        out.append(name)
    return list(dict.fromkeys(out))
