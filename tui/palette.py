"""One colour per member, by its position in the comparison, used by every view.

The charts draw member i in `member_color(i)` and the table and legend print its name in the
same colour, so a line can be matched to its row at a glance. The values are chosen to read
on both the dark and the light theme; the diagnostics views use the same sequence.
"""

from __future__ import annotations

MEMBER_COLORS: tuple[str, ...] = (
    "#4e9ae8",  # blue
    "#f5a623",  # orange
    "#e8505b",  # red
    "#4cc38a",  # green
    "#b48ee0",  # purple
    "#3fc5c9",  # teal
    "#f07ab4",  # pink
    "#c9b458",  # olive
    "#a08070",  # brown
    "#9aa0a6",  # grey
)

THRESHOLD_COLOR = "#8a8f98"  # threshold lines: visible but quieter than the data


def member_color(index: int) -> str:
    return MEMBER_COLORS[index % len(MEMBER_COLORS)]


def rgb(color: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b), the form plotext takes for full colour."""
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
