# The two commands of the README: `make demo` and `make test`. Both install what they need.

BUILD_PACKAGES := pkg-config libasound2-dev
# ffmpeg: the tests check loaxa's output against an independent decode (and loudness); espeak-ng:
# Vietnamese speech for the loudness cross-check.
# pulseaudio & co: a real-time sound "card" (a null sink) for the cpal path, on machines without one.
# minisign: signatures are checked against the real tool; mosquitto (+ openssl for a test CA):
# the link tests run a real broker. icecast2: the relay tests stream from a real Icecast server.
# chromium: the console's browser tests drive Debian's Chromium with Playwright (from npm; Node.js
# and npm come from Debian only where the machine has no npm of its own, whose Node.js package
# would conflict with Debian's npm).
TEST_PACKAGES := $(BUILD_PACKAGES) espeak-ng faketime ffmpeg pulseaudio pulseaudio-utils libasound2-plugins minisign mosquitto mosquitto-clients openssl icecast2 chromium

# The RustSec advisory database `make test` checks the dependencies against: an offline
# snapshot kept next to the repository (see its SNAPSHOT.md). Override: make test ADVISORY_DB=…
REPO_ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
# A clone made elsewhere (a CI checkout in a temporary folder) finds the workplace's copy.
ADVISORY_DB ?= $(firstword $(wildcard $(REPO_ROOT)/../shared/advisory-db /work/shared/advisory-db) $(REPO_ROOT)/../shared/advisory-db)
# The offline steps of scripts/check-dependencies were checked with this release.
CARGO_DENY_VERSION := 0.20.2

.PHONY: demo test deny faults deb deb-check bench deps-build deps-test deps-deny deps-bench check-cargo

# The whole system on this machine (scripts/demo): a broker, the office's console, two boxes;
# the console publishes the demo bulletin and both boxes air it. Ctrl-C stops.
demo: deps-build
	cargo build --release --quiet -p loaxa -p loaxa-district
	@scripts/demo

# Examples (the bench) are left out: they are built by `make bench`, not needed to test.
# cargo-nextest, where installed, runs the tests side by side (see .config/nextest.toml);
# plain `cargo test` runs the same tests one binary at a time.
# The dependency check runs first (seconds) but does not stop the suite: both verdicts count.
# The end-to-end tests run the office's tool as well as the box's: it is built first (cargo
# builds only the binaries of the package under test for its tests).
test: deps-test deps-deny
	@deny=0; scripts/check-dependencies "$(ADVISORY_DB)" || deny=1; \
	suite=0; \
	cargo build --quiet -p loaxa-district --bin loaxa-district || suite=1; \
	if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --lib --bins --tests || suite=1; \
	else \
		cargo test --workspace --no-fail-fast --lib --bins --tests -- --show-output || suite=1; \
	fi; \
	[ $$deny -eq 0 ] || echo "make test: cargo deny check failed (its report is above the tests')" >&2; \
	[ $$deny -eq 0 ] && [ $$suite -eq 0 ]

# The dependency check alone: advisories (offline), licences, bans, sources.
deny: deps-deny
	@scripts/check-dependencies "$(ADVISORY_DB)"

# The fault-injection suite's long form: over 100 trials across its five classes (broker
# killed, box killed, disk full, sound card lost, clock stepped), about 7 minutes; prints the
# summary table. `make test` runs its short form. Replay a run with LOAXA_FAULT_SEED=N.
faults: deps-test
	LOAXA_FAULTS=long cargo test --test faults -- --nocapture

# Debian packages of the release build: target/debian/loaxa_VERSION_ARCH.deb (the box) and
# loaxa-district_VERSION_ARCH.deb (the office's tool, no ALSA).
deb: deps-build
	cargo build --release --quiet -p loaxa -p loaxa-district
	@scripts/build-deb

# Installs that package in a fresh minimal Debian root (debootstrap, cached in target/clean-root/),
# checks the unit, config, user and state directory, then an upgrade, a remove and a purge.
deb-check: deb
	@scripts/check-deb-install

# Benchmarks report, they never fail: a missing tool shows as "n/a" in the table. The table is
# also written to target/bench/report.md and report.json. Knobs: see examples/bench/main.rs.
bench: deps-bench
	cargo build --release --quiet --bin loaxa --example bench
	cargo run --release --quiet --example bench

deps-build: check-cargo
	@scripts/install-deps $(BUILD_PACKAGES)

deps-test: check-cargo
	@scripts/install-deps $(TEST_PACKAGES)
	@command -v npm >/dev/null || scripts/install-deps nodejs npm
	@[ -d tests/browser/node_modules/playwright-core ] || npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

# mpg123: the do-it-yourself player loaxa is measured against. Only the build packages must
# install; without a comparison tool the bench still runs and says "n/a" for it.
deps-bench: deps-build
	-@scripts/install-deps $(TEST_PACKAGES) mpg123

deps-deny: check-cargo
	@cargo deny --version >/dev/null 2>&1 || { \
		echo "Installing cargo-deny $(CARGO_DENY_VERSION) (a few minutes of build)"; \
		cargo install --locked --quiet cargo-deny --version $(CARGO_DENY_VERSION); }

check-cargo:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
