#!/usr/bin/env bash
# fuzz.sh EXECS: run every Go fuzz target in the module briefly (go test -fuzz runs one
# target at a time). EXECS is an iteration count such as 20000x: with a duration (5s) the Go
# toolchain sometimes fails a healthy target with "context deadline exceeded" when the
# deadline lands while a worker is busy (it did in CI); a count has no deadline.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-20000x}
set -a; [ -f .local/env ] && . .local/env; set +a
mapfile -t targets < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . |
	while read -r f; do
		pkg=./$(dirname "${f#./}")
		grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | sed 's/^func //' | sed "s|^|$pkg |"
	done | sort -u)
for line in "${targets[@]}"; do
	read -r pkg name <<<"$line"
	echo "fuzz: $pkg $name ($t)"
	# -fuzzminimizetime 0: a run this short must not spend its time (and sometimes die
	# with "context deadline exceeded") minimising new inputs; a crasher is still kept.
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" -fuzzminimizetime 0 "$pkg" >/tmp/careline-fuzz.log 2>&1 || {
		cat /tmp/careline-fuzz.log; echo "fuzz: $name failed"; exit 1; }
done
echo "fuzz: ${#targets[@]} targets passed"
