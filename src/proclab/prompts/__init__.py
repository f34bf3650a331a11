"""The one place that knows the prompt format and how answers are parsed and scored.

Evaluation scores with `score_output`, and the GRPO reward calls the same function: one grader.
"""

from proclab.prompts.format import (
    BLOCKS,
    ORDERS,
    REFERENCE_ORDER,
    build_messages,
    build_user_message,
    render_chat,
)
from proclab.prompts.parse import (
    DEFAULT_LABELS,
    FINAL_ANSWER_PREFIX,
    LabelWords,
    final_answer_line,
    parse_verdict,
    score_output,
    verdict_reward,
)

__all__ = [
    "BLOCKS",
    "DEFAULT_LABELS",
    "FINAL_ANSWER_PREFIX",
    "ORDERS",
    "REFERENCE_ORDER",
    "LabelWords",
    "build_messages",
    "build_user_message",
    "final_answer_line",
    "parse_verdict",
    "render_chat",
    "score_output",
    "verdict_reward",
]
