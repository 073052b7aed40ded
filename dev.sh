#!/usr/bin/env bash
# dev.sh — the two set-up commands of the README, from a fresh Debian machine:
#
#   ./dev.sh demo    install what is missing, build, run the main job (live demo)
#   ./dev.sh test    install what is missing, run the test suite (what CI runs)
#
# Also: ./dev.sh build (bin/live), ./dev.sh deps (install only),
#       ./dev.sh bench (Go benchmarks of the hot path).
#
# What it installs when missing: Debian packages (pkg-config, and
# portaudio19-dev for the device package; for tests also jackd2 and
# jack-stdio) with apt-get when run as root,
# otherwise it prints the exact command; a Go toolchain as new as go.mod asks
# (the system's, else /usr/local/go, else Debian's golang-go used once to
# fetch the right toolchain module); Go modules through the module proxy.
set -euo pipefail
cd "$(dirname "$0")"

need_go() { sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod; }

# version_ge A B: is version A >= B?
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "dev.sh: missing Debian packages: ${missing[*]}" >&2
		echo "dev.sh: install them with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
	echo "dev.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_go() {
	local want; want=$(need_go)
	for g in "$(command -v go || true)" /usr/local/go/bin/go; do
		[ -x "$g" ] || continue
		local have; have=$("$g" env GOVERSION 2>/dev/null | sed 's/^go//') || continue
		# Go >= 1.21 fetches the toolchain go.mod names by itself (GOTOOLCHAIN=auto).
		if version_ge "$have" "$want" || version_ge "$have" 1.21; then
			GO=$g
			return 0
		fi
	done
	# No usable Go: take Debian's (too old to build us), and let it fetch the
	# toolchain module go.mod asks for from the module proxy.
	apt_install golang-go ca-certificates
	local tc="golang.org/toolchain@v0.0.1-go${want}.linux-$(dpkg --print-architecture)"
	echo "dev.sh: fetching Go ${want} ($tc)" >&2
	local dir
	dir=$(cd /tmp && GOFLAGS=-mod=mod GO111MODULE=on /usr/bin/go mod download -json "$tc" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	chmod -R u+w "$dir" && chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*
	GO=$dir/bin/go
}

deps() {
	apt_install pkg-config portaudio19-dev
	find_go
	export PATH="$(dirname "$GO"):$PATH"
	go mod download
}

# with_jack CMD...: run CMD with a private JACK server (dummy backend: no
# sound card needed, paced in real time, 16 kHz, period 256, 4 in/2 out) so
# the device tests run; they skip, saying why, when no server is reachable.
# An already running server named by JACK_DEFAULT_SERVER is used as it is.
with_jack() {
	if [ -n "${JACK_DEFAULT_SERVER:-}" ] && jack_lsp >/dev/null 2>&1; then
		"$@"
		return
	fi
	if ! command -v jackd >/dev/null 2>&1; then
		echo "dev.sh: jackd not installed: the JACK end-to-end tests will skip" >&2
		"$@"
		return
	fi
	export JACK_DEFAULT_SERVER="livesep-test-$$" JACK_NO_AUDIO_RESERVATION=1
	local log
	log=$(mktemp)
	jackd --no-realtime -n "$JACK_DEFAULT_SERVER" -d dummy -r 16000 -p 256 -C 4 -P 2 >"$log" 2>&1 &
	local pid=$!
	if ! jack_wait -w -t 10 >/dev/null 2>&1; then
		echo "dev.sh: jackd did not start; the JACK tests will skip:" >&2
		cat "$log" >&2
	fi
	local rc=0
	"$@" || rc=$?
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$log"
	return $rc
}

test_suite() {
	# "|| return": this function runs on the left of "||" (see with_jack),
	# where bash ignores set -e, so every step must pass on its failure.
	go vet ./... || return
	go test -race -count=1 ./... || return
	# Allocation assertions are skipped under -race, and so are the tests
	# that open a PortAudio stream (the binding trips checkptr), the JACK
	# end-to-end runs of the binary (real time beside the race pass's load)
	# and the long separations (long run, recovery): run them without it.
	go test -count=1 -run 'Allocs|Loopback|LongRun|Recovery|JACK|RunRecord' ./...
}

case "${1:-}" in
deps)
	deps
	;;
build)
	deps
	go build -o bin/live ./cmd/live
	echo "built bin/live"
	;;
demo)
	deps
	go build -o bin/live ./cmd/live
	bin/live demo --out out/demo "${@:2}"
	;;
test)
	deps
	apt_install jackd2 jack-stdio
	with_jack test_suite
	;;
bench)
	deps
	go test -run '^$' -bench . -benchmem ./...
	;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
