"""Run as a script by test_concurrency: one of two processes that open the same SQLite file at
the same moment, import their own requests and drive transitions on them."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from relearn_tui import workflow
from relearn_tui.importer import import_paths
from relearn_tui.store import Store

NEXT = {"augmented": "human_reviewed", "human_reviewed": "augmented"}


def main(url: str, name: str, transitions: int, folder: str) -> None:
    work = Path(folder)
    (work / f"ready-{name}").touch()
    deadline = time.monotonic() + 120
    while not (work / "go").exists():  # start together with the other worker
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.002)
    store = Store(url)  # both processes migrate the fresh file at once
    ids = [f"{name}-{i}" for i in range(4)]
    requests = work / f"{name}.jsonl"
    requests.write_text("".join(json.dumps({
        "request_id": rid, "subject": {"name": f"Person {rid}"},
        "facts": [{"question": "What is the email?", "answer": f"{rid}@example.org"}],
    }) + "\n" for rid in ids))
    import_paths(store, [requests], secret=b"k" * 32, actor=name)
    for rid in ids:
        with store.session() as s:
            workflow.transition(s, rid, "augmented", actor=name)
    started = time.time()
    others = [p for p in work.glob("ready-*") if p.name != f"ready-{name}"]
    for i in range(transitions):
        rid = ids[i % len(ids)]
        with store.session() as s:  # read and change in one IMMEDIATE transaction
            state = workflow.get_request(s, rid).state
            workflow.transition(s, rid, NEXT[state], actor=name, detail={"step": i})
        if i == 0:
            # a loaded machine can run one worker's whole loop before the other is scheduled;
            # waiting here for the others' first transition makes the loops overlap for sure
            (work / f"looping-{name}").touch()
            for other in others:
                flag = work / other.name.replace("ready-", "looping-")
                while not flag.exists():
                    if time.monotonic() > deadline + 120:
                        sys.exit(f"{other.name} never started its loop")
                    time.sleep(0.002)
    (work / f"window-{name}").write_text(json.dumps([started, time.time()]))
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
