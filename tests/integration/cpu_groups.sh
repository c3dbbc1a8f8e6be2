#!/usr/bin/env bash
# CPU shares between workflows (issue 11 §5; daemon/cpu_groups.c,
# common/cgroup.h): on a real platform, each workflow's units run in a
# cgroup of their own with the workflow weight, unifaasd, redis-server and
# mosquitto in the instance's `platform` group with cpu_platform_weight (a
# workflow's weight follows its `share`, as its unit slots do); a
# workflow's group goes with it; `down` leaves nothing of the instance; two
# platforms on one machine each keep their own groups; a restart after a
# crash removes the groups the crashed daemon left.  Where no cgroup
# hierarchy with the cpu controller can be used (not root, not mounted),
# the suite checks that unifaasd said so once and units still run.
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"

SLOTS_FN=$(build_guest "$UF_TOP/tests/platform/slots_fn.c") || {
	fail build "slots_fn did not build"
	exit 0
}
PLAT_CONF='cpu_platform_weight=300'
plat_suite_up
pass up

# sleeper WF [SHARE]: a workflow whose one unit never pops and stays (slots_fn sleep)
sleeper() {
	local m
	m=$(manifest "$1" <<EOF
name: $1
share: ${2:-1}
functions:
  s:
    image: $SLOTS_FN
    listen: in
    env: { MODE: sleep }
    scale: { max_units: 1, events_per_unit: 1, idle_ms: 600000 }
EOF
)
	U deploy "$m" >/dev/null && echo x | U push "$1" in >/dev/null && wait_for 60 units_is "$1" 1
}
unit_pid() { U ps --json | python3 -c "import json,sys; print([u['pid'] for u in json.load(sys.stdin)['units'] if u['workflow']=='$1'][0])"; }
# cg_of PID HIERARCHY: the process's cgroup in the v1 hierarchy named HIERARCHY (or v2's "")
cg_of() { awk -F: -v h="$2" '$2 == h { print $3 }' "/proc/$1/cgroup"; }
# inst_dir STATE [acct]: the instance's directory unifaasd logged
inst_dir() { grep -h 'what=cpu-cgroups result=on' "$1/logs/unifaasd.log" | tail -1 | sed -n "s/.* ${2:-dir}=\([^ ]*\).*/\1/p"; }
gone() { [ ! -e "$1" ]; }

if grep -q 'what=cpu-cgroups result=off' "$PLAT_STATE/logs/unifaasd.log"; then
	# no usable hierarchy: said once, clearly, and units run anyway
	check off-logged-once [ "$(grep -c 'what=cpu-cgroups' "$PLAT_STATE/logs/unifaasd.log")" = 1 ]
	check off-says-fix grep -q 'fix=.*cpu_cgroup' "$PLAT_STATE/logs/unifaasd.log"
	check off-units-run sleeper one
	finish
	exit 0
fi

DIR=$(inst_dir "$PLAT_STATE") ACCT=$(inst_dir "$PLAT_STATE" acct)
NAME=$(basename "$DIR")
check on-logged test -d "$DIR"
case $DIR in
*/unifaas-????????????????) pass instance-named ;;
*) fail instance-named "dir=$DIR" ;;
esac
V2=0
[ -e "$DIR/cgroup.controllers" ] && V2=1
if [ $V2 = 1 ]; then SHARES=cpu.weight WANT_WF=100 WANT_PLAT=300 H=""; else SHARES=cpu.shares WANT_WF=1024 WANT_PLAT=3072 H=cpu; fi

check platform-weight eq "$(cat "$DIR/platform/$SHARES")" "$WANT_PLAT"
for svc in unifaasd redis mosquitto; do
	pid=$(cat "$PLAT_STATE/$svc.pid")
	check "platform-has-$svc" eq "$(cg_of "$pid" "$H")" "/$NAME/platform"
done

sleeper one || fail deploy-one "no unit of one: $(U ps 2>&1 | tr '\n' ' ')"
sleeper two 2 || fail deploy-two "no unit of two: $(U ps 2>&1 | tr '\n' ' ')"
P1=$(unit_pid one) P2=$(unit_pid two)
check unit-in-its-group eq "$(cg_of "$P1" "$H")" "/$NAME/wf-one"
check other-unit-in-its-group eq "$(cg_of "$P2" "$H")" "/$NAME/wf-two"
if [ -n "$ACCT" ] && [ "$ACCT" != - ]; then
	check unit-in-its-acct-group eq "$(cg_of "$P1" cpuacct)" "/$NAME/wf-one"
fi
check workflow-weight eq "$(cat "$DIR/wf-one/$SHARES")" "$WANT_WF"
check workflow-weight-by-share eq "$(cat "$DIR/wf-two/$SHARES")" $((2 * WANT_WF))
# the instance weighs its groups together: platform and the two workflows
check instance-weight eq "$(cat "$DIR/$SHARES")" $((WANT_PLAT + 3 * WANT_WF))
check describe-cpu U describe one
U describe one | grep -q '^cpu: .* s used by its units' && pass describe-cpu-line ||
	fail describe-cpu-line "$(U describe one | head -8 | tr '\n' ' ')"
TOKEN=$(cat "$PLAT_STATE/api.token")
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PLAT_API_PORT/metrics" >"$UF_TMP/metrics.txt"
check metrics-workflow-cpu grep -q '^unifaas_workflow_cpu_seconds_total{workflow="one"} ' "$UF_TMP/metrics.txt"
check metrics-platform-cpu grep -q '^unifaas_platform_cpu_seconds_total ' "$UF_TMP/metrics.txt"

# a workflow's group goes once its units are gone
U undeploy one >/dev/null
check undeployed-group-removed wait_for 60 gone "$DIR/wf-one"
check other-group-kept test -d "$DIR/wf-two"
check instance-weight-after-undeploy eq "$(cat "$DIR/$SHARES")" $((WANT_PLAT + 2 * WANT_WF))

# a second platform on this machine: its own groups; its down leaves ours
S2="$UF_TMP/second.state"
A2=$(uf_port) M2=$(uf_port) I2=$(uf_port)
if "$UNIFAAS" --state-dir "$S2" up --api-port "$A2" --mqtt-port "$M2" --ingress-port "$I2" >"$UF_TMP/second.up" 2>&1; then
	DIR2=$(inst_dir "$S2")
	check second-own-dir test -d "$DIR2" -a "$DIR2" != "$DIR"
	"$UNIFAAS" --state-dir "$S2" down >/dev/null 2>&1
	check second-down-removes-its-own wait_for 30 gone "$DIR2"
	check second-down-keeps-ours test -d "$DIR/wf-two" -a -d "$DIR/platform"
	check our-unit-still-there kill -0 "$P2"
else
	fail second-up "$(tail -3 "$UF_TMP/second.up" | tr '\n' ' ')"
fi

dead() { ! [ -e "/proc/$1" ] || grep -q '^[^ ]* ([^)]*) Z' "/proc/$1/stat"; }
# unifaasd stopped alone (SIGTERM): the workflows' groups go with its
# units; platform stays, holding redis-server and mosquitto
DPID=$(cat "$PLAT_STATE/unifaasd.pid")
kill -TERM "$DPID"
wait_for 60 dead "$DPID"
check daemon-stop-removes-workflow-groups wait_for 30 gone "$DIR/wf-two"
check daemon-stop-keeps-platform eq "$(cg_of "$(cat "$PLAT_STATE/redis.pid")" "$H")" "/$NAME/platform"
U up >"$UF_TMP/restart0.up" 2>&1 || fail restart-after-stop "$(tail -3 "$UF_TMP/restart0.up" | tr '\n' ' ')"
echo x | U push two in >/dev/null
check restart-after-stop-unit wait_for 60 units_is two 1

# a crash: unifaasd killed (-9), a group of a workflow it no longer has
# left behind (made by hand: as if undeployed while the daemon was down);
# the next start removes it and keeps the deployed one's
DPID=$(cat "$PLAT_STATE/unifaasd.pid")
kill -9 "$DPID"
wait_for 30 dead "$DPID"
mkdir "$DIR/wf-ghost" 2>/dev/null
[ -n "$ACCT" ] && [ "$ACCT" != - ] && mkdir "$ACCT/wf-ghost" 2>/dev/null
check ghost-made test -d "$DIR/wf-ghost"
U up >"$UF_TMP/restart.up" 2>&1 ||
	fail restart "$(tail -3 "$UF_TMP/restart.up" | tr '\n' ' ')"
check restart-same-dir eq "$(inst_dir "$PLAT_STATE")" "$DIR"
check restart-removes-stale wait_for 30 gone "$DIR/wf-ghost"
check restart-keeps-deployed wait_for 60 units_is two 1
check restart-unit-in-group eq "$(cg_of "$(unit_pid two)" "$H")" "/$NAME/wf-two"
check restart-daemon-in-platform eq "$(cg_of "$(cat "$PLAT_STATE/unifaasd.pid")" "$H")" "/$NAME/platform"

# down: nothing of the instance is left, in either hierarchy
plat_down
check down-removes-all wait_for 30 gone "$DIR"
[ -n "$ACCT" ] && [ "$ACCT" != - ] && check down-removes-acct wait_for 30 gone "$ACCT"

# a hierarchy that cannot be used: said once, with the fix; units run
PLAT_CONF="cpu_cgroup=$UF_TMP/not-a-cgroup"
plat_up || fail up-unusable "$(tail -3 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
check unusable-logged-once eq "$(grep -c 'what=cpu-cgroups result=off .*not-a-cgroup.*fix=' "$PLAT_STATE/logs/unifaasd.log")" 1
check unusable-units-run sleeper three
check unusable-no-group test ! -e "$DIR"
check unusable-no-cpu-in-describe bash -c "! '$UNIFAAS' --state-dir '$PLAT_STATE' describe three | grep -q '^cpu:'"

# cgroup v2 as systemd delegates a cgroup to a service (Delegate=yes): the
# platform started inside that cgroup itself, which so holds processes (v2
# gives controllers only to the children of a cgroup without any): unifaasd
# moves them all into its `platform` group, then enables cpu there; `down`
# gives the cgroup back able to take the service's next processes.  Needs
# the real v2 root (the emulated board: tests/emulated/arm64_platform.sh;
# this x86-64 host has v1 only).
V2ROOT=$(dirname "$DIR")
if [ $V2 = 1 ] && [ ! -e "$V2ROOT/cgroup.type" ] && [ "$(id -u)" = 0 ]; then
	plat_down
	SLICE=$V2ROOT/uf-test-$$.slice
	SVC=$SLICE/unifaas.service REL=/uf-test-$$.slice/unifaas.service
	trap 'plat_cleanup; rmdir "$SVC" "$SLICE" 2>/dev/null' EXIT
	mkdir -p "$SVC" && echo +cpu >"$V2ROOT/cgroup.subtree_control" && echo +cpu >"$SLICE/cgroup.subtree_control" ||
		fail delegated-setup "cannot make $SVC with the cpu controller"
	PLAT_CONF=$(printf 'cpu_cgroup=%s\ncpu_platform_weight=300' "$SVC")
	# `unifaas up` run in the service's own cgroup, as systemd starts it
	in_svc_up() { echo "$BASHPID" >"$SVC/cgroup.procs" && plat_up; }
	(in_svc_up) || fail delegated-up "$(tail -3 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
	said() { grep -h 'what=cpu-cgroups' "$PLAT_STATE/logs/unifaasd.log" | tail -1; }
	[ "$(inst_dir "$PLAT_STATE")" = "$SVC/$NAME" ] && pass delegated-on || fail delegated-on "$(said)"
	check delegated-base-vacated eq "$(cat "$SVC/cgroup.procs")" ""
	for svc in unifaasd redis mosquitto; do
		check "delegated-platform-has-$svc" eq "$(cg_of "$(cat "$PLAT_STATE/$svc.pid")" "")" "$REL/$NAME/platform"
	done
	check delegated-platform-weight eq "$(cat "$SVC/$NAME/platform/cpu.weight")" 300
	sleeper four 3 || fail delegated-deploy "no unit of four: $(U ps 2>&1 | tr '\n' ' ')"
	check delegated-unit-in-group eq "$(cg_of "$(unit_pid four)" "")" "$REL/$NAME/wf-four"
	check delegated-workflow-weight eq "$(cat "$SVC/$NAME/wf-four/cpu.weight")" 300
	U down >"$UF_TMP/delegated.down" 2>&1 || fail delegated-down "$(cat "$UF_TMP/delegated.down")"
	# what is left in a cgroup tree: each group's processes, named
	cg_left() { find "$1" -name cgroup.procs 2>/dev/null | while read -r f; do
		echo "${f%/cgroup.procs}: $(for p in $(cat "$f"); do echo "$p $(cat /proc/$p/comm 2>/dev/null)"; done | tr '\n' ' ')"
	done | tr '\n' ';'; }
	wait_for 30 gone "$SVC/$NAME" && pass delegated-down-removes || fail delegated-down-removes "$(cg_left "$SVC")"
	check delegated-base-takes-processes-again bash -c "! grep -qw cpu '$SVC/cgroup.subtree_control'"
	# the service started again in the same cgroup
	(in_svc_up) || fail delegated-restart "$(tail -3 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
	[ "$(inst_dir "$PLAT_STATE")" = "$SVC/$NAME" ] && pass delegated-restart-on || fail delegated-restart-on "$(said)"
	check delegated-restart-daemon-in-platform eq "$(cg_of "$(cat "$PLAT_STATE/unifaasd.pid")" "")" "$REL/$NAME/platform"
	# stopped as systemd stops a service (every process of its cgroup killed,
	# no `unifaas down`): the next start in the same cgroup works as well
	echo 1 >"$SVC/cgroup.kill"
	check delegated-killed wait_for 30 bash -c "! kill -0 $(cat "$PLAT_STATE/unifaasd.pid") 2>/dev/null"
	(in_svc_up) || fail delegated-start-after-kill "$(tail -3 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
	[ "$(inst_dir "$PLAT_STATE")" = "$SVC/$NAME" ] && pass delegated-start-after-kill-on || fail delegated-start-after-kill-on "$(said)"
	check delegated-start-after-kill-base-vacated eq "$(cat "$SVC/cgroup.procs")" ""
	check delegated-start-after-kill-weight eq "$(cat "$SVC/$NAME/platform/cpu.weight")" 300
	plat_down
	wait_for 30 gone "$SVC/$NAME" && pass delegated-restart-down-removes || fail delegated-restart-down-removes "$(cg_left "$SVC")"
	# a cgroup whose parent does not give it cpu (a systemd unit without
	# Delegate=): said once, naming the file and the fix; units run
	mkdir -p "$SLICE/nocpu.service"
	PLAT_CONF="cpu_cgroup=$SLICE/nocpu.service"
	echo -cpu >"$SLICE/cgroup.subtree_control"
	plat_up || fail nocpu-up "$(tail -3 "$UF_TMP/$UF_SUITE.up.log" | tr '\n' ' ')"
	said | grep -q "result=off cause=\"$SLICE/nocpu.service/cgroup.controllers: no cpu controller there: enable it with .echo +cpu > $SLICE/cgroup.subtree_control. .*Delegate=yes" &&
		pass delegated-nocpu-names-file-and-fix || fail delegated-nocpu-names-file-and-fix "$(said)"
	check delegated-nocpu-units-run sleeper five
	plat_down
	rmdir "$SLICE/nocpu.service"
	# unifaasd as a user no cgroup is delegated to (cpu_cgroup=auto: the v2
	# root, which is root's): said once, naming what it may not create and the fix
	NB=$UF_TMP/nobody.state
	mkdir -p "$NB" && chown 65534:65534 "$NB" && chmod 700 "$NB"
	as_nobody() { python3 -c 'import os, sys; os.setgroups([]); os.setgid(65534); os.setuid(65534); os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }
	if HOME=$NB as_nobody "$UNIFAAS" --state-dir "$NB" up --api-port "$(uf_port)" --mqtt-port "$(uf_port)" --ingress-port "$(uf_port)" >"$UF_TMP/nobody.up" 2>&1; then
		nb_said=$(grep -h 'what=cpu-cgroups' "$NB/logs/unifaasd.log" | tail -1)
		[[ $nb_said == *"result=off cause=\"$V2ROOT/unifaas-"*": cannot create it: Permission denied (unifaasd may not write this cgroup: run it as root, or delegate a cgroup to its user"*"set cpu_cgroup to that cgroup's directory"* ]] &&
			pass nonroot-names-dir-and-fix || fail nonroot-names-dir-and-fix "$nb_said"
		HOME=$NB as_nobody "$UNIFAAS" --state-dir "$NB" down >/dev/null 2>&1
	else
		fail nonroot-up "$(tail -3 "$UF_TMP/nobody.up" | tr '\n' ' ')"
	fi
else
	skip delegated-v2 "needs the cgroup v2 root ($([ $V2 = 1 ] && echo "instance in $V2ROOT" || echo 'this host: cgroup v1'))"
fi
finish
