#!/usr/bin/env bash
# The MQTT broker `unifaas up` starts (cli/broker.c), driven with the real
# mosquitto_pub/mosquitto_sub: no anonymous client; the platform's account
# (unifaasd, password in mqtt.pass) reads and writes everything (unifaasd
# connects on its own listener, the unix socket mqtt.sock); device
# accounts from `unifaas device add` publish only under their filters
# (mosquitto drops the rest silently: a subscriber must never see it),
# subscribe nowhere, and are disconnected by `device rm`; a LAN listener on
# mqtt_bind (127.0.0.2 here, still loopback) and a TLS listener with a CA
# made here by openssl (a client trusting another CA is refused).
. "$(dirname "$0")/../lib.sh"
. "$UF_TOP/tests/platform/lib.sh"
. "$UF_TOP/tests/platform/pki.sh"

W=$UF_TMP/broker
mkdir -p "$W"
TLS_PORT=$(uf_port) || { fail ports "no free port for TLS"; exit 0; }

# a CA, a server certificate for 127.0.0.1 and 127.0.0.2 signed by it, and another CA
if ! pki_ca "$W" ca || ! pki_ca "$W" otherca || ! pki_cert "$W" srv ca IP:127.0.0.2 IP:127.0.0.1; then
	fail openssl "could not make the test CA and certificate"
	exit 0
fi

# Bad broker settings are refused by `up` before anything starts.
bad_up() { # NAME CONF REGEX
	local s="$W/bad-$1"
	mkdir -p -m 700 "$s" && printf '%s\n' "$2" >"$s/unifaasd.conf"
	"$UNIFAAS" --state-dir "$s" up --api-port "$PLAT_API_PORT" --mqtt-port "$PLAT_MQTT_PORT" >"$s.out" 2>&1
	local rc=$?
	if [ $rc = 1 ] && grep -qE "$3" "$s.out" && [ ! -e "$s/redis.pid" ]; then
		pass "up-refuses-$1"
	else
		fail "up-refuses-$1" "status $rc: $(cat "$s.out")"
	fi
}
# a state dir whose path redis.conf and mosquitto.conf cannot hold (a space
# cut redis.conf's unixsocket line; a newline would add a line of its own)
sd_n=0
for d in "my state" "$(printf 'x\nallow_anonymous true')"; do
	sd_n=$((sd_n + 1))
	out=$("$UNIFAAS" --state-dir "$W/$d" up --api-port "$PLAT_API_PORT" --mqtt-port "$PLAT_MQTT_PORT" 2>&1)
	rc=$?
	[ $rc = 2 ] && grep -q "^unifaas: up: state dir .*: has a space, a control character or a quote" <<<"$out" &&
		[ ! -e "$W/$d/redis.conf" ] && pass "up-refuses-state-dir-$sd_n" || fail "up-refuses-state-dir-$sd_n" "status $rc: $out"
	[ -e "$W/$d/redis.pid" ] && "$UNIFAAS" --state-dir "$W/$d" down >/dev/null 2>&1
done
bad_up bind "mqtt_bind=lan" "^unifaas: up: mqtt_bind=lan in .*/unifaasd.conf: not an IPv4 or IPv6 address"
bad_up tls-no-cert "mqtt_tls_port=$TLS_PORT" "^unifaas: up: mqtt_tls_port=$TLS_PORT in .*: needs mqtt_tls_cert=PATH"
bad_up tls-missing-key "$(printf 'mqtt_tls_port=%s\nmqtt_tls_cert=%s\nmqtt_tls_key=%s' "$TLS_PORT" "$W/srv.pem" "$W/none.key")" \
	"^unifaas: up: mqtt_tls_key=$W/none.key in .*: No such file or directory"

PLAT_CONF=$(printf 'mqtt_bind=127.0.0.2\nmqtt_tls_port=%s\nmqtt_tls_cert=%s\nmqtt_tls_key=%s' \
	"$TLS_PORT" "$W/srv.pem" "$W/srv.key")
plat_suite_up
M=$PLAT_MQTT_PORT
S=$PLAT_STATE
PASS=$(cat "$S/mqtt.pass")

U status >"$W/status.out" 2>&1
grep -qx "mqtt_lan_url: mqtt://127.0.0.2:$M" "$W/status.out" && grep -qx "mqtt_tls_url: mqtts://127.0.0.2:$TLS_PORT" "$W/status.out" &&
	pass status-urls || fail status-urls "$(cat "$W/status.out")"
for f in mqtt.pass mosquitto.passwd mosquitto.acl mqtt.devices mosquitto.conf; do
	[ "$(stat -c %a "$S/$f" 2>/dev/null)" = 600 ] || fail "mode-$f" "$(stat -c %a "$S/$f" 2>&1)"
done
pass files-0600
grep -qx "mqtt_username=unifaasd" "$S/unifaas.conf" && grep -qx "mqtt_password_file=$S/mqtt.pass" "$S/unifaas.conf" &&
	grep -qx "mqtt_socket=$S/mqtt.sock" "$S/unifaas.conf" &&
	pass daemon-conf || fail daemon-conf "$(cat "$S/unifaas.conf")"
grep -qx "allow_anonymous false" "$S/mosquitto.conf" && ! grep -q "^unifaasd:" "$S/mqtt.pass" &&
	grep -q '^unifaasd:\$7\$101\$' "$S/mosquitto.passwd" && ! grep -qF "$PASS" "$S/mosquitto.passwd" &&
	pass passwd-hashed || fail passwd-hashed "$(cat "$S/mosquitto.conf" "$S/mosquitto.passwd")"
# every listener but unifaasd's own socket makes a client's id its username
[ "$(grep -c '^listener ' "$S/mosquitto.conf")" = 4 ] && grep -qx "listener 0 $S/mqtt.sock" "$S/mosquitto.conf" &&
	[ "$(grep -c '^use_username_as_clientid true$' "$S/mosquitto.conf")" = 3 ] && pass listeners ||
	fail listeners "$(cat "$S/mosquitto.conf")"

# anonymous: refused on every listener
for a in 127.0.0.1 127.0.0.2; do
	out=$(mosquitto_pub -h $a -p "$M" -t x -m anon -q 1 2>&1)
	[ $? != 0 ] && grep -q "not authorised" <<<"$out" && pass "anonymous-refused-$a" ||
		fail "anonymous-refused-$a" "$out"
done

# sub NAME FILTER: a subscriber with the platform's account, its messages in
# $W/NAME.out, ready when a probe it subscribed to came back
sub() {
	mosquitto_sub --unix "$S/mqtt.sock" -u unifaasd -P "$PASS" -i "$1" -q 1 -v -t "$2" -t "probe/$1" >"$W/$1.out" 2>&1 &
	eval "SUB_$1=$!"
	wait_for 30 probe "$1"
}
probe() {
	mosquitto_pub --unix "$S/mqtt.sock" -u unifaasd -P "$PASS" -t "probe/$1" -m ready -q 1 && grep -q "^probe/$1 ready" "$W/$1.out"
}
got() { grep -qxF -- "$2" "$W/$1.out"; }
pub() { # USER PASS HOST PORT TOPIC MSG QOS [mosquitto_pub options]
	local u=$1 p=$2 h=$3 port=$4 t=$5 m=$6 q=$7
	shift 7
	mosquitto_pub -h "$h" -p "$port" -u "$u" -P "$p" -t "$t" -m "$m" -q "$q" -i "pub-$u-$RANDOM" "$@"
}

sub all '#' || { fail sub "the platform's account could not subscribe to #"; exit 0; }
pass platform-subscribes

# device add: exactly two lines
U device add sck1 --topic 'device/sck/+/readings/raw' --topic 'sck/status' >"$W/sck1.cred" 2>"$W/sck1.err"
rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$W/sck1.cred")" = 2 ] && grep -qx "username: sck1" "$W/sck1.cred" &&
	grep -qxE "password: [0-9a-f]{32}" "$W/sck1.cred" && pass device-add-prints-credentials ||
	fail device-add-prints-credentials "status $rc: $(cat "$W/sck1.cred" "$W/sck1.err")"
DP=$(sed -n 's/^password: //p' "$W/sck1.cred")
! grep -qF "$DP" "$S/mqtt.devices" "$S/mosquitto.passwd" "$S/mosquitto.acl" && pass device-password-not-stored ||
	fail device-password-not-stored "the password is in a file"

# publishes under its filters, over loopback and the LAN listener, QoS 0 and 1
pub sck1 "$DP" 127.0.0.1 "$M" device/sck/tok1/readings/raw r1 1 && pub sck1 "$DP" 127.0.0.2 "$M" sck/status s2 0 &&
	wait_for 30 got all "device/sck/tok1/readings/raw r1" && wait_for 30 got all "sck/status s2" &&
	pass device-publishes || fail device-publishes "$(cat "$W/all.out")"

# outside its filters: accepted by the protocol, never delivered. The marker
# is published after them by the same account: when it arrives they would have
pub sck1 "$DP" 127.0.0.1 "$M" device/other/tok1/readings/raw out1 1
pub sck1 "$DP" 127.0.0.1 "$M" sck/status/deeper out2 0
pub sck1 "$DP" 127.0.0.1 "$M" devices/sck1/x out3 1
pub sck1 "$DP" 127.0.0.1 "$M" sck/status marker 1
if wait_for 30 got all "sck/status marker" && ! grep -q " out[0-9]$" "$W/all.out"; then
	pass outside-filter-not-delivered
else
	fail outside-filter-not-delivered "$(cat "$W/all.out")"
fi

# a device subscribes nowhere: what the platform publishes reaches the
# platform's subscriber, never the device's
mosquitto_sub -h 127.0.0.1 -p "$M" -u sck1 -P "$DP" -i sck1-sub -q 1 -v -t 'sck/#' -t '#' >"$W/devsub.out" 2>&1 &
DEVSUB=$!
wait_for 30 grep -q "as sck1 " "$S/logs/mosquitto.log" && probe all # a round trip after its SUBSCRIBE
mosquitto_pub --unix "$S/mqtt.sock" -u unifaasd -P "$PASS" -t sck/status -m tosub -q 1
wait_for 30 got all "sck/status tosub" && sleep 0.5
kill "$DEVSUB" 2>/dev/null
got all "sck/status tosub" && [ ! -s "$W/devsub.out" ] && pass device-cannot-subscribe ||
	fail device-cannot-subscribe "the device's subscriber got: $(cat "$W/devsub.out")"

# wrong password, unknown user
out=$(pub sck1 "${DP%?}x" 127.0.0.1 "$M" sck/status wrong 1 2>&1)
[ $? != 0 ] && grep -q "not authorised" <<<"$out" && pass wrong-password-refused || fail wrong-password-refused "$out"
out=$(pub nobody "$DP" 127.0.0.1 "$M" sck/status nobody 1 2>&1)
[ $? != 0 ] && grep -q "not authorised" <<<"$out" && pass unknown-user-refused || fail unknown-user-refused "$out"

# the default filter, and ls
DP2=$(U device add lamp | sed -n 's/^password: //p')
pub lamp "$DP2" 127.0.0.1 "$M" devices/lamp/state on 1 && wait_for 30 got all "devices/lamp/state on" &&
	pass default-filter || fail default-filter "$(cat "$W/all.out")"
U device ls >"$W/ls.out" 2>&1
grep -qE "^sck1 +device/sck/\+/readings/raw sck/status$" "$W/ls.out" && grep -qE "^lamp +devices/lamp/#$" "$W/ls.out" &&
	! grep -qF -e "$DP" -e "$DP2" -e '$7$' "$W/ls.out" && pass device-ls || fail device-ls "$(cat "$W/ls.out")"

# bad names and filters: status 2, naming them; an existing name: status 1
expect() { # NAME STATUS REGEX CMD...
	local name=$1 want=$2 re=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] && grep -qE -- "$re" <<<"$out" && pass "$name" || fail "$name" "status $rc: $out"
}
expect bad-device-name 2 "^unifaas: device: device name 'a/b' is not valid: use 1\.\.48 characters" U device add a/b
expect device-name-platform 2 "^unifaas: device add: 'unifaasd': names starting with 'unifaasd' are the platform's" U device add unifaasd
expect device-name-platform-id 2 "^unifaas: device add: 'unifaasd-co2': names starting with 'unifaasd' are the platform's" \
	U device add unifaasd-co2
expect bad-filter-hash 2 "^unifaas: device: --topic 'a/#/b': not a topic filter: it '\+' and '#' must fill a whole level" \
	U device add d1 --topic 'a/#/b'
expect bad-filter-plus 2 "^unifaas: device: --topic 'a/b\+': not a topic filter" U device add d1 --topic 'a/b+'
expect bad-filter-newline 2 "^unifaas: device: --topic 'a\\\\x0ab': not a topic filter: it must not contain control characters" \
	U device add d1 --topic "$(printf 'a\nb')"
expect bad-filter-empty 2 "^unifaas: device: --topic '': not a topic filter: it must be 1\.\.65535 bytes" \
	U device add d1 --topic ''
expect device-exists 1 "^unifaas: device add: device 'sck1' exists already" U device add sck1
expect device-rm-unknown 4 "^unifaas: device rm: no device 'ghost'" U device rm ghost
expect device-op-unknown 2 "^unifaas: device: unknown operation 'del': expected add, ls or rm" U device del sck1
expect device-add-no-name 2 "^unifaas: device add: missing NAME" U device add
expect device-ls-topic 2 "^unifaas: device ls: --topic is for 'device add'" U device ls --topic a
# adds at once: each holds the registry's lock, none loses another's device
for i in 1 2 3 4 5 6; do U device add "par$i" >"$W/par$i.out" 2>&1 & done
wait_jobs=$(jobs -p)
for j in $wait_jobs; do [ "$j" = "$SUB_all" ] || wait "$j"; done
n=$(U device ls | grep -c "^par[1-6] ")
[ "$n" = 6 ] && [ "$(grep -c "^par[1-6]:" "$S/mosquitto.passwd")" = 6 ] && pass device-add-concurrent ||
	fail device-add-concurrent "$n of 6 listed: $(cat "$W"/par*.out)"
grep -q "^d1	" "$S/mqtt.devices" && fail bad-not-added "d1 is in the registry" || pass bad-not-added

# rm: a connected device is disconnected and cannot connect again
(sleep 30) | mosquitto_pub -h 127.0.0.1 -p "$M" -u lamp -P "$DP2" -i lamp-live -t devices/lamp/x -l >"$W/live.out" 2>&1 &
LIVE=$!
wait_for 30 grep -q "as lamp .*u'lamp'" "$S/logs/mosquitto.log" || fail live "lamp did not connect" # its id: its username
U device rm lamp && pass device-rm || fail device-rm "status $?"
wait_for 30 grep -q "Client lamp disconnected" "$S/logs/mosquitto.log" && pass rm-disconnects ||
	fail rm-disconnects "$(tail -5 "$S/logs/mosquitto.log")"
kill "$LIVE" 2>/dev/null
out=$(pub lamp "$DP2" 127.0.0.1 "$M" devices/lamp/state off 1 2>&1)
[ $? != 0 ] && grep -q "not authorised" <<<"$out" && pass rm-refused || fail rm-refused "$out"
U device ls | grep -q "^lamp " && fail rm-ls "lamp still listed" || pass rm-ls

# TLS: the CA made here is trusted, another CA is not; TLS listens on mqtt_bind
pub sck1 "$DP" 127.0.0.2 "$TLS_PORT" sck/status tls1 1 --cafile "$W/ca.pem" && wait_for 30 got all "sck/status tls1" &&
	pass tls-good-ca || fail tls-good-ca "$(cat "$W/all.out")"
out=$(pub sck1 "$DP" 127.0.0.2 "$TLS_PORT" sck/status tls2 1 --cafile "$W/otherca.pem" 2>&1)
[ $? != 0 ] && ! got all "sck/status tls2" && pass tls-wrong-ca-refused || fail tls-wrong-ca-refused "$out"
out=$(pub sck1 "$DP" 127.0.0.2 "$TLS_PORT" sck/status tls3 1 2>&1)
[ $? != 0 ] && pass tls-plain-refused || fail tls-plain-refused "a plain client was served on the TLS port: $out"
out=$(pub nobody x 127.0.0.2 "$TLS_PORT" sck/status tls4 1 --cafile "$W/ca.pem" 2>&1)
[ $? != 0 ] && grep -q "not authorised" <<<"$out" && pass tls-needs-account || fail tls-needs-account "$out"

# a device on any listener cannot take over a session of the platform by
# connecting with its client id ("all": the platform account's subscriber;
# unifaasd's are "unifaasd-<wf>", mqtt.sh): there its id is its username
pub sck1 "$DP" 127.0.0.1 "$M" sck/status hijack0 1 -i all && wait_for 30 got all "sck/status hijack0" &&
	pub sck1 "$DP" 127.0.0.2 "$M" sck/status hijack1 1 -i all &&
	pub sck1 "$DP" 127.0.0.2 "$TLS_PORT" sck/status hijack2 1 -i all --cafile "$W/ca.pem" &&
	wait_for 30 got all "sck/status hijack1" && wait_for 30 got all "sck/status hijack2" &&
	! grep -q "Client all already connected" "$S/logs/mosquitto.log" && kill -0 "$SUB_all" &&
	pass device-cannot-take-client-id ||
	fail device-cannot-take-client-id "$(grep -E "as all |Client all " "$S/logs/mosquitto.log" | tail -4)"

# the accounts survive a restart (up renders the broker's files from the registry)
kill "$SUB_all" 2>/dev/null
plat_down
U up --api-port "$PLAT_API_PORT" --mqtt-port "$M" >"$W/up2.out" 2>&1 || fail up-again "$(cat "$W/up2.out")"
[ "$(cat "$S/mqtt.pass")" = "$PASS" ] && sub again 'sck/#' && pub sck1 "$DP" 127.0.0.1 "$M" sck/status back 1 &&
	wait_for 30 got again "sck/status back" && pass devices-survive-restart ||
	fail devices-survive-restart "$(cat "$W/again.out")"
kill "$SUB_again" 2>/dev/null

# what one device account can make the broker hold: a packet over 4 MiB is
# refused (unifaasd takes payloads of 1 MiB at most), and a persistent
# session that is not read (a stopped workflow's) holds at most 256 MiB;
# without these a device's 100 MB messages grew mosquitto by 100 MB each
DP3=$(U device add bulk --topic 'bulk/#' | sed -n 's/^password: //p')
mosquitto_sub --unix "$S/mqtt.sock" -u unifaasd -P "$PASS" -i q1 -c -q 1 -t 'bulk/#' -E
head -c $((5 << 20)) /dev/zero | tr '\0' y >"$W/5m"
mosquitto_pub -h 127.0.0.1 -p "$M" -u bulk -P "$DP3" -i bulk -q 1 -t bulk/big -f "$W/5m" >/dev/null 2>&1
python3 -c 'import sys; l = b"x" * (1 << 20) + b"\n"; [sys.stdout.buffer.write(l) for _ in range(300)]' |
	mosquitto_pub -h 127.0.0.1 -p "$M" -u bulk -P "$DP3" -i bulk -q 1 -t bulk/m -l
# what the session held is read until a marker published behind it (once
# the reader has taken a message, so there is room for it) comes: read
# for a fixed 20 s, a loaded machine took in fewer than 200 of them
mosquitto_sub --unix "$S/mqtt.sock" -u unifaasd -P "$PASS" -i q1 -c -q 1 -t 'bulk/#' -F '%t %l' >"$W/q1.out" 2>&1 &
q1=$!
wait_for 60 grep -q '^bulk/m ' "$W/q1.out"
mosquitto_pub -h 127.0.0.1 -p "$M" -u bulk -P "$DP3" -i bulk -q 1 -t bulk/end -m end >/dev/null 2>&1
wait_for 300 grep -q '^bulk/end ' "$W/q1.out"
marker=$?
kill "$q1" 2>/dev/null
wait "$q1" 2>/dev/null
n1=$(grep -c '^bulk/m 1048576$' "$W/q1.out") n5=$(grep -c '^bulk/big ' "$W/q1.out")
[ $marker = 0 ] && [ "$n5" = 0 ] && [ "$n1" -ge 200 ] && [ "$n1" -le 257 ] && pass device-bounded ||
	fail device-bounded "the session held $n1 of 300 1-MiB messages (want 200..257) and $n5 5-MiB ones (want 0); marker read: $([ $marker = 0 ] && echo yes || echo no)"
