# The two commands of the README. Both install what is missing first (deploy/setup.sh is idempotent):
# `make demo` only what the demo needs, `make test` also the test-only tools (deploy/setup.sh --test).
.PHONY: setup setup-test demo test bench

setup:
	@bash deploy/setup.sh

setup-test:
	@bash deploy/setup.sh --test

demo: setup
	@.venv/bin/aetherius demo

test: setup-test
	@.venv/bin/python -m pytest -q -p no:cacheprovider

bench: setup-test
	@for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b; done
