"""Plain-text tables for the terminal and Markdown tables for reports."""

from __future__ import annotations


def format_table(headers: list[str], rows: list[list], markdown: bool = False) -> str:
    """Align ``rows`` under ``headers``; numbers right-aligned, text left-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    numeric = [all(_is_number(row[j]) for row in rows) if rows else False for j in range(len(headers))]
    widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(headers)]
    if markdown:
        out.append("|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                                  for w, num in zip(widths, numeric)) + "|")
    else:
        out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def _is_number(value) -> bool:
    if isinstance(value, (int, float)):
        return True
    text = str(value).replace(",", "").replace("×", "").replace("%", "").strip()
    try:
        float(text)
        return True
    except ValueError:
        return False
