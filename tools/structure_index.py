"""The structure index of the KB a view reads (kb.structure_index), loaded once per process.

kb.build builds the index with the KB, so a tool call only loads it (3-10 s on the full KB, once per
process and KB release) and never builds it. A KB built by an older kb.build has none: the tools then
say how to add it (`python -m kb.build` adds it without rebuilding an unchanged KB).
"""

from __future__ import annotations

import threading

from kb.structure_index import StructureIndex, index_folder, load_structure_index
from tools.errors import ToolError
from tools.kb_view import KBView

_LOADED: dict[tuple[str, int, int], StructureIndex] = {}
_LOCK = threading.Lock()


def structure_index(view: KBView) -> StructureIndex:
    """The view's KB index, loaded on first use; ToolError saying how to add it when the KB has none."""
    folder = index_folder(view.paths.current)
    try:
        stat = (folder / "arrays.npz").stat()
    except FileNotFoundError:
        raise ToolError(f"the KB at {view.kb_dir} has no structure index for fragment search and class "
                        f"filters; run `python -m kb.build --kb-dir {view.kb_dir}` once to add it") from None
    key = (str(folder.resolve()), stat.st_ino, stat.st_mtime_ns)  # a rebuild swaps in new files
    index = _LOADED.get(key)
    if index is None:
        with _LOCK:
            index = _LOADED.get(key)
            if index is None:
                index = _LOADED[key] = load_structure_index(folder)
    return index
