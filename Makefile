# Thin wrappers over scripts/; each script says what it does at its top.
.PHONY: demo test setup harness sanity units integration lint build molecule bench clean engine-stop

STAGES ?=

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh $(STAGES)

setup:
	bash scripts/setup.sh

harness sanity units integration lint build molecule:
	bash scripts/test.sh $@

bench:
	bash scripts/bench.sh

engine-stop:
	bash scripts/engine.sh stop

clean:
	rm -rf .build tests/output collections
