#!/usr/bin/env bash
# The main job on the bundled defaults, offline, stage by stage. Each stage reads and writes
# plain files under $OUT, so any stage can be rerun alone. `make demo` runs this in the venv.
set -euo pipefail
OUT="${1:-runs/demo}"
mkdir -p "$OUT"
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
