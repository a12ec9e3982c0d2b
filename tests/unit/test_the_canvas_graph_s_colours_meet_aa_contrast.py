"""The colours the canvas graph draws text in (a 5,000-node run: no DOM to measure) meet WCAG AA on their fills."""

from __future__ import annotations

import re
from pathlib import Path

import runledger.ui

GRAPH = Path(runledger.ui.__file__).parent / "static" / "graph.js"
LABEL = "#1f2328"


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_each_phase_s_text_and_the_label_are_at_least_4_5_to_1_on_its_fill():
    text = GRAPH.read_text()
    block = re.search(r"const COLOURS = \{(.*?)\};", text, re.DOTALL)[1]
    pairs = re.findall(r"(\w+): \[\"(#[0-9a-f]{6})\", \"(#[0-9a-f]{6})\"\]", block)
    assert {name for name, _, _ in pairs} >= {"ok", "bad", "run", "wait", "skip", "none"}
    assert f'fill: "{LABEL}"' in text and f'fillStyle = "{LABEL}"' in text
    low = {name: round(min(contrast(fg, bg), contrast(LABEL, bg)), 2) for name, fg, bg in pairs}
    assert all(ratio >= 4.5 for ratio in low.values()), low
