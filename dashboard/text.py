"""Small text helpers every page uses: run labels and links, Markdown escaping, plurals."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pandas as pd

# Inline Markdown syntax; line-start syntax (#, -, 1.) cannot occur after our own prefixes.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|~$])")
# A run link, relative so it also works under a server base path: `run?id=12`.
RUN_LINK = "run?id="
# A LinkColumn's `display_text` for run links: shows the id.
RUN_LINK_TEXT = r"run\?id=(\d+)"
# A search's view, relative like RUN_LINK: `search?name=lr-search`.
SEARCH_LINK = "search?name="
# What every table, metric and caption shows for a value that does not exist (yet).
MISSING = "-"


def md_escape(text: str) -> str:
    """User-typed text (run names, dataset warnings) shown literally inside Markdown."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def plural(count: int, word: str = "run") -> str:
    """`1 run`, `3 runs`."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def run_label(run_id: int, name: str) -> str:
    """How a run is named in pickers: `12 · report [optimizer=sgd]`."""
    return f"{run_id} · {name}"


def run_link(run_id: Any) -> str | None:
    """`run?id=N` for a table's LinkColumn; None for a missing id."""
    return None if run_id is None or pd.isna(run_id) else f"{RUN_LINK}{int(run_id)}"


def run_links(ids: pd.Series) -> pd.Series:
    """`run_link` for a whole column of run ids."""
    return RUN_LINK + ids.astype(int).astype(str)


def run_anchor(run_id: int, text: str | None = None) -> str:
    """A Markdown link to the run's page: `[run 12](run?id=12)` (relative, as RUN_LINK)."""
    return f"[{text or f'run {run_id}'}]({RUN_LINK}{int(run_id)})"


def id_span(ids: list[int]) -> str:
    """`run 3` or `runs 3–10`, each id a link to its run: the ids a queue action created."""
    if len(ids) == 1:
        return run_anchor(ids[0])
    return f"runs {run_anchor(ids[0], str(ids[0]))}–{run_anchor(ids[-1], str(ids[-1]))}"


def fraction(value: Any, digits: int = 3) -> str:
    """`0.912` for a number, MISSING for None or NaN."""
    return MISSING if value is None or pd.isna(value) else f"{float(value):.{digits}f}"


def search_link(name: str) -> str:
    """`search?name=lr-search`, the name quoted for a URL."""
    return SEARCH_LINK + quote(name, safe="")


def search_anchor(name: str, text: str | None = None) -> str:
    """A Markdown link to a search's view: `[lr-search](search?name=lr-search)`."""
    return f"[{md_escape(text or name)}]({search_link(name)})"


_AT_EPOCH = re.compile(r" at epoch (\d+)")


def stop_text(reason: str | None, detail: str | None, epochs_done: int | None = None) -> str:
    """Why a run stopped, in words. A pruned run says when first, then the pruner's reason:
    "pruned at epoch 3: best val_accuracy 0.41 below the median 0.55 of 4 earlier runs"."""
    if not reason:
        return MISSING
    if reason != "pruned":
        return f"{reason}: {detail}" if detail else reason
    why = (detail or "").removeprefix("pruned:").strip()
    found = _AT_EPOCH.search(why)
    epoch = found.group(1) if found else epochs_done
    if found:
        why = (why[: found.start()] + why[found.end() :]).strip()
    head = f"pruned at epoch {epoch}" if epoch else "pruned"
    return f"{head}: {why}" if why else head


def custom_layers_note(run_id: int, names: list[str] | tuple[str, ...]) -> str:
    """Why the dashboard does not load a run's model: it never imports users' code, and the
    model's custom layers need it (Predict, Grad-CAM and the Run page say so)."""
    shown = ", ".join(f"`{name}`" for name in names)
    return (
        f"This model uses custom layers ({shown}) the dashboard cannot load; predict on a "
        f"worker that has their code: `python -m trainer predict {int(run_id)} IMAGE...`"
    )


def count_text(count: Any) -> str:
    """A parameter count short enough for a chart label: `850`, `12.3k`, `2.26M`; MISSING
    for none."""
    if count is None or pd.isna(count):
        return MISSING
    value = int(count)
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)
