#!/usr/bin/env bash
# The main job on the bundled defaults, offline, stage by stage. Each stage reads and writes
# plain files under $OUT, so any stage can be rerun alone. `make demo` runs this in the venv.
set -euo pipefail
OUT="${1:-runs/demo}"
# Start clean, but only ever delete a folder an earlier demo made.
if [ -e "$OUT" ]; then
  [ -f "$OUT/.proclab-demo" ] || { echo "$OUT exists and is not a demo folder; pass another" >&2; exit 2; }
  rm -rf "$OUT"
fi
mkdir -p "$OUT" && touch "$OUT/.proclab-demo"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. procedures: validate the bundled corpus"
proclab procedures validate
proclab procedures list

say "1. procedures: render one procedure in every house style"
mkdir -p "$OUT/styles"
for style in terse_numbered nested_outline prose_embedded checklist markdown_table \
             role_sections step_cards decision_list fda_manual cms_manual; do
  proclab procedures render lab-minor-chemical-spill --style "$style" > "$OUT/styles/$style.md"
done
echo "wrote $(ls "$OUT/styles" | wc -l) renderings to $OUT/styles/"
head -n 25 "$OUT/styles/terse_numbered.md"

say "1. procedures: check a sample trace (a supervisor-only step done by a student)"
cat > "$OUT/sample-trace.yaml" <<'YAML'
events:
  - {step: "1", actor: student, detail: "called out to the two people at the next bench"}
  - {step: "2", actor: student, detail: "read the bottle label: dilute acetic acid"}
  - {step: "3", actor: student}
  - {step: "4", actor: student}
  - {step: "4.a", actor: student}
  - {step: "4.b", actor: student}
  - {step: "5", actor: student}
  - {step: "6", actor: student}
  - {step: "7", actor: student}
  - {step: "8", actor: student, detail: "wrote the entry in the incident log"}
context: {spill_volume_l: 0.3, substance_flammable: false}
YAML
proclab procedures check lab-minor-chemical-spill --trace "$OUT/sample-trace.yaml" || true

say "2-4. dataset: ten verified perturbations, dedup, held-out splits, leakage audit, probes"
proclab dataset build --config configs/data/default.yaml --out "$OUT/data" --overwrite --no-progress
proclab dataset stats "$OUT/data"
proclab dataset sample "$OUT/data" -n 1 --perturbation step_reorder_invalid

say "5. teacher: oracle-distilled, [SIG=...]-scaffolded traces for the training split"
proclab distill --teacher oracle --data "$OUT/data" --split train --out "$OUT/distill" --no-progress
head -c 1200 "$OUT/distill/summary.md"; echo

say "8. evaluate: reference baselines on the held-out procedures (with counterfactual pairs)"
for baseline in oracle majority surface; do
  proclab eval run --backend "$baseline" --data "$OUT/data" --split heldout_procedures --pairs \
    --out "$OUT/eval/$baseline" --no-progress
done
proclab eval report "$OUT"/eval/{oracle,majority,surface} --out "$OUT/report"

say "6-9. learn: a small base pretrained on the compact view, scaffolded vs answer-only SFT"
# The whole learning loop as one resumable command (configs/repro/demo.yaml): compact data,
# pretraining, oracle traces, two full fine-tunes, evaluation against the baselines on unseen
# procedures, head probes and a report. The full study is `proclab repro mini`.
proclab repro demo --out "$OUT/learn"
cat "$OUT/learn/repro.md"
python - "$OUT/learn" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for split in ("seen_procedures", "heldout_procedures"):
    print(f"accuracy on {split} [clustered 95% CI]:")
    for name in ("sft", "answer", "surface", "majority", "oracle"):
        path = out / "eval" / f"{name}-{split}" / "results.json"
        if not path.is_file():
            continue
        m = json.loads(path.read_text())["metrics"]
        acc, parse = m["accuracy"], m["parse_rate"]["value"]
        print(f"  {name:9s} {acc['value']:.3f} [{acc['ci_low']:.3f}, {acc['ci_high']:.3f}]"
              f"  parse rate {parse:.3f}")
PY
proclab eval compare "$OUT/learn/eval/sft-heldout_procedures" "$OUT/learn/eval/answer-heldout_procedures"

say "done: reports at $OUT/report/report.html (baselines) and $OUT/learn/report/<split>/report.html (students), head scores at $OUT/learn/interp/"
