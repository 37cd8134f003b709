#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kyoto Cabinet on usermm: Debian's kchashtest (the file hash database's
# own tests: four threads writing into the file's 64 MiB shared mapping)
# run natively and then under the interposer
# (LD_PRELOAD=libusermm_preload.so), with small record counts:
#  - order, queue, wicked and tran with -th 4: they check themselves
#    (exit status 0, "ok" at the end, no line saying error); order also
#    with -msiz 1 MiB, so that only the file's first MiB is mapped and the
#    rest is read and written with pread/pwrite;
#  - order -set -th 4 (80k records), after which the file is checked and
#    listed natively (kchashmgr check, kchashmgr list): the same records
#    as the native run left; also with USERMM_PHYS (4 MiB) smaller than
#    the database (about 9 MiB);
#  - order and wicked again with USERMM_PHYS 4 MiB.
# Each run under usermm must show, in its USERMM_STATS file, file mappings
# served by usermm (preload_mmaps > 0) and host-MMU faults on them
# (host_faults > 0).  A missing package or interposer is a SKIP (exit 77),
# never a pass.
set -u
. "$(dirname "$0")/db/common.sh"

SMALL_PHYS=${KC_SMALL_PHYS:-4M}

# self_checked OUT WHAT: kchashtest's own verdict in its output.
self_checked() {
	if grep -qiw error "$1" || [ "$(grep -v '^$' "$1" | tail -n 1)" != ok ]; then
		fail "$2: kchashtest reports an error"
		grep -iw -m 5 error "$1" | sed 's/^/    /'
		return 1
	fi
}

# kct SIDE NAME ARGS...: kchashtest ARGS in a directory of its own, natively
# (SIDE nat) or under usermm (SIDE umm); its verdict checked.
kct() {
	local side=$1 name=$2 d=$TMP/$2-$1 rc; shift 2
	mkdir -p "$d"
	if [ $side = nat ]; then
		(cd "$d" && native kchashtest "$@") >"$d.out" 2>&1
	else
		(cd "$d" && on_umm "$d.stats" kchashtest "$@") >"$d.out" 2>&1
	fi
	rc=$?
	if [ $rc != 0 ]; then
		fail "kchashtest $name ($side) exited $rc"
		tail -n 5 "$d.out" | sed 's/^/    /'
		return 1
	fi
	self_checked "$d.out" "kchashtest $name ($side)" || return 1
	[ $side = nat ] && return 0
	served "$d.stats" "kchashtest $name"
}

if need_cmd kchashtest kyotocabinet-utils && need_cmd kchashmgr kyotocabinet-utils; then
	tests=(
		"order order -th 4 casket.kch 20000"
		"order-rnd order -th 4 -rnd -etc -tran casket.kch 3000"
		"order-msiz order -th 4 -msiz 1048576 casket.kch 20000"
		"queue queue -th 4 -it 4 casket.kch 5000"
		"wicked wicked -th 4 -it 4 casket.kch 5000"
		"tran tran -th 4 -it 4 casket.kch 5000"
	)
	for t in "${tests[@]}"; do
		set -- $t
		name=$1; shift
		kct nat "$name" "$@" || continue
		have_preload || continue
		kct umm "$name" "$@" && ok "kchashtest $name: passed under usermm as natively"
	done

	# the records written under usermm (also with less memory than data), read natively
	for side in nat umm umm-small; do
		[ $side = nat ] || { have_preload || break; }
		name=set
		[ $side = umm-small ] && { name=set-small; export USERMM_PHYS=$SMALL_PHYS; }
		kct ${side%-small} $name order -set -th 4 casket.kch 20000
		rc=$?
		unset USERMM_PHYS
		[ $rc = 0 ] || continue
		db=$TMP/$name-${side%-small}/casket.kch
		kchashmgr check "$db" >"$TMP/set-$side.check" 2>&1 || { fail "kchashmgr check of the file ($side) failed"; continue; }
		kchashmgr list -pv "$db" | sort >"$TMP/set-$side.list"
		[ $side = nat ] && continue
		[ -e "$TMP/set-nat.list" ] || continue
		what="kchashtest order -set"
		[ $side = umm-small ] && what="$what (USERMM_PHYS=$SMALL_PHYS)"
		same "$TMP/set-nat.list" "$TMP/set-$side.list" "the records $what wrote under usermm, listed natively" &&
			ok "$what: the file written under usermm passes kchashmgr check and holds the same 80000 records"
	done
	[ ! -e "$TMP/set-nat.list" ] || [ "$(wc -l <"$TMP/set-nat.list")" = 80000 ] ||
		fail "natively, order -set left $(wc -l <"$TMP/set-nat.list") records, not 80000"

	# less physical memory than data
	if have_preload; then
		export USERMM_PHYS=$SMALL_PHYS
		kct umm "order-small" order -th 4 casket.kch 20000 &&
			ok "kchashtest order: passed with USERMM_PHYS=$SMALL_PHYS"
		kct umm "wicked-small" wicked -th 4 -it 4 casket.kch 5000 &&
			ok "kchashtest wicked: passed with USERMM_PHYS=$SMALL_PHYS"
		unset USERMM_PHYS
	fi
fi

finish
