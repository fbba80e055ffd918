"""`wordnet`: look up noun synsets."""
from __future__ import annotations

import json
import sys

from eclip_desktop.cli.common import load_concept_set


def cmd_wordnet(args) -> int:
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy
    hierarchy = Hierarchy()
    cs = load_concept_set(hierarchy, args.concept_set) if args.concept_set else None
    rows = []
    for name in hierarchy.search(args.query, limit=args.limit, concept_set=cs):
        info = hierarchy.details(name, cs)
        rows.append({"synset": name, "gloss": info.gloss, "lemmas": info.lemmas, "lexname": info.lexname,
                     "hypernym_paths": info.hypernym_paths, "hyponyms": info.n_hyponyms,
                     "subtree_size": info.subtree_size})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        where = f" in the concept set '{cs.name}'" if cs else ""
        print(f"no noun synset matches '{args.query}'{where}", file=sys.stderr)
        return 1
    for r in rows:
        print(f"{r['synset']}  [{', '.join(r['lemmas'])}]  ({r['lexname']})")
        print(f"    {r['gloss']}")
        for path in r["hypernym_paths"]:
            print(f"    < {' > '.join(path)}")
        scope = f" in {cs.name}" if cs else ""
        print(f"    {r['hyponyms']} direct hyponyms, subtree of {r['subtree_size']}{scope}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("wordnet", help="look up WordNet noun synsets: gloss, lemmas, hypernym paths")
    p.add_argument("query", help="a word, part of a word, or a synset name")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--concept-set", default=None, help="search only inside default, all, shapes or a FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_wordnet)
