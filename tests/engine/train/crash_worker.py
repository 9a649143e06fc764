"""Run a training and die abruptly (no cleanup) right after the first epoch's checkpoint.

Used by test_train_resume: ``python crash_worker.py MODEL_DIR OUT_DIR CONFIG_JSON``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_samples import make_data

from engine.train import TrainConfig, run_unlearning


def main() -> None:
    model_dir, out_dir, config = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])

    def crash_after_first_epoch(p) -> None:
        if p.message == "epoch 1 saved":
            os._exit(137)  # like SIGKILL: no finally blocks, no flushing

    run_unlearning(model_dir, make_data(), TrainConfig.from_dict(config), out_dir,
                   progress=crash_after_first_epoch)
    sys.exit("the run was expected to die after its first epoch")


if __name__ == "__main__":
    main()
