"""The web app (Gradio) over the inference pipeline; gradio is imported only when it is built."""

from __future__ import annotations

from animegan.serve.app import ServeConfig, UserError, WeightsCatalog, build_app, stylize_upload

__all__ = ["ServeConfig", "UserError", "WeightsCatalog", "build_app", "stylize_upload"]
