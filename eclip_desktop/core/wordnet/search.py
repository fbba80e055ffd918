"""Finding synsets: resolving names and words, suggestions for typos, search over lemmas and glosses."""
from __future__ import annotations

import bisect
import difflib
import re
from typing import Iterable

from eclip_desktop.core.errors import ConceptError
from eclip_desktop.core.wordnet.concept_set import ConceptSet
from eclip_desktop.core.wordnet.parser import SEP, normalize_word

_NAME_RE = re.compile(r"^(.+)\.([nvasr])\.(\d{2,})$")


class SearchMixin:
    """Search and name resolution over the hierarchy's arrays (mixed into Hierarchy)."""

    def _base_forms(self, word: str) -> list[str]:
        # Noun half of WordNet's morphy: exception list, then suffix rules.
        forms = [word] + self._exc.get(word, [])
        for suffix, repl in (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"),
                             ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")):
            if word.endswith(suffix) and len(word) > len(suffix):
                forms.append(word[: len(word) - len(suffix)] + repl)
        return forms

    def suggest(self, text: str, n: int = 5) -> list[str]:
        """Up to ``n`` known words that look like ``text`` (for typo messages).

        Words one edit away (a swapped, missing, extra or wrong letter) come
        first, most frequent first: difflib's ratio alone ranks "dago" above
        "dog" for "dgo". difflib's close matches fill the rest.
        """
        word = normalize_word(text)
        if not word:
            return []
        at = self._sense_at
        letters = "abcdefghijklmnopqrstuvwxyz_-"
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        edits = {a + b[1:] for a, b in splits if b}
        edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
        edits |= {a + c + b for a, b in splits for c in letters}
        near = sorted((e for e in edits if e in at and e != word),
                      key=lambda e: (-self._key_count(at[e]), e))
        slack = max(2, len(word) // 3)
        # Comparing against words of similar length only keeps this well under a second.
        pool = [k for k in self._sense_keys if abs(len(k) - len(word)) <= slack]
        out = near[:n]
        for k in difflib.get_close_matches(word, pool, n=n, cutoff=0.6):
            if len(out) >= n:
                break
            if k not in out:
                out.append(k)
        return out

    def _unknown(self, text: str, message: str, stem: str, suggest: bool = True) -> ConceptError:
        sugg = self.suggest(stem) if suggest else []
        hint = f" Did you mean: {', '.join(s.replace('_', ' ') for s in sugg)}?" if sugg else ""
        err = ConceptError(message + hint)
        err.suggestions = sugg
        return err

    def resolve(self, name_or_word: str, suggest: bool = True) -> str:
        """A synset name as given, or a word's first noun sense. `suggest`: name look-alikes of an
        unknown word in the error (~0.3 s each: a file of 20,000 unknown words took 100 min)."""
        text = name_or_word.strip()
        m = _NAME_RE.match(text)
        if m:
            if text in self._index:
                return text
            if m.group(2) != "n":
                raise ConceptError(f"'{text}' is not a noun synset; concepts must be nouns.")
            senses = self.senses(m.group(1))
            if senses:
                # The word exists but names are built from each synset's first
                # lemma (bank's 2nd sense is depository_financial_institution.n.01).
                more = f" and {len(senses) - 5} more" if len(senses) > 5 else ""
                err = ConceptError(f"Unknown noun synset '{text}'. The noun senses of "
                                   f"'{m.group(1)}' are: {', '.join(senses[:5])}{more}.")
                err.suggestions = senses[:5]
                raise err
            raise self._unknown(text, f"Unknown noun synset '{text}'.", m.group(1), suggest)
        word = normalize_word(text)
        for form in self._base_forms(word):
            k = self._sense_at.get(form)
            if k is not None:
                return self._names[self._sense_idx[self._sense_ptr[k]]]
        raise self._unknown(text, f"'{text}' is not a WordNet noun.", word, suggest)

    # -- search

    def _gloss_index(self) -> tuple[str, list[int]]:
        with self._lock:
            if self._gloss_blob is None:
                # Lower-case each gloss before joining: lower() may change a
                # string's length, and the offsets must match the blob.
                lowered = [d.lower() for d in self._definitions]
                blob = "\n".join(lowered)
                starts = [0]
                for d in lowered[:-1]:
                    starts.append(starts[-1] + len(d) + 1)
                self._gloss_blob = (blob, starts)
            return self._gloss_blob

    def _search_keys(self, concept_set: ConceptSet | None) -> list[str]:
        # Words of the set's synsets only: a short query inside a small set
        # would otherwise rank tens of thousands of words that cannot match.
        key = "" if concept_set is None else concept_set.content_hash
        with self._lock:
            if key not in self._sorted_keys:
                if len(self._sorted_keys) > 8:
                    self._sorted_keys.clear()
                if concept_set is None or len(concept_set) == len(self._names):
                    words = self._sense_keys
                else:
                    words = {w.lower() for n in concept_set.synsets
                             for w in self._lemmas_raw[self._idx(n)].split(SEP)}
                    words = [w for w in words if w in self._sense_at]
                self._sorted_keys[key] = sorted(words)
            return self._sorted_keys[key]

    def search(self, query: str, limit: int = 50,
               concept_set: ConceptSet | None = None) -> list[str]:
        """Synset names matching ``query``, best first.

        Order: exact synset name; synsets of the word itself (WordNet sense
        order); words starting with the query, then words containing it (whole
        word parts first; single words and frequent words before rare
        compounds); finally synsets whose gloss contains the query as a word.
        """
        q = normalize_word(query)
        if not q or limit <= 0:
            return []
        out: list[str] = []
        seen: set[int] = set()

        def take(indices: Iterable[int]) -> bool:
            for i in indices:
                if len(out) >= limit:
                    return True
                if i in seen:
                    continue
                seen.add(i)
                name = self._names[i]
                if concept_set is None or name in concept_set:
                    out.append(name)
                    if len(out) >= limit:
                        return True
            return False

        def senses_of(k: int) -> list[int]:
            return self._sense_idx[self._sense_ptr[k]:self._sense_ptr[k + 1]]

        m = _NAME_RE.match(query.strip())
        if m:
            # A synset name: the synset itself, then the other senses of its word.
            if query.strip() in self._index:
                take([self._index[query.strip()]])
            k = self._sense_at.get(normalize_word(m.group(1)))
            if k is not None:
                take(senses_of(k))
            return out
        exact = self._sense_at.get(q)
        if exact is not None and take(senses_of(exact)):
            return out

        keys = self._search_keys(concept_set)
        prefix: list[str] = []
        j = bisect.bisect_left(keys, q)
        while j < len(keys) and keys[j].startswith(q):
            if keys[j] != q:
                prefix.append(keys[j])
            j += 1
        at = self._sense_at

        def rank(k: str) -> tuple:
            return (k.count("_") + k.count("-"), -self._key_count(at[k]), len(k), k)

        for k in sorted(prefix, key=rank):
            if take(senses_of(at[k])):
                return out
        inner = [k for k in keys if q in k and not k.startswith(q)]
        word_part = re.compile(r"(^|[_\-])" + re.escape(q) + r"($|[_\-])")
        for k in sorted(inner, key=lambda k: (word_part.search(k) is None,) + rank(k)):
            if take(senses_of(at[k])):
                return out

        blob, starts = self._gloss_index()
        pattern = re.compile(r"\b" + re.escape(q.replace("_", " ")) + r"\b")
        hits = {bisect.bisect_right(starts, m.start()) - 1 for m in pattern.finditer(blob)}
        counts = self._synset_counts()
        take(sorted(hits, key=lambda i: (-counts[i], self._names[i])))
        return out

