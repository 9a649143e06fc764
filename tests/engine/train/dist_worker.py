"""One training run of the tiny model; under ``accelerate launch`` every process runs this.

``python dist_worker.py MODEL_DIR OUT_DIR CONFIG_JSON``; the run record lands in OUT_DIR.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import make_data

from engine.train import TrainConfig, run_unlearning


def main() -> None:
    model_dir, out_dir, config = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    run_unlearning(model_dir, make_data(n_relearn=16, n_retain=16),
                   TrainConfig.from_dict(config), out_dir)


if __name__ == "__main__":
    main()
