#!/usr/bin/env bash
# The core install (no extras) trains, evaluates and predicts the TF-IDF and SVM models; models and
# commands that need an extra say which, in one line.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/core
work=$(mktemp -d)
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet "torch==2.13.0"
"$venv/bin/python" -m pip install --quiet .
for module in matplotlib transformers accelerate fastapi ray; do
    if "$venv/bin/python" -c "import $module" 2>/dev/null; then
        echo "the core install pulled in $module" >&2
        exit 1
    fi
done
cli="$venv/bin/mlbalance"
"$cli" train --dataset synthetic:tiny --model tfidf --loss db --max-epochs 2 --out "$work/tfidf" --quiet
"$cli" train --dataset synthetic:tiny --model svm --out "$work/svm" --quiet
"$cli" evaluate "$work/tfidf" --threshold per-label >/dev/null
printf 'pugega takege\nvapigo titefe\n' > "$work/docs.txt"
for run in tfidf svm; do
    test "$("$cli" predict "$work/$run" --input "$work/docs.txt" | wc -l)" -eq 2
done
test ! -e "$work/tfidf/plots"  # no figures without the plots extra, and no error either
if "$cli" train --dataset synthetic:tiny --model transformer --out "$work/t" 2>"$work/err"; then
    echo "the transformer model trained without its extra" >&2
    exit 1
fi
grep -q "needs the transformer extra (transformers, accelerate not installed): pip install 'mlbalance\[transformer\]'" "$work/err"
test "$(wc -l < "$work/err")" -eq 1
echo "core install: TF-IDF and SVM train, evaluate and predict; the transformer model asks for its extra"
