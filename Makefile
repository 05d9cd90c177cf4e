# snisync - certificate/SNI map sync agent for Let's Encrypt renewals.
# Plain make; pkg-config finds OpenSSL 3, jansson and liblmdb.

VERSION   = 0.2.0
PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
HOOKDIR  ?= /etc/letsencrypt/renewal-hooks/deploy
POSTHOOKDIR ?= /etc/letsencrypt/renewal-hooks/post
SYSCONFDIR ?= /etc
DESTDIR  ?=
CC       ?= cc
PKG_CONFIG ?= pkg-config
PKGS      = openssl jansson lmdb

CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-unused-parameter
ifeq ($(CI),true)
WARN     += -Werror
endif
ifneq ($(WERROR),)
WARN     += -Werror
endif
ifeq ($(SAN),1)
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
BUILD     = build/san
else
SANFLAGS  =
BUILD     = build/rel
endif

# Read when this make starts: a target that installs the packages first
# (deps) builds in a new make, which sees them.
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS  = -std=c11 -pthread -D_GNU_SOURCE -DSNISYNC_VERSION='"$(VERSION)"' \
              $(WARN) $(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS) $(CPPFLAGS)
ALL_LDFLAGS = -pthread $(SANFLAGS) $(LDFLAGS)

AGENT_SRCS = $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS = $(AGENT_SRCS:agent/%.c=$(BUILD)/agent/%.o)
UNIT_SRCS  = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps deps-build check check-unit check-integration \
        check-san check-valgrind check-fresh check-boot boot-roots fuzz deps-fuzz deps-deb bench demo install uninstall clean units unit FORCE \
        deb

all: snisync

snisync: $(BUILD)/snisync
	cp $(BUILD)/snisync $@.tmp && mv -f $@.tmp $@

$(BUILD)/snisync: $(BUILD)/agent/main.o $(AGENT_OBJS)
	@[ -n "$(PKG_LIBS)" ] || { echo "snisync: pkg-config finds no $(PKGS):" \
	    "run make deps-build (as root), or install their -dev packages" >&2; exit 1; }
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/agent/%.o: agent/%.c agent/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(AGENT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iagent -o $@ $< $(AGENT_OBJS) $(ALL_LDFLAGS) $(PKG_LIBS) $(LDLIBS)

# Installs the Debian packages that are missing (as root), or prints the
# exact apt-get line and stops.
deps-build:
	@sh packaging/deps.sh build
deps:
	@sh packaging/deps.sh test

unit: $(UNIT_BINS)

check: deps
	$(MAKE) WERROR=1 all unit
	BUILD=$(BUILD) sh tests/run

# The whole suite under ASan+UBSan but the package build, the two
# benchmark harness checks (timings under the sanitizers mean nothing;
# their paths run in the rest) and the other ACME clients (dehydrated and
# lego write files; snisync's side of it is the watch path, which
# watch_e2e and watch_events run here). The crash suite lands a quarter of its
# kills here (50 in a resync, 10 in a renewal: every path it has, each
# under the sanitizers; a killed run reports nothing), and the watch
# stress test 250 of its 1,000 swaps: the full volumes run in make check
# on this machine. The 200 kills took 381 s of this suite's 18 min.
check-san: deps
	$(MAKE) SAN=1 WERROR=1 build/san/snisync unit
	BUILD=build/san SNISYNC=$(CURDIR)/build/san/snisync \
	    SKIP="deb bench_quick bench_dovecot acme_clients" STRESS_ITERATIONS=250 \
	    CRASH_KILLS=50 CRASH_RENEW_KILLS=10 sh tests/run

# Hosting-scale benchmarks (bench/run.py): 10,000 lineages by default,
# BENCH_ARGS="--lineages 1000" for a shorter run. Figures, not pass/fail.
bench: deps
	$(MAKE) all
	/usr/bin/python3 bench/run.py $(BENCH_ARGS)
	/usr/bin/python3 bench/dovecot.py $(BENCH_DOVECOT_ARGS)

deps-fuzz:
	@sh packaging/deps.sh fuzz

# libFuzzer targets (config, names, PEM/chain validation, Dovecot render,
# the state file);
# FUZZ_SECONDS per target, default 60.
fuzz: deps-fuzz
	sh tests/fuzz/run

# A representative part of the suite with every snisync run under
# valgrind memcheck (20-50x slower): the integration scripts that drive
# every module (the sync and its outputs, hostile input, the daemon's
# events, status and metrics (resync_map, defaults, dane_hold and
# profiles run them), setup, default certificates, dual algorithm, tlsa
# and the DANE hold, Let's Encrypt's profiles and address lineages), not
# the ones that add more time than paths (status_metrics' long daemon
# runs, ACME clients and servers at length, the crash and stress runs,
# the package, the benchmarks). make check and make check-san run the
# whole suite.
VALGRIND_TESTS = resync_map resync_hostile outputs corpus watch_events \
                 setup defaults tlsa dane_hold dual profiles

check-valgrind: deps
	$(MAKE) WERROR=1 all unit
	rm -rf build/vg && mkdir -p build/vg
	VALGRIND_LOGS=$(CURDIR)/build/vg SNISYNC_REAL=$(CURDIR)/snisync \
	    SNISYNC=$(CURDIR)/tests/lib/valgrind-snisync \
	    TESTS="$(VALGRIND_TESTS)" sh tests/run

demo: deps
	$(MAKE) all
	bash tests/demo.sh

# The README's set-up commands on fresh Debian 12 and 13 roots (debootstrap,
# cached in build/fresh-RELEASE/; each run from the pristine root): a clean
# clone of HEAD runs make demo, make install and uninstall, make deb and
# apt-get install of the package (lintian of the release), and make check
# in the root of the release this machine is not (FRESH_CHECK names them;
# tests/fresh/run). Needs root and the mirror.
check-fresh: deps
	sh tests/run tests/fresh/run

# The product as deployed: the .deb built and installed in Debian 12 and 13
# roots booted under systemd (systemd-nspawn -b; cached in build/boot-*/),
# the distributions' Postfix and Dovecot on their standard ports, the real
# certbot against pebble, the README's quick start (tests/boot/run).
# Needs root and the mirror; nothing else may listen on those ports.
check-boot:
	@sh packaging/deps.sh boot
	sh tests/run tests/boot/run

# Only the cached roots of check-boot (about 9 min on a new machine,
# mostly downloads and dpkg): .ci/run makes them while other suites run.
boot-roots:
	@sh packaging/deps.sh boot
	unshare --mount --propagation private bash -c '. tests/dovecot24/chroot.sh && \
	    . tests/boot/root.sh && for r in bookworm trixie; do \
	    boot_root $$r || { echo "boot-roots: $$r: $$BOOT_ERR"; exit 1; }; done'

UNITS = build/units/snisync.service build/units/snisync-resync.service \
        units/snisync-resync.timer

# Always regenerated: the paths inside depend on SBINDIR.
build/units/%: units/%.in FORCE
	@mkdir -p $(@D)
	sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@

build/hooks/%: hooks/% FORCE
	@mkdir -p $(@D)
	sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@

units: $(UNITS) build/hooks/snisync-deploy build/hooks/snisync-post

FORCE:

install: snisync units
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(HOOKDIR) $(DESTDIR)$(POSTHOOKDIR)
	install -m 0755 snisync $(DESTDIR)$(SBINDIR)/snisync
	install -m 0644 docs/snisync.8 $(DESTDIR)$(MANDIR)/man8/snisync.8
	install -d $(DESTDIR)$(MANDIR)/man5
	install -m 0644 docs/snisync.json.5 $(DESTDIR)$(MANDIR)/man5/snisync.json.5
	install -m 0644 $(UNITS) $(DESTDIR)$(UNITDIR)/
	install -m 0755 build/hooks/snisync-deploy $(DESTDIR)$(HOOKDIR)/snisync
	install -m 0755 build/hooks/snisync-post $(DESTDIR)$(POSTHOOKDIR)/snisync
# The commented default configuration; an existing one is the admin's.
	install -d $(DESTDIR)$(SYSCONFDIR)/snisync
	[ -e $(DESTDIR)$(SYSCONFDIR)/snisync/snisync.json ] || \
	    install -m 0644 packaging/snisync.json $(DESTDIR)$(SYSCONFDIR)/snisync/snisync.json

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/snisync $(DESTDIR)$(MANDIR)/man8/snisync.8 \
	    $(DESTDIR)$(UNITDIR)/snisync.service \
	    $(DESTDIR)$(UNITDIR)/snisync-resync.service \
	    $(DESTDIR)$(UNITDIR)/snisync-resync.timer \
	    $(DESTDIR)$(HOOKDIR)/snisync $(DESTDIR)$(POSTHOOKDIR)/snisync \
	    $(DESTDIR)$(MANDIR)/man5/snisync.json.5
# The configuration only when it is still the shipped one.
	! cmp -s packaging/snisync.json $(DESTDIR)$(SYSCONFDIR)/snisync/snisync.json || \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/snisync/snisync.json
	rmdir $(DESTDIR)$(SYSCONFDIR)/snisync 2>/dev/null || true

# The Debian package (packaging/debian/). The tree, without build/, .git
# and the binary, is copied to build/deb/snisync-$(VERSION)/ with
# packaging/debian/ as debian/ and built there by dpkg-buildpackage. The
# .changes, .buildinfo and -dbgsym package stay in build/deb/; the package
# is copied to build/snisync_$(VERSION)_<arch>.deb, whose path is printed
# last. packaging/debian/changelog must give the version $(VERSION).
DEB_DIR  = build/deb/snisync-$(VERSION)
DEB_ARCH = $(shell dpkg --print-architecture)
deps-deb:
	@sh packaging/deps.sh deb

deb: deps-deb
	@v=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version) && \
	    [ "$$v" = "$(VERSION)" ] || { echo "make deb: packaging/debian/changelog" \
	    "is at version $$v, the Makefile at $(VERSION)" >&2; exit 1; }
	rm -rf build/deb && mkdir -p $(DEB_DIR)
	tar -cf - --anchored --exclude=./build --exclude=./.git --exclude=./snisync \
	    --exclude=./debian . | tar -xf - -C $(DEB_DIR)
	cp -R packaging/debian $(DEB_DIR)/debian
	cd $(DEB_DIR) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    dpkg-buildpackage -us -uc -b
	cp build/deb/snisync_$(VERSION)_$(DEB_ARCH).deb build/
	@echo build/snisync_$(VERSION)_$(DEB_ARCH).deb

clean:
	rm -rf build snisync
