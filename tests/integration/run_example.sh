#!/usr/bin/env bash
# The issue's example, as a user types it: build fib.c, run it with an event on stdin.
. "$(dirname "$0")/../lib.sh"

cat >"$UF_TMP/fib.c" <<'C'
#include <unifaas.h>
#include <stdio.h>
#include <stdlib.h>
static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int uf_handle(uf_ctx *ctx, const uf_event *ev) {
    char out[64];
    int n = atoi(ev->data);
    int len = snprintf(out, sizeof out, "{\"n\":%d,\"fib\":%ld}", n, fib(n));
    return uf_push(ctx, "results", out, len);
}
C
if "$UNIFAAS" build "$UF_TMP/fib.c" -o "$UF_TMP/fib.uf" 2>"$UF_TMP/err"; then
	pass build-fib
else
	fail build-fib "$(cat "$UF_TMP/err")"
fi
out=$(echo 20 | "$UNIFAAS" run "$UF_TMP/fib.uf")
if [ "$out" = '{"queue":"results","data":"{\"n\":20,\"fib\":6765}"}' ]; then
	pass run-fib-stdin
else
	fail run-fib-stdin "got: $out"
fi
out=$(printf '1\n2\n10\n' | "$UNIFAAS" run "$UF_TMP/fib.uf" | wc -l)
[ "$out" = 3 ] && pass run-fib-three-events || fail run-fib-three-events "got $out lines"

# every whole function in docs/writing-functions.md (a ```c block that
# has #include lines and no "..." line) builds as written, without a warning
python3 - "$UF_TOP/docs/writing-functions.md" "$UF_TMP/docex" <<'PY'
import os, re, sys
os.makedirs(sys.argv[2], exist_ok=True)
for k, b in enumerate(re.findall(r"```c\n(.*?)```", open(sys.argv[1]).read(), re.S)):
    if "#include <" in b and "..." not in [l.strip() for l in b.splitlines()]:
        open(os.path.join(sys.argv[2], "ex%02d.c" % k), "w").write(b)
PY
bad=
for f in "$UF_TMP"/docex/ex*.c; do
	"$UNIFAAS" build "$f" -o "${f%.c}.uf" >"${f%.c}.out" 2>&1 && [ ! -s "${f%.c}.out" ] || bad="$bad $(head -1 "$f"): $(head -3 "${f%.c}.out")"
done
n=$(ls "$UF_TMP"/docex/ex*.c | wc -l)
[ "$n" -ge 8 ] && [ -z "$bad" ] && pass docs-examples-build || fail docs-examples-build "$n examples;$bad"
finish
