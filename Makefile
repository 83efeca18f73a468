# Two commands on a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CASE   ?= sample_data/toshomart-2017/case.yml
OUT    ?= reports/toshomart-2017

.PHONY: install report test lab bench eval sample lock clean strip-notebooks

install: $(STAMP)

# Reinstall only when the dependency list or the lock changes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(BIN)/python -c "from forensics.loaders.access_log import warm_up; warm_up()"  # compile the log scanners and decoder once
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/forensics run $(CASE) --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks

# Access-log loader speed against a scan_csv baseline, then `forensics run` end to end at scale 100
# and 300 in process and at scale 100 on a local Dask cluster of 2 workers (wall time, CPU, peak
# memory, per stage), then the SQLi detector's lines/s on its corpus. Generates bench_data/ on first
# use (the scale-300 case: about 1.8 GB).
bench: $(STAMP)
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_scale_run.py --runs 100 300 100:2
	$(BIN)/python scripts/sqli_eval.py --throughput

# SQL-injection detector on the corpus of tests/data/sqli_corpus: recall per technique, DBMS and
# tamper script, false positives on benign traffic, tune and held-out parts side by side.
eval: $(STAMP)
	$(BIN)/python scripts/sqli_eval.py

sample: $(STAMP)
	$(BIN)/forensics sample sample_data/toshomart-2017

# Refresh the exact pins after changing pyproject.toml dependencies.
lock:
	rm -rf /tmp/forensics-lock && $(PYTHON) -m venv /tmp/forensics-lock
	/tmp/forensics-lock/bin/pip install --quiet --upgrade "pip>=24"
	/tmp/forensics-lock/bin/pip install --quiet -e ".[dev]"
	/tmp/forensics-lock/bin/pip freeze --exclude-editable | grep -v '^-e' | sort > constraints.txt

strip-notebooks: $(STAMP)
	$(BIN)/python scripts/strip_notebooks.py notebooks/*.ipynb

clean:
	rm -rf $(VENV) reports
