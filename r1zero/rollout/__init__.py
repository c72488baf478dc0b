"""Generation engines behind one interface (base.Engine), built by one factory (factory.make_engine) and told
apart by their capabilities (base.Engine's class attributes), never by name outside this package. vllm is imported by
rollout/vllm.py and vllm_worker.py (in-process engine) and, for the dedicated `vllm serve` servers, by tcp_engine.py
and guard.py (which run inside the server) and lazily by wire.py (the NCCL transport); the client, server.py, talks
HTTP only."""
