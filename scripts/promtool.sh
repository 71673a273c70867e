#!/usr/bin/env bash
# promtool.sh: check careline's Prometheus files with promtool (Debian package
# prometheus, installed by scripts/services.sh deps test): the example configuration,
# the recording and alerting rules, and the rule unit tests (every alert firing and not).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null; then
	echo "promtool: not found; install it with scripts/services.sh deps test (Debian package prometheus)" >&2
	exit 1
fi
promtool check config configs/prometheus/prometheus.yml
promtool check rules configs/prometheus/rules/*.yml
promtool test rules configs/prometheus/tests/*.test.yml
