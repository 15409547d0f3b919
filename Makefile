# The two commands of the README. Both install what is missing first (deploy/setup.sh is idempotent).
.PHONY: setup demo test bench

setup:
	@bash deploy/setup.sh

demo: setup
	@.venv/bin/aetherius demo

test: setup
	@.venv/bin/python -m pytest -q -p no:cacheprovider

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b; done
