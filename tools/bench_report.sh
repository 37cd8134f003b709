#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_report.sh - what `make bench-report` runs: the whole benchmark
# suite once, then the generated part of the benchmark document.
#
#   tools/bench_report.sh USERMM DOC CHARTDIR [usermm bench arguments...]
#
# Runs `USERMM bench --json-file ...` (its text output, with the markdown
# tables, and its JSON lines from the same run), then replaces everything
# between the lines
#     <!-- bench-report:begin -->
#     <!-- bench-report:end -->
# of DOC with: the date, the commit, the machine (CPU model, cores, memory,
# kernel, whether it is a virtual machine and which), the load average,
# each benchmark's tables and "# target" lines, and one chart per
# benchmark (CHARTDIR/bench_NAME.svg, usermm against the kernel for every
# result with a kernel figure, log scale when the figures span more than
# 20x).  The rest of DOC, the hand-written explanations, is left as it is,
# so the report can be made again and again.  The charts need gnuplot
# (`make bench-report` installs Debian's gnuplot-nox when it is missing);
# without it the section says that there are no charts, and why.  The raw
# output of the run is kept in CHARTDIR/last-run.txt and
# CHARTDIR/last-run.jsonl (and its date, commit, load average and
# arguments in CHARTDIR/last-run.meta); BENCH_REPORT_REUSE=1 remakes the
# section and the charts from them without running anything.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 USERMM DOC CHARTDIR [bench arguments...]" >&2; exit 2; }
usermm=$1 doc=$2 chartdir=$3
shift 3
begin='<!-- bench-report:begin -->'
end='<!-- bench-report:end -->'
grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc" ||
	{ echo "$doc: no '$begin' ... '$end' section to fill" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$chartdir"

# ---- the machine ----
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -n "$cpu" ] || cpu="unknown CPU"
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel="Linux $(uname -r) ($(uname -m))"
virt=""
if command -v systemd-detect-virt >/dev/null 2>&1; then
	# --vm looks through a container at the machine under it
	v=$(systemd-detect-virt --vm 2>/dev/null || true)
	c=$(systemd-detect-virt --container 2>/dev/null || true)
	case "$v" in
	none) virt="no (systemd-detect-virt --vm: none)" ;;
	"") ;;
	*) virt="yes: $v (systemd-detect-virt --vm)" ;;
	esac
	case "$c" in
	none|"") ;;
	*) virt="${virt:-unknown}; the run was in a $c container" ;;
	esac
fi
if [ -z "$virt" ] || [ "${virt#unknown}" != "$virt" ]; then
	prod=$(cat /sys/class/dmi/id/product_name 2>/dev/null || true)
	vend=$(cat /sys/class/dmi/id/sys_vendor 2>/dev/null || true)
	if grep -qw hypervisor /proc/cpuinfo; then
		virt="yes (the CPU reports the hypervisor flag${prod:+; DMI: $vend $prod})${virt#unknown}"
	elif [ -n "$prod" ]; then
		virt="no hypervisor flag (DMI: $vend $prod)${virt#unknown}"
	else
		virt="unknown (no systemd-detect-virt, no DMI, no hypervisor flag)${virt#unknown}"
	fi
fi
load=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ", with local changes" || true)

# ---- the run ----
if [ -n "${BENCH_REPORT_REUSE-}" ]; then
	# remake the section from the last run (its own date, commit, load and arguments)
	for f in last-run.txt last-run.jsonl last-run.meta; do
		[ -s "$chartdir/$f" ] || { echo "BENCH_REPORT_REUSE: no $chartdir/$f" >&2; exit 1; }
		cp "$chartdir/$f" "$tmp/${f#last-}"
	done
	. "$tmp/run.meta"
	set -- $args
else
	echo "bench-report: running $usermm bench $* (load average $load)" >&2
	when=$(date -u '+%Y-%m-%d %H:%M UTC')
	start=$(date +%s)
	set +e
	"$usermm" bench --json-file "$tmp/run.jsonl" "$@" | tee "$tmp/run.txt" >&2
	rc=${PIPESTATUS[0]}
	set -e
	secs=$(( $(date +%s) - start ))
	printf '%s=%q\n' when "$when" commit "$commit" dirty "$dirty" load "$load" secs "$secs" \
		rc "$rc" args "$*" > "$tmp/run.meta"
	for f in run.txt run.jsonl run.meta; do cp "$tmp/$f" "$chartdir/last-$f"; done
	[ "$rc" = 0 ] || echo "bench-report: usermm bench exited $rc; the report shows what ran" >&2
fi

# ---- charts ----
# chart_data BENCH: "label<TAB>usermm<TAB>kernel<TAB>unit" for the bench's
# results that have a kernel figure, in the unit of the first of them.
chart_data() {
	awk -v want="$1" '
	function field(line, key,    i, c, s, out) {
		i = index(line, "\"" key "\":")
		if (!i) return ""
		s = substr(line, i + length(key) + 3)
		if (substr(s, 1, 1) != "\"") { sub(/[,}].*/, "", s); return s }
		out = ""
		for (i = 2; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\") { i++; out = out substr(s, i, 1); continue }
			if (c == "\"") break
			out = out c
		}
		return out
	}
	field($0, "bench") == want && field($0, "kernel") != "null" {
		unit = field($0, "unit")
		if (first == "") first = unit
		if (unit != first) next
		label = field($0, "name")
		if (seen[label]++) label = label " (vs " field($0, "kernel_variant") ")"
		if (field($0, "ratio") == "null") label = label " *"
		gsub(/\t/, " ", label)
		if (length(label) > 48) label = substr(label, 1, 46) ".."
		printf "%s\t%s\t%s\t%s\n", label, field($0, "usermm"), field($0, "kernel"), unit
	}' "$tmp/run.jsonl"
}
have_gnuplot=no
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=yes
benches=$(grep '^## bench_' "$tmp/run.txt" | cut -c4- || true)
charts=""
if [ $have_gnuplot = yes ]; then
	for b in $benches; do
		chart_data "$b" > "$tmp/$b.tsv"
		[ -s "$tmp/$b.tsv" ] || continue
		unit=$(head -n 1 "$tmp/$b.tsv" | cut -f4)
		n=$(wc -l < "$tmp/$b.tsv")
		logscale=$(awk -F'\t' '{ for (i = 2; i <= 3; i++) if ($i > 0) {
				if (min == "" || $i < min) min = $i; if ($i > max) max = $i } }
			END { print (min > 0 && max / min > 20) ? "yes" : "no" }' "$tmp/$b.tsv")
		width=$(( 300 + 70 * n )); [ $width -gt 1400 ] && width=1400
		{
			echo "set terminal svg size $width,520 dynamic enhanced font 'sans,11' background '#ffffff'"
			echo "set output '$chartdir/$b.svg'"
			echo "set datafile separator '\t'"
			echo "set title '$b: usermm against the kernel, $unit per operation$([ $logscale = yes ] && echo ', log scale') (lower is faster; * different work)' noenhanced"
			echo "set style data histograms"
			echo "set style histogram clustered gap 1"
			echo "set style fill solid 0.85 border -1"
			echo "set boxwidth 0.9"
			[ $logscale = yes ] && echo "set logscale y"
			echo "set yrange [$([ $logscale = yes ] && echo '*' || echo 0):*]"
			echo "set ylabel '$unit'"
			echo "set xtics rotate by -35 scale 0 font ',9' noenhanced"
			echo "set key top left"
			echo "set grid ytics"
			echo "set bmargin 12"
			echo "set rmargin 14"
			[ $logscale = yes ] && echo "set format y '10^{%L}'"
			echo "plot '$tmp/$b.tsv' using 2:xtic(1) title 'usermm' lc rgb '#1f77b4', '' using 3 title 'kernel' lc rgb '#d62728'"
		} > "$tmp/$b.gp"
		if gnuplot "$tmp/$b.gp" 2>"$tmp/$b.gperr"; then
			charts="$charts $b"
		else
			echo "bench-report: gnuplot failed for $b: $(head -n 3 "$tmp/$b.gperr")" >&2
		fi
	done
fi

# ---- the generated section ----
rel=$(realpath --relative-to="$(dirname "$doc")" "$chartdir")
{
	echo "$begin"
	echo "<!-- generated by \`make bench-report\` (tools/bench_report.sh); edits here are overwritten -->"
	echo
	echo "## Latest run: generated by \`make bench-report\`"
	echo
	echo "$when, commit \`$commit\`$dirty, \`usermm bench${*:+ $*}\`, $secs s."
	echo
	echo "| machine | |"
	echo "|---|---|"
	echo "| CPU | $cpu |"
	echo "| cores (online) | $cores |"
	echo "| memory | $mem |"
	echo "| kernel | $kernel |"
	echo "| virtual machine | $virt |"
	echo "| load average at the start | $load |"
	echo
	echo "Ratios are usermm / kernel: below 1 means usermm took less time; n/a marks"
	echo "different work (shown side by side only), - no kernel counterpart.  The"
	echo "figures are wall-clock medians: a loaded machine stretches them (see the"
	echo "load average above and each benchmark's \`# load average\` line in"
	echo "\`$rel/last-run.txt\`, the whole output of this run)."
	[ "$rc" = 0 ] || { echo; echo "**The run did not finish cleanly** (\`usermm bench\` exited $rc): what is missing below did not run."; }
	if [ $have_gnuplot = no ]; then
		echo
		echo "No charts: gnuplot is not installed on the machine that made this report"
		echo "(\`make bench-report\` installs Debian's gnuplot-nox when run as root)."
	fi
	for b in $benches; do
		echo
		echo "### $b"
		echo
		case " $charts " in
		*" $b "*) echo "![$b: usermm against the kernel]($rel/$b.svg)" ;;
		esac
		# the tables and the target lines of this benchmark's part of the output
		awk -v b="$b" '
			/^## / { on = ($2 == b); next }
			!on { next }
			{ row = /^\|/ }
			intable && !row { print ""; intable = 0 }
			/^# target/ { printf "`%s`  \n", $0; next }
			row { if (!intable) print ""; print; intable = 1 }
		' "$tmp/run.txt"
		if grep -q "^# $b failed" "$tmp/run.txt"; then
			echo
			echo "**$b failed in this run.**"
		fi
	done
	echo
	echo "$end"
} > "$tmp/section.md"

awk -v begin="$begin" -v end="$end" -v section="$tmp/section.md" '
	$0 == begin { while ((getline line < section) > 0) print line; skip = 1; next }
	$0 == end { skip = 0; next }
	!skip' "$doc" > "$tmp/doc.md"
cat "$tmp/doc.md" > "$doc"
echo "bench-report: wrote $doc ($(echo $charts | wc -w) charts in $chartdir)" >&2
exit "$rc"
