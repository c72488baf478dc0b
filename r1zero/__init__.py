"""r1zero: R1-Zero style reinforcement learning for reasoning (GRPO, vLLM rollouts, rule-based rewards)."""
__version__ = "0.1.0"
