"""Generation engines behind one interface (base.Engine). Only rollout/vllm.py and rollout/server.py import vllm."""
