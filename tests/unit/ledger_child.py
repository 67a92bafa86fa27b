"""A child process for the ledger crash and concurrency tests: it imports the ledger module alone.

    ledger_child.py loop PATH TAG    append forever; print "b" before each append and "a SEQ ITEM" only
                                     after append() returned (flushed), so the parent knows what was
                                     acknowledged when it SIGKILLs us
    ledger_child.py count PATH TAG N print "ready", wait for a line on stdin (the start gun), then
                                     append N records
"""

import sys
from pathlib import Path

from launchdeck.audit.ledger import Ledger


def main() -> None:
    leaked = sorted(m for m in sys.modules if m.startswith("launchdeck.") and m not in
                    ("launchdeck.audit", "launchdeck.audit.ledger", "launchdeck.audit.records",
                     "launchdeck.audit.chain", "launchdeck.core", "launchdeck.core.errors"))
    if leaked:
        raise SystemExit(f"the child imported more than the ledger: {leaked}")
    mode, path, tag = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    ledger = Ledger(path)
    if mode == "loop":
        n = 0
        while True:
            item = f"{tag}-{n}"
            sys.stdout.write("b\n")
            sys.stdout.flush()
            record = ledger.append(checklist="crash.md", item_id=item, item_text=f"crash item {n}", kind="sign")
            sys.stdout.write(f"a {record.seq} {item}\n")
            sys.stdout.flush()
            n += 1
    elif mode == "count":
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
        for n in range(int(sys.argv[4])):
            ledger.append(checklist="race.md", item_id=f"{tag}-{n}", item_text=f"race item {n}", kind="note",
                          reason=f"{tag} says {n}", evidence={"writer": tag, "n": n})
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
