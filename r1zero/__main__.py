"""`python -m r1zero train|eval|score ...`: the one command line (r1zero/cli.py), and what the launchers run
(`deepspeed --module r1zero train ...`, `torchrun -m r1zero train ...`)."""
from r1zero.cli import main

if __name__ == "__main__":
    main()
