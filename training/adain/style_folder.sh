#!/usr/bin/env bash
# The AdaIN decoder's training paintings since iteration 13,408: ../shared/datasets/style and
# style_more (1,088 images), linked into one folder for `painterly train-adain --style`.
# style_eval is never linked: it is the benchmark's, never trained on.
# Usage: bash training/adain/style_folder.sh [FOLDER]   (default /tmp/adain_styles)
set -euo pipefail
shared="$(cd "$(dirname "$0")/../../.." && pwd)/shared/datasets"
out="${1:-/tmp/adain_styles}"
mkdir -p "$out"
for dir in style style_more; do
  for f in "$shared/$dir"/*; do
    case "$f" in *.tsv|*.md|*.txt) continue ;; esac
    ln -sf "$f" "$out/${dir}_$(basename "$f")"
  done
done
echo "$out: $(ls "$out" | wc -l) images"
