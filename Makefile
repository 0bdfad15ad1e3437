# One command for the demo, one for the tests; both set up from nothing.
.PHONY: demo test lint typing layers docs bench bench-followups bench-sends bench-webhooks lighthouse mutation clean

VENV := .venv/bin
export FLASK_APP := example_app
HOST ?= 127.0.0.1
PORT ?= 5000
MUTATION_MIN ?= 90

demo:  ## set up, create and seed the example CRM, serve it on http://$(HOST):$(PORT)
	@scripts/bootstrap.sh
	@$(VENV)/python -m example_app.secret_key
	@$(VENV)/flask init-db
	@$(VENV)/flask seed --if-empty
	@echo ""
	@echo "  Example CRM:  http://$(HOST):$(PORT)/"
	@echo "  Log in as     alice@acme.test / paylinks-demo   (or bob@globex.test)"
	@echo ""
	@$(VENV)/flask run --host $(HOST) --port $(PORT)

test:  ## set up (PostgreSQL, Redis, Chromium, .venv) and run every check and test
	@scripts/bootstrap.sh --test
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/lint-imports
	$(VENV)/sphinx-build -q -W -b html docs docs/_build/html
	$(VENV)/pytest -m "not faults"
	$(VENV)/pytest --db=postgresql -m "not browser"

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typing:
	$(VENV)/mypy

layers:  ## the import-linter contracts (see docs/architecture.rst)
	$(VENV)/lint-imports

docs:
	$(VENV)/sphinx-build -W -b html docs docs/_build/html

bench:  ## requests/second of the checkout page next to a bare route, under gunicorn
	$(VENV)/python benchmarks/checkout_page.py

bench-followups:  ## follow-ups/s and backlog: 40 payers for 60 s, RQ (2 workers) next to inline; BENCH_ARGS="--seconds 15 --payers 20" to shorten
	$(VENV)/python benchmarks/followups.py $(BENCH_ARGS)

bench-sends:  ## queueing a send to 100,000 contacts on PostgreSQL next to a floor, and the send rate with 1 and 4 workers; BENCH_ARGS="--contacts 20000 --small 2000 --rate-contacts 300" to shorten
	$(VENV)/python benchmarks/sends.py $(BENCH_ARGS)

bench-webhooks:  ## Stripe webhook events/s (first deliveries, redeliveries) next to a bare and a verify-only route, then checks the database; BENCH_ARGS="--database-url postgresql" for PostgreSQL
	$(VENV)/python benchmarks/stripe_webhooks.py $(BENCH_ARGS)

lighthouse:  ## Lighthouse (mobile) on the demo checkout and on Stripe's payment step (localstripe + the tests' Stripe.js shim); needs `npm install lighthouse` in $$LIGHTHOUSE_DIR (default /tmp/lh)
	benchmarks/lighthouse.sh
	$(VENV)/python -m benchmarks.lighthouse_stripe

mutation:  ## mutation score of core/money.py and core/pricing.py against tests/core (mutmut; 2-5 min on one core)
	@scripts/bootstrap.sh
	rm -rf mutants && mkdir mutants
	$(VENV)/mutmut run --max-children 1 >mutants/run.log 2>&1 || { tail -n 30 mutants/run.log; exit 1; }
	@$(VENV)/mutmut results --all true | awk -v min=$(MUTATION_MIN) ' \
	    { line = $$0; sub(/^[ \t]+/, "", line); at = index(line, ": "); if (!at) next; \
	      name = substr(line, 1, at - 1); status = substr(line, at + 2); \
	      file = name; sub(/\.x.*$$/, "", file); \
	      if (status == "skipped") next; total[file]++; \
	      if (status == "killed" || status == "timeout" || status == "caught by type check") killed[file]++; \
	      else if (status == "no tests") untested[file]++; else survived[file]++ } \
	    END { low = 0; for (f in total) { score = 100 * killed[f] / total[f]; if (score < min) low = 1; \
	      printf "%-28s %5.1f %%  killed %d of %d (survived %d, no tests %d)\n", \
	        f, score, killed[f], total[f], survived[f] + 0, untested[f] + 0 }; \
	      if (low) { printf "below %s %%: mutmut results; mutmut show <name>\n", min; exit 1 } }'

clean:
	rm -rf .venv build dist *.egg-info docs/_build .pytest_cache .mypy_cache .ruff_cache artifacts mutants
