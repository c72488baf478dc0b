"""Generation engines behind one interface (base.Engine). vllm is imported by rollout/vllm.py (in-process engine) and,
for the dedicated `vllm serve` servers, by tcp_engine.py and guard.py (which run inside the server) and lazily by
wire.py (the NCCL transport); the client, server.py, talks HTTP only."""
