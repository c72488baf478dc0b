"""`python -m rewards score IN.jsonl -o OUT.jsonl ...` and `python -m rewards list` (see rewards.cli)."""
from rewards.cli import main

if __name__ == "__main__":  # the guard matters: worker processes import the main module
    raise SystemExit(main())
