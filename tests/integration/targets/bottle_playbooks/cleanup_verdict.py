"""Check the verdicts of one cleanup run, read from ansible-playbook's JSON event lines
(callback_plugins/event_lines.py): exactly the bottles given as --reaped were reaped
(or would be, in check mode), exactly those given as --left-alone were left alone, each for a reason
holding the given words. An argument `SLUG: PARTS[: WORDS]`; an empty argument is ignored."""

import argparse
import json
import sys

TASK = "Show what is reaped and what is left alone"

parser = argparse.ArgumentParser()
parser.add_argument("log")
parser.add_argument("--reaped", action="append", default=[])
parser.add_argument("--left-alone", action="append", default=[])
args = parser.parse_args()

with open(args.log, encoding="utf-8") as handle:
    events = [json.loads(line) for line in handle if line.startswith("{")]
stats = [event["hosts"] for event in events if event["event"] == "stats"]
assert stats and stats[0]["localhost"]["failures"] == 0, stats
shown = [event["result"]["msg"] for event in events if event["event"] == "result" and event["task"] == TASK]
assert len(shown) == 1, f"{TASK!r} ran {len(shown)} times"
verdicts = shown[0]

reaped = sorted(f"{item['slug']}: {', '.join(item['parts'])}" for item in verdicts["reaped"])
assert reaped == sorted(arg for arg in args.reaped if arg), (reaped, args.reaped)

left_alone = {f"{item['slug']}: {', '.join(item['parts'])}": item["reason"] for item in verdicts["left_alone"]}
wanted = dict(arg.rsplit(": ", 1) for arg in args.left_alone if arg)
assert sorted(left_alone) == sorted(wanted), (left_alone, wanted)
for bottle, words in wanted.items():
    assert words in left_alone[bottle], (bottle, left_alone[bottle], words)
print(json.dumps(verdicts, indent=2), file=sys.stderr)
