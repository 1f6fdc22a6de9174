"""Small shared helpers.

Image range conversions, lazy imports, and the safe readers of stored configs (checkpoints and
run folders are untrusted data).
"""
