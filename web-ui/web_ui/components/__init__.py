"""The pieces the pages are built from: form parts, the chat's message bubbles and composer,
the history sidebar, and what every page shows (the AI note, the theme switch)."""
