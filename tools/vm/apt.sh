# SPDX-License-Identifier: GPL-2.0
# apt helpers for tools/vm: packages from the Debian archive this machine already uses,
# through a private source list, so that the system's apt configuration is never touched.
# Source it.

# The main Debian archive's URI, from deb822 sources or the one-line format.
archive_uri() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i !~ /-security$/) ok = 1 }
			/^$/ { if (ok && uri != "") { print uri; exit } ok = 0; uri = "" }
			END { if (ok && uri != "") print uri }
		' "$f" | grep -v -- '-security' | head -n 1
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" && $0 !~ /security/ {
			for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
	done
}
# private_apt DIR SUITE [ARCH]: set `aptopts` to apt options that read only SUITE (main) of
# the machine's archive, for architecture ARCH (default: the host's), keeping lists and
# downloads under DIR.
private_apt() {
	local dir=$1 suite=$2 arch=${3:-} uri opt=
	uri=$(archive_uri | head -n 1)
	[ -n "$uri" ] || { echo "no Debian archive found in the apt sources" >&2; return 1; }
	mkdir -p "$dir/lists/partial" "$dir/cache"
	[ -z "$arch" ] || opt="arch=$arch "
	echo "deb [${opt}signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
		"$uri $suite main" > "$dir/sources.list"
	aptopts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		 -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
		 -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	[ -z "$arch" ] || aptopts+=(-o "APT::Architectures::=$arch" -o "APT::Architecture=$arch")
}
