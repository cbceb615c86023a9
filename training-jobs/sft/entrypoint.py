"""RayJob entrypoint for the SFT job: runs k2core.training on the mounted job file."""

import sys

from k2core.training.launch import main

if __name__ == "__main__":
    sys.exit(main(["sft", *sys.argv[1:]]))
