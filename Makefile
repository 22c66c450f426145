# The two commands of the README: `make demo` and `make test`. Both install what they need.

BUILD_PACKAGES := pkg-config libasound2-dev
# ffmpeg: the tests check loaxa's output against an independent decode.
# pulseaudio & co: a real-time sound "card" (a null sink) for the cpal path, on machines without one.
# minisign: signatures are checked against the real tool; mosquitto (+ openssl for a test CA):
# the link tests run a real broker. icecast2: the relay tests stream from a real Icecast server.
TEST_PACKAGES := $(BUILD_PACKAGES) ffmpeg pulseaudio pulseaudio-utils libasound2-plugins minisign mosquitto mosquitto-clients openssl icecast2

.PHONY: demo test deb deps-build deps-test check-cargo

demo: deps-build
	cargo run --release --quiet -- demo

test: deps-test
	cargo test --no-fail-fast

# A Debian package of the release build: target/debian/loaxa_VERSION_ARCH.deb.
deb: deps-build
	cargo build --release --quiet
	@scripts/build-deb

deps-build: check-cargo
	@scripts/install-deps $(BUILD_PACKAGES)

deps-test: check-cargo
	@scripts/install-deps $(TEST_PACKAGES)

check-cargo:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
