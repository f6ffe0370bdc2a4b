# A thin wrapper over Meson so that the usual verbs work. The real build is meson.build.
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all run test check unit blackbox asan bench format deps clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# Installs the Debian packages the build and the tests need (root on Debian 12).
deps:
	./scripts/install-deps.sh

run: deps all
	./$(BUILD)/flashsale serve --demo

test:
	./scripts/test.sh

# The include rules between the folders, and the style (also the first step of make test).
check:
	./scripts/check-layout.sh

format:
	clang-format -i $$(git ls-files --cached --others --exclude-standard '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
