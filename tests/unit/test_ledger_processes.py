"""The ledger against real processes: SIGKILL at random moments never loses an acknowledged sign-off,
and writers appending at once (processes and threads) interleave whole records with unique seqs."""

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from launchdeck.audit.ledger import Ledger, canonical_bytes, verify

CHILD = Path(__file__).with_name("ledger_child.py")
ROUNDS = 100


def start(mode: str, path: Path, tag: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), mode, str(path), tag, *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def side_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.torn-*"))


def test_sigkill_at_random_moments_never_loses_an_acknowledged_signoff(tmp_path):
    path = tmp_path / "crash.jsonl"
    rng = random.Random(20260314)
    acked: dict[int, str] = {}
    stats: Counter[str] = Counter()
    injected: list[bytes] = []
    began = time.monotonic()
    for round_ in range(ROUNDS):
        inject = round_ % 5 == 2
        if inject:  # as a power cut would: a torn last line, for the next child's first append to set aside
            line = canonical_bytes({"seq": 0, "item_id": f"power-cut-{round_}", "pad": "x" * 200})
            injected.append(line[: rng.randrange(1, len(line))])
            with open(path, "ab") as file:
                file.write(injected[-1])
        child = start("loop", path, f"r{round_}")
        seen = [child.stdout.readline()]
        assert seen == [b"b\n"], child.stderr.read().decode()
        for _ in range(0 if inject else rng.randrange(0, 12)):  # after an injection: aim at the recovery
            seen.append(child.stdout.readline())
        time.sleep(rng.uniform(0, 0.003 if inject else 0.0015))
        child.kill()
        seen += child.stdout.read().splitlines(keepends=True)
        assert child.wait(timeout=10) == -9, child.stderr.read().decode()
        child.stdout.close(), child.stdin.close(), child.stderr.close()

        acks = [line.split() for line in seen if line.startswith(b"a ")]
        for _, seq, item in acks:
            acked[int(seq)] = item.decode()
        on_disk = {r.item_id for r in Ledger(path).records()}
        if seen[-1] == b"b\n":  # killed inside append(), between "b" and its acknowledgement
            stats["killed inside append()"] += 1
            written = f"r{round_}-{len(acks)}" in on_disk
            stats["  ...after its record was written (on disk, never acknowledged)" if written else
                  "  ...before its record was written"] += 1
        else:
            stats["killed between appends"] += 1
        data = path.read_bytes()
        if inject and injected[-1] in data:
            stats["injected torn tail still there after the kill"] += 1
        elif not data.endswith(b"\n"):
            stats["torn tails left by SIGKILL"] += 1
        orphans = [side for side in side_files(path) if side.name.encode() not in data]
        if len(orphans) > stats["orphaned side files (kill between the cut and its record)"]:
            stats["orphaned side files (kill between the cut and its record)"] = len(orphans)
        result = verify(path)  # after any kill: intact, or at worst a torn last line
        assert result.ok or (result.problem == "torn" and result.first_bad_line == result.records + 1), result

    warnings = []
    while (warning := Ledger(path).recover()) is not None:  # the last kill's torn tail / an orphaned side file
        warnings.append(str(warning))
        assert len(warnings) < 5
    result = verify(path)
    assert result.ok, result
    records = Ledger(path).records()
    by_seq = {r.seq: r for r in records}
    missing = {seq: item for seq, item in acked.items() if by_seq.get(seq) is None or by_seq[seq].item_id != item}
    assert missing == {} and len(acked) > ROUNDS
    signed = [r.item_id for r in records if r.kind == "sign"]
    assert len(signed) == len(set(signed))  # nothing written twice

    # every torn byte is kept: each side file is named by a recovery record with its hash, and
    # each injected torn line is in one of them
    recoveries = {r.evidence["side_file"]: r.evidence for r in records if r.kind == "recovery"}
    sides = {side.name: side.read_bytes() for side in side_files(path)}
    assert set(sides) == set(recoveries)
    assert all(recoveries[name]["bytes"] == len(data) for name, data in sides.items())
    assert all(any(torn in data for data in sides.values()) for torn in injected)

    stats["rounds"] = ROUNDS
    stats["acknowledged appends"] = len(acked)
    stats["records in the ledger"] = len(records)
    stats["torn tails injected (power-cut style)"] = len(injected)
    stats["side files"] = len(sides)
    stats["recover() warnings at the end"] = len(warnings)
    print(f"\ncrash test: {time.monotonic() - began:.1f} s")
    for name, count in stats.items():
        print(f"  {name}: {count}")
    assert time.monotonic() - began < 60


def test_four_processes_appending_at_once_interleave_whole_records(tmp_path):
    path = tmp_path / "race.jsonl"
    writers = {f"w{n}": start("count", path, f"w{n}", "1000") for n in range(4)}
    for child in writers.values():
        assert child.stdout.readline() == b"ready\n", child.stderr.read().decode()
    for child in writers.values():  # the start gun, once all four have imported and opened the ledger
        child.stdin.write(b"go\n")
        child.stdin.flush()
    for tag, child in writers.items():
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, (tag, err.decode())

    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    assert len(lines) == 4000
    assert all(canonical_bytes(json.loads(line)) == line for line in lines)  # whole, ungarbled lines
    records = Ledger(path).records()
    assert [r.seq for r in records] == list(range(1, 4001))
    order = [r.evidence["writer"] for r in records]
    for tag in writers:
        assert [r.evidence["n"] for r in records if r.evidence["writer"] == tag] == list(range(1000))
    switches = sum(a != b for a, b in zip(order, order[1:]))
    print(f"\nconcurrency: 4 x 1000 appends, writer changed {switches} times between consecutive records")
    assert switches > 10  # they really did run at the same time
    result = verify(path)
    assert result.ok and result.records == 4000


def test_threads_sharing_one_ledger_object_and_others_get_unique_seqs(tmp_path):
    path = tmp_path / "threads.jsonl"
    shared, other = Ledger(path), Ledger(path)
    errors = []

    def writer(ledger: Ledger, tag: str) -> None:
        try:
            for n in range(150):
                ledger.append(checklist="t.md", item_id=f"{tag}-{n}", item_text="t", kind="note", reason=tag)
        except Exception as error:  # reported by the assertion below, with the thread's tag
            errors.append((tag, error))

    threads = [threading.Thread(target=writer, args=(ledger, f"t{n}"))
               for n, ledger in enumerate([shared, shared, shared, other])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [r.seq for r in Ledger(path).records()] == list(range(1, 601))
    assert verify(path).ok
