"""Stage 6: inference backends behind one interface (Hugging Face, OpenAI-compatible API, vLLM)."""
