# SGNS from scratch: every target sets up what it needs in .venv first.
#   make train      the main job: train on text8 (or $$SGNS_CORPUS), evaluate, write the plots
#   make test       pytest over tests/ and nbval over notebooks/ (quick profile)
#   make gensim     gensim's vectors with the full profile's settings (notebook 08 compares them)
#   make runs       the three runs notebooks 06-08 read in the full profile: train, train MODE=pairs, gensim
#   make notebooks  re-execute every notebook top to bottom and save its outputs (full profile)
#   make lab        JupyterLab on the notebooks (the profile of $$SGNS_PROFILE, full if unset)
#   make bench      the speed and quality benchmarks against gensim
#   make site       the course as a static website in html/ (index.html), from the committed outputs
#   make site-check build it if needed and check it offline in headless Chromium (screenshots in html/)
#   make html       the same as make site

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
export MPLBACKEND ?= Agg
# glibc's malloc (Linux) returns freed blocks above 8 MB to the system at once instead of keeping
# them for reuse: a pairs-mode epoch on the stand-in corpus peaks at 384 MB instead of 432 MB. It
# changes only how memory is allocated, and only for the commands run from here; elsewhere it is
# ignored (benchmarks/README.md).
export MALLOC_MMAP_THRESHOLD_ ?= 8388608

.PHONY: venv train gensim runs test notebooks lab bench site html site-check clean

# One stamp per set of extras; a changed pyproject.toml reinstalls.
$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-%: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[$(subst +,$(comma),$*)]'
	touch $@

$(VENV)/.stamp-base: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

comma := ,

venv: $(VENV)/.stamp-test

# The update rule of make train: blocks (consecutive centres share their negatives, several times
# faster; notebook 07) or pairs (the standard rule, notebook 06): make train MODE=pairs.
MODE ?= blocks
# Extra options for the trainer, e.g. make train TRAIN_ARGS="--resume" or TRAIN_ARGS="--workers 2".
TRAIN_ARGS ?=
train: $(VENV)/.stamp-base
	SGNS_PROFILE=$${SGNS_PROFILE:-full} $(PY) -m sgns_helpers train --mode $(MODE) $(TRAIN_ARGS)

gensim: $(VENV)/.stamp-test
	$(PY) benchmarks/gensim_run.py --profile $${SGNS_PROFILE:-full}

runs:
	$(MAKE) train
	$(MAKE) train MODE=pairs
	$(MAKE) gensim

test: $(VENV)/.stamp-test
	SGNS_PROFILE=quick $(PY) -m pytest tests
	SGNS_PROFILE=quick $(PY) -m pytest --nbval-lax --nbval-current-env notebooks

# In the full profile notebooks 06-08 read the runs of `make runs`; without them they stop and say so.
notebooks: $(VENV)/.stamp-test
	for nb in notebooks/[0-9]*.ipynb; do \
	  echo "== $$nb"; \
	  SGNS_PROFILE=$${SGNS_PROFILE:-full} $(PY) -m jupyter nbconvert --to notebook --execute \
	    --inplace --ExecutePreprocessor.timeout=-1 "$$nb" || exit 1; \
	done

lab: $(VENV)/.stamp-test+lab
	@echo "JupyterLab with SGNS_PROFILE=$${SGNS_PROFILE:-full}: the $${SGNS_PROFILE:-full} profile" \
	  "(for a class: SGNS_PROFILE=quick make lab, every notebook in seconds)"
	SGNS_PROFILE=$${SGNS_PROFILE:-full} $(PY) -m jupyter lab notebooks

bench: $(VENV)/.stamp-test+bench
	for b in benchmarks/bench_*.py; do $(PY) "$$b" || exit 1; done

# The site re-executes nothing: it shows the outputs committed in the notebooks (site/README.md).
# -E rebuilds every page (a few seconds), so that previous/next links and titles never go stale.
# Everything it writes, the doctrees included, goes under html/.
site html: $(VENV)/.stamp-site
	$(PY) -m sphinx -b html -E -q -d html/.doctrees site html
	@echo "site: open html/index.html"

site-check: $(VENV)/.stamp-site
	$(PY) site/check_site.py

clean:
	rm -rf $(VENV) html .pytest_cache
