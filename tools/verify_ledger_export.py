#!/usr/bin/env python3
"""Verify a regentrace ledger export without regentrace: Python 3 standard library only.

    python3 verify_ledger_export.py LEDGER.jsonl

The export (``regentrace export ledger``) is JSON Lines: a header line, then one line per event
in ledger order. For every event this script recomputes

    hash = SHA-256( prev_hash "\\n" position "\\n" originator_id "\\n" originator_version "\\n"
                    topic "\\n" recorded_at "\\n" SHA-256(state) )

(all hashes lowercase hex; the text UTF-8; recorded_at as written in the export, ISO 8601 in UTC
with microseconds; state the event's stored bytes, base64 in the export), compares it with the
hash the ledger stored, checks that the actor shown is the one inside the event, and that each
aggregate's versions run 1, 2, 3... with no gap.
prev_hash of the first line is the header's "anchor" (64 zeros for an export from the start).
It prints the head hash (to compare with one published earlier) or the first position that fails,
and exits 0 or 1. See docs/ledger-chain.md.
"""

import base64
import hashlib
import json
import sys


def link(prev_hash, event):
    state = base64.b64decode(event["state_base64"])
    line = "\n".join(
        [
            prev_hash,
            str(event["position"]),
            event["originator_id"],
            str(event["originator_version"]),
            event["topic"],
            event["recorded_at"],
            hashlib.sha256(state).hexdigest(),
        ]
    )
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def verify(lines):
    header = json.loads(next(lines))
    if header.get("format") != "regentrace-ledger-export/1":
        return False, f"not a regentrace ledger export: {header.get('format')!r}", 0
    prev_hash = header["anchor"]
    versions = dict(header.get("versions_before", {}))
    count = 0
    for text in lines:
        event = json.loads(text)
        position = event["position"]
        if link(prev_hash, event) != event["hash"]:
            return False, f"position {position}: hash does not match (altered or reordered)", count
        content = json.loads(base64.b64decode(event["state_base64"]))
        if (event.get("actor"), event.get("actor_role")) != (
            content.get("actor"),
            content.get("actor_role"),
        ):
            return False, f"position {position}: actor differs from the event's content", count
        aggregate, version = event["originator_id"], event["originator_version"]
        if version != versions.get(aggregate, 0) + 1:
            return False, f"position {position}: {aggregate} version gap before {version}", count
        versions[aggregate] = version
        prev_hash = event["hash"]
        count += 1
    return True, prev_hash, count


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as export:
        ok, detail, count = verify(iter(export))
    if ok:
        print(f"OK: {count} events verified; head hash {detail}")
        return 0
    print(f"FAILED after {count} good events: {detail}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
