# tests/platform/pki.sh - test certificates made with openssl, for the
# suites and benchmarks that need TLS (egress, broker, edges): one way to
# make a CA and a certificate it signs.  EC P-256 keys (fast to make).
#
# pki_ca DIR NAME              DIR/NAME.key, DIR/NAME.pem: a self-signed CA
# pki_cert DIR NAME CA SAN...  DIR/NAME.key, DIR/NAME.pem signed by DIR/CA,
#                              for the subjectAltName entries SAN (e.g.
#                              IP:127.0.0.1 DNS:localhost); CN is the first
# Both fail (status 1, nothing said) when openssl does.

pki_ca() {
	mkdir -p "$1" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1/$2.key" \
			-out "$1/$2.pem" -days 2 -subj "/CN=unifaas test $2" >/dev/null 2>&1
}

pki_cert() {
	local dir=$1 name=$2 ca=$3 san
	shift 3
	san=$(
		IFS=,
		echo "$*"
	)
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/$name.key" \
		-out "$dir/$name.csr" -subj "/CN=${1#*:}" >/dev/null 2>&1 &&
		printf 'subjectAltName=%s\n' "$san" >"$dir/$name.ext" &&
		openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" -CAcreateserial \
			-days 2 -extfile "$dir/$name.ext" -out "$dir/$name.pem" >/dev/null 2>&1
}
