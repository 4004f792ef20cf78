# The two commands a newcomer needs:  make run   and   make test
.PHONY: run test setup lint typecheck validate train clean

run: setup
	.venv/bin/relaydesk run

test: 
	scripts/setup --browser
	.venv/bin/relaydesk test

setup:
	scripts/setup

lint: setup  # also part of `make test` (tests/test_lint.py)
	.venv/bin/ruff check .

# Also part of `make test` (tests/test_typecheck.py); configured in pyproject.toml [tool.mypy].
typecheck: setup
	.venv/bin/mypy

validate: setup
	.venv/bin/relaydesk rasa data validate

train: setup
	.venv/bin/relaydesk train

clean:
	rm -rf models/ var/ .pytest_cache
