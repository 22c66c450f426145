# The two commands of the README: `make demo` and `make test`. Both install what they need.

BUILD_PACKAGES := pkg-config libasound2-dev
# ffmpeg: the tests check loaxa's output against an independent decode.
# pulseaudio & co: a real-time sound "card" (a null sink) for the cpal path, on machines without one.
# minisign: signatures are checked against the real tool; mosquitto (+ openssl for a test CA):
# the link tests run a real broker. icecast2: the relay tests stream from a real Icecast server.
TEST_PACKAGES := $(BUILD_PACKAGES) faketime ffmpeg pulseaudio pulseaudio-utils libasound2-plugins minisign mosquitto mosquitto-clients openssl icecast2

.PHONY: demo test faults deb deb-check bench deps-build deps-test deps-bench check-cargo

demo: deps-build
	cargo run --release --quiet -- demo

# Examples (the bench) are left out: they are built by `make bench`, not needed to test.
# cargo-nextest, where installed, runs the tests side by side (see .config/nextest.toml);
# plain `cargo test` runs the same tests one binary at a time.
test: deps-test
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --lib --bins --tests; \
	else \
		cargo test --no-fail-fast --lib --bins --tests -- --show-output; \
	fi

# The fault-injection suite's long form: over 100 trials across its five classes (broker
# killed, box killed, disk full, sound card lost, clock stepped), about 7 minutes; prints the
# summary table. `make test` runs its short form. Replay a run with LOAXA_FAULT_SEED=N.
faults: deps-test
	LOAXA_FAULTS=long cargo test --test faults -- --nocapture

# A Debian package of the release build: target/debian/loaxa_VERSION_ARCH.deb.
deb: deps-build
	cargo build --release --quiet
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

# mpg123: the do-it-yourself player loaxa is measured against. Only the build packages must
# install; without a comparison tool the bench still runs and says "n/a" for it.
deps-bench: deps-build
	-@scripts/install-deps $(TEST_PACKAGES) mpg123

check-cargo:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
