"""Local model helpers: tiny Qwen2-architecture chat models built offline from the corpus."""

from proclab.models.tiny import CHAT_TEMPLATE, build_tiny_model, tiny_model_path

__all__ = ["CHAT_TEMPLATE", "build_tiny_model", "tiny_model_path"]
