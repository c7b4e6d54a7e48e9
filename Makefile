# Harness — plain Makefile.  `make` builds build/release/{harness,libharness.a};
# `make test` sets the machine up, builds and runs every test; `make asan` runs the
# suite under ASan+UBSan; `make bench` runs the benchmarks; `make demo` runs the demo.

VARIANT ?= release
B       := build/$(VARIANT)
CC      ?= cc
PKGS    := jansson yaml-0.1 sqlite3 xgboost openblas lapacke
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# Fixed-size error buffers truncate long messages on purpose, hence -Wno-format-truncation.
WARN := -Wall -Wextra -Werror -Wshadow -Wundef -Wwrite-strings -Wstrict-prototypes \
        -Wmissing-prototypes -Wold-style-definition -Wformat=2 -Wvla -Wno-format-nonliteral -Wno-format-truncation
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc -MMD -MP $(PKG_CFLAGS)

ifeq ($(VARIANT),asan)
  OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(VARIANT),debug)
  OPT := -O0 -g
else
  OPT := -O2 -g
endif
CFLAGS  := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS := $(OPT)
LDLIBS  := $(PKG_LIBS) -lm -lpthread

LIB_SRC  := $(shell find src/core src/tools -name '*.c' | sort)
CLI_SRC  := $(shell find src/cli src/mcp -path src/mcp/modules -prune -o -name '*.c' -print 2>/dev/null | sort)
TEST_SRC := $(shell find tests/unit -name '*.c' | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)

all: $(B)/harness $(B)/libharness.a modules

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libharness.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# -rdynamic: hot-reload modules (below) resolve core functions from the binary. The tools
# are still linked in statically; without --hot-reload no module is ever loaded.
$(B)/harness: $(CLI_OBJ) $(B)/libharness.a
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(CLI_OBJ) $(B)/libharness.a $(LDLIBS)

# The skills are embedded in the binary (.incbin), which -MMD cannot see.
$(B)/src/mcp/prompts.o: $(wildcard skills/*.md)

# Hot-reload modules (`harness mcp --hot-reload`, development only): each tool, from
# src/tools/t_<name>.c and t_<name>_*.c, also builds as $(B)/modules/<name>.so with hidden
# symbols but its one export (src/mcp/modules/entry.c). The link writes a temp file and
# renames it, so a running server never maps a half-written module.
MOD_NAMES := $(sort $(foreach f,$(notdir $(wildcard src/tools/t_*.c)),$(word 2,$(subst _, ,$(basename $(f))))))
MOD_SO    := $(MOD_NAMES:%=$(B)/modules/%.so)
PIC       := -fPIC -fvisibility=hidden

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC) -c $< -o $@

$(B)/pic/entry_%.o: src/mcp/modules/entry.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PIC) -DHML_MODULE_TOOL=hml_tool_$* -c $< -o $@

define MODULE_RULE
$(B)/modules/$(1).so: $(patsubst %.c,$(B)/pic/%.o,$(wildcard src/tools/t_$(1).c src/tools/t_$(1)_*.c)) $(B)/pic/entry_$(1).o
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -shared -o $$@.tmp $$^ && mv -f $$@.tmp $$@
endef
$(foreach m,$(MOD_NAMES),$(eval $(call MODULE_RULE,$(m))))

modules: $(MOD_SO)

$(B)/test_unit: $(TEST_OBJ) $(B)/libharness.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(B)/libharness.a $(LDLIBS)

setup:
	@scripts/setup

check: all $(B)/test_unit
	@tests/run $(B)

test: setup
	@$(MAKE) --no-print-directory check

asan: setup
	@$(MAKE) --no-print-directory VARIANT=asan check

bench: setup
	@scripts/setup bench
	@$(MAKE) --no-print-directory all
	@bench/run $(B)

demo: setup
	@$(MAKE) --no-print-directory all
	@examples/demo.sh $(B)/harness

lint:
	@! grep -rnE '\b(atoi|sprintf|strcpy|strcat|gets|strtok)\s*\(' src include || (echo "banned function"; exit 1)

clean:
	rm -rf build

.PHONY: all setup check test asan bench demo lint clean modules
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(wildcard $(B)/pic/*.d $(B)/pic/src/tools/*.d)
