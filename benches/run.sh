#!/usr/bin/env bash
# One entry point for mbxa's benchmarks: builds in release mode, runs every component's bench at a
# quick-but-meaningful size, measures the peak RSS of each, and prints ONE Markdown table
# (component | metric | mbxa | baseline | ratio / target | peak RSS) plus the machine it ran on.
#
# Usage: benches/run.sh [--quick] [--out DIR]
#   --quick     tiny sizes (for developing this script; the figures mean little)
#   --out DIR   where logs, raw outputs and the table go (default: target/mbxa-bench)
#   --reparse   build and run nothing: re-read the raw outputs already in --out DIR and reprint
#
# Needs: zstd, openssl, restic, GNU time (/usr/bin/time), jq, bc and a Rust toolchain.
#   Debian/Ubuntu: apt-get install -y zstd openssl restic time jq bc
# It installs nothing. A component that fails is reported as FAILED in the table (its log is in
# the output directory) and the others still run; the exit status is then 1.
#
# Components and what they run (each bench documents its own method):
#   format   crates/mbxa-format/benches/throughput.rs   (criterion; 2 000 mail-like blobs, 136 MB)
#   ft       crates/mbxa-fasttransfer/benches/parse.rs   (criterion; 60-item mix)
#   capture  crates/mbxa-capture/benches/capture.rs      (emulator, 50 ms per call, 1 and 50 mailboxes)
#   replay   crates/mbxa-replay/benches/replay.rs        (emulator, upload budget 4 MB / 2 s)
#   verify   benches/verify_vs_baselines.sh              (5 evolving captures; zstd|openssl, restic)
#            + mbxa verify / vault add / vault verify again under /usr/bin/time for their peak RSS
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
REPARSE=0
OUT="$ROOT/target/mbxa-bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --reparse) REPARSE=1 ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# ---------------------------------------------------------------- tools (never installed here)
missing=()
for t in zstd openssl restic jq bc tar cargo; do command -v "$t" >/dev/null || missing+=("$t"); done
# (Not `| grep -q`: under pipefail, grep quitting early can SIGPIPE `time` and fail the check.)
time_out=$( [ -x /usr/bin/time ] && /usr/bin/time -v true 2>&1 ) || true
[[ $time_out == *"Maximum resident"* ]] || missing+=("time")
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]}" >&2
  echo "install them first, e.g.: apt-get install -y zstd openssl restic time jq bc tar" >&2
  exit 2
fi

if [ "$QUICK" = 1 ]; then
  FORMAT_BLOBS=200; VERIFY_ITEMS=200; CAPTURE_ARGS=(--quick)
  CRIT=(--bench --noplot --warm-up-time 0.5 --measurement-time 1)
else
  FORMAT_BLOBS=2000; VERIFY_ITEMS=2000; CAPTURE_ARGS=()
  CRIT=(--bench --noplot --warm-up-time 1 --measurement-time 5)
fi

if [ "$REPARSE" = 0 ]; then rm -rf "$OUT"; fi
mkdir -p "$OUT"
export CRITERION_HOME="$OUT/criterion"   # fresh criterion results, never last week's
ROWS="$OUT/rows.tsv"; : > "$ROWS"
FAILED=0
log() { echo "[$(date +%T)] $*" >&2; }

# row COMPONENT METRIC MBXA BASELINE RATIO RSS
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$ROWS"; }

# Peak RSS (MB) recorded by GNU time in FILE; "?" if absent.
rss_of() { awk -F': ' '/Maximum resident set size/ {printf "%.0f MB", $2/1024; f=1} END {if (!f) printf "?"}' "$1" 2>/dev/null || printf '?'; }

# timed NAME CMD...: runs CMD under GNU time; stdout → NAME.out, stderr → NAME.err, rusage → NAME.time.
timed() {
  local name=$1; shift
  if [ "$REPARSE" = 1 ]; then [ -s "$OUT/$name.time" ] && ! grep -q 'exited with non-zero' "$OUT/$name.time"; return; fi
  log "running $name: $*"
  echo "$name $(cut -d' ' -f1 /proc/loadavg)" >> "$OUT/loads.txt"
  if /usr/bin/time -v -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"; then
    return 0
  fi
  log "$name FAILED (see $OUT/$name.err)"
  FAILED=1
  return 1
}

# ratio A B → A/B with two decimals (empty if either is missing or B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) exit; printf "%.2f", a / b }'; }
# verdict RATIO TARGET → "≥ TARGET: met" / "NOT met".
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "") { printf "?"; exit } if (r + 0 >= t + 0) printf "met"; else printf "NOT met" }'; }

START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)
if [ "$REPARSE" = 1 ]; then START_LOAD=$(cat "$OUT/load.start" 2>/dev/null || echo "?"); else echo "$START_LOAD" > "$OUT/load.start"; fi

# ---------------------------------------------------------------- build (release)
cd "$ROOT"
if [ "$REPARSE" = 0 ]; then
log "building release binaries (cargo bench --no-run, mbxa-cli, synth_captures)"
cargo bench --no-run --message-format=json \
  -p mbxa-format --bench throughput -p mbxa-fasttransfer --bench parse \
  -p mbxa-capture --bench capture -p mbxa-replay --bench replay \
  2> "$OUT/build.err" > "$OUT/build.json" || { tail -30 "$OUT/build.err" >&2; echo "release build failed" >&2; exit 2; }
cargo build --release -q -p mbxa-cli 2>> "$OUT/build.err"
cargo build --release -q -p mbxa-vault --example synth_captures 2>> "$OUT/build.err"
fi
bench_exe() { jq -r --arg n "$1" 'select(.reason == "compiler-artifact" and .target.name == $n and (.target.kind | index("bench")) and .executable != null) | .executable' "$OUT/build.json" | tail -1; }
EXE_FORMAT=$(bench_exe throughput); EXE_FT=$(bench_exe parse)
EXE_CAPTURE=$(bench_exe capture); EXE_REPLAY=$(bench_exe replay)
MBXA="$ROOT/target/release/mbxa"

# Criterion results: median seconds and throughput bytes of the benchmark whose id matches REGEX.
crit() {
  local re=$1 f dir
  f=$(grep -rl --include=benchmark.json . "$CRITERION_HOME" 2>/dev/null | while read -r b; do
        jq -r --arg re "$re" 'select(.full_id | test($re)) | input_filename' "$b"; done | head -1)
  [ -n "$f" ] || return 0
  dir=$(dirname "$f")
  # MB/s (10^6 bytes) of the median; for element throughput, elements/s.
  jq -r -s '(.[0].throughput | (.Bytes // .Elements)) as $n | (.[1].median.point_estimate / 1e9) as $s | ($n / $s / (if .[0].throughput.Bytes then 1e6 else 1 end))' \
    "$dir/benchmark.json" "$dir/estimates.json"
}

# ---------------------------------------------------------------- format
if timed format env MBXA_BENCH_BLOBS=$FORMAT_BLOBS "$EXE_FORMAT" "${CRIT[@]}"; then
  RSS=$(rss_of "$OUT/format.time")
  W1=$(crit 'write .* 1 thread'); W2=$(crit 'write .* 2 thread'); RD=$(crit '/read '); VA=$(crit 'verify_all')
  for v in W1 W2 RD VA; do eval "$v=\$(printf '%.0f' \"\${$v:-0}\")"; done
  # The bench's head-to-head line (tar|zstd and the writer alternated, best of 3 each, so both
  # see the same load): "... `tar cf - | zstd -3 -T2` 190 MB/s; mbxa writer 1 thread 221 MB/s, 2 threads 184 MB/s"
  H2H=$(grep -m1 '^head-to-head' "$OUT/format.err" || true)
  if [ -n "$H2H" ]; then
    TAR=$(sed -n 's/.*-T2` \([0-9.]*\) MB\/s.*/\1/p' <<< "$H2H")
    H1=$(sed -n 's/.*1 thread \([0-9.]*\) MB\/s.*/\1/p' <<< "$H2H")
    H2=$(sed -n 's/.*2 threads \([0-9.]*\) MB\/s.*/\1/p' <<< "$H2H")
    R=$(ratio "$H2" "$TAR")
    row format "write, 2 threads (MB/s, head-to-head best of 3; $FORMAT_BLOBS blobs)" "$H2" "$TAR (tar cf - \\| zstd -3 -T2)" "${R}× (target > 1×: $(verdict "$R" 1.0001))" "$RSS"
    R=$(ratio "$H1" "$TAR")
    row format "write, 1 thread (MB/s, head-to-head best of 3)" "$H1" "$TAR" "${R}× (target > 1×: $(verdict "$R" 1.0001))" "$RSS"
    row format "write, 1 / 2 threads (MB/s, criterion median)" "$W1 / $W2" "" "" "$RSS"
  else
    # Older bench text: "baseline `tar cf - | zstd -3 -T2`: 185 MB/s (...)"
    TAR=$(sed -n 's/.*zstd -3 -T2`: \([0-9.]*\) MB\/s.*/\1/p' "$OUT/format.err" | tail -1)
    R=$(ratio "$W2" "$TAR")
    row format "write, 2 threads (MB/s, criterion median; $FORMAT_BLOBS blobs)" "$W2" "${TAR:-?} (tar cf - \\| zstd -3 -T2)" "${R}× (target > 1×: $(verdict "$R" 1.0001))" "$RSS"
    R=$(ratio "$W1" "$TAR")
    row format "write, 1 thread (MB/s, criterion median)" "$W1" "${TAR:-?}" "${R}×" "$RSS"
  fi
  row format "read every blob by id, hash-checked (MB/s)" "$RD" "" "" "$RSS"
  row format "verify_all, one pass (MB/s)" "$VA" "" "" "$RSS"
else
  row format "write/read" FAILED "" "" "$(rss_of "$OUT/format.time")"
fi

# ---------------------------------------------------------------- fasttransfer
if timed fasttransfer "$EXE_FT" "${CRIT[@]}"; then
  RSS=$(rss_of "$OUT/fasttransfer.time")
  row fasttransfer "parse (MB/s of streams)" "$(printf '%.0f' "$(crit 'fasttransfer/parse')")" "" "" "$RSS"
  row fasttransfer "to_eml (items/s)" "$(printf '%.0f' "$(crit 'fasttransfer/to_eml')")" "" "" "$RSS"
else
  row fasttransfer parse FAILED "" "" "?"
fi

# ---------------------------------------------------------------- capture
# Its table: | mailboxes, latency | items | bytes | wall | items/s | items/s (export) | ceiling |
# % wall | % export | calls list / export | ceiling with the listing calls | % of it | retries | peak RSS |
if timed capture "$EXE_CAPTURE" "${CAPTURE_ARGS[@]}"; then
  tr -d '\r' < "$OUT/capture.out" | awk -F'|' '/^\| [0-9]+ \(/ {
      for (i = 2; i <= 15; i++) gsub(/^ +| +$/, "", $i);
      gsub(/ /, "", $3);
      p = $10; sub(/%/, "", p); q = $13; sub(/%/, "", q);
      printf "capture\t%s, %s items: items/s (export phase)\t%s\t%s (ceiling)\t%s%% of ceiling (target ≥ 85%%: %s)\t%s (child VmHWM)\n",
        $2, $3, $7, $8, p, (p + 0 >= 85 ? "met" : "NOT met"), $15
      printf "capture\t%s, %s items: items/s (wall, listing included)\t%s\t%s (ceiling with its %s list / export calls)\t%s%% of it\t\n",
        $2, $3, $6, $12, $11, q }' >> "$ROWS"
else
  row capture "items/s vs ceiling" FAILED "" "" "?"
fi

# ---------------------------------------------------------------- replay
# Its table: | scenario | items | data MB | body MB | total s | upload s | items/s | data MB/s | ceiling | eff (upload) | eff (total) | 429s |
if timed replay "$EXE_REPLAY"; then
  RSS=$(rss_of "$OUT/replay.time")
  tr -d '\r' < "$OUT/replay.out" | awk -F'|' -v rss="$RSS" '/^\| (budget|no budget|no limits)/ {
      for (i = 2; i <= 13; i++) gsub(/^ +| +$/, "", $i);
      body_rate = ($7 > 0) ? $5 / $7 : 0;
      if ($2 ~ /^budget/) {
        p = $11; sub(/ *%/, "", p);
        # least possible time = efficiency x upload time; ceiling rate = body bytes / that time
        ceil = (p > 0) ? $5 / ($7 * p / 100) : 0;
        printf "replay\t%s: MB/s of request bodies, upload phase (%s items, %s MB, %s 429s)\t%.2f\t%.2f (budget-bound ceiling: first 4 MB free, then %s)\t%s%% of ceiling (target ≥ 85%%: %s)\t%s (bench process, emulator included)\n",
          $2, $3, $5, $13, body_rate, ceil, $10, p, (p + 0 >= 85 ? "met" : "NOT met"), rss
      } else if ($2 ~ /^no budget/) {
        p = $11; sub(/ *%/, "", p);
        printf "replay\t%s: items/s, upload phase\t%s\t%s (latency bound)\t%s%% of ceiling\t%s\n", $2, $8, $10, p, rss
      } else {
        printf "replay\t%s: data MB/s (client overhead)\t%s\t\t\t%s\n", $2, $9, rss
      }
    }' >> "$ROWS"
else
  row replay "MB/s vs budget" FAILED "" "" "$(rss_of "$OUT/replay.time")"
fi

# ---------------------------------------------------------------- verify + vault (vault engineer's script)
VW="$OUT/verify"
if timed verify_vs_baselines bash "$ROOT/benches/verify_vs_baselines.sh" "$VW" "$VERIFY_ITEMS"; then
  # Escaped pipes in its tool column would split fields: replace them first.
  sed 's/\\|/ + /g' "$OUT/verify_vs_baselines.out" > "$OUT/verify.md"
  field() { awk -F'|' -v k="$1" -v c="$2" '{ key = $2 " " $3; } index(key, k) { v = $c; gsub(/^ +| +$/, "", v); print v; exit }' "$OUT/verify.md"; }
  T_VERIFY=$(field "mbxa verify" 4);         M_VERIFY=$(field "mbxa verify" 5)
  T_ZSTD=$(field "openssl dgst" 4);          M_ZSTD=$(field "openssl dgst" 5)
  T_VV=$(field "mbxa vault verify" 4);       M_VV=$(field "mbxa vault verify" 5)
  T_VVF=$(field "vault verify --full" 4);    M_VVF=$(field "vault verify --full" 5)
  T_RC=$(field "restic check" 4);            M_RC=$(field "restic check" 5)
  T_ADD=$(field "mbxa vault add" 4);         M_ADD=$(field "mbxa vault add" 5)
  T_RB=$(field "restic backup" 4);           M_RB=$(field "restic backup" 5)
  S_ARCH=$(field "5 archives as files" 3)
  S_VAULT=$(awk -F'|' '$2 ~ /^ mbxa vault $/ {gsub(/ /, "", $3); print $3}' "$OUT/verify.md")
  S_RESTIC=$(awk -F'|' '$2 ~ /^ restic repo $/ {gsub(/ /, "", $3); print $3}' "$OUT/verify.md")

  # Peak RSS of the mbxa commands: run them again under GNU time on the same data.
  timed rss_verify "$MBXA" -q verify "$VW"/caps/*.mbxa || true
  timed rss_vault_add "$MBXA" -q vault add "$OUT/vault-rss" "$VW"/caps/*.mbxa || true
  timed rss_vault_verify "$MBXA" -q vault verify "$VW/vault" || true
  rm -rf "$OUT/vault-rss"
  # The scenario's data is ~2 GB at full size; keep only its report (results.md).
  [ "$REPARSE" = 1 ] || find "$VW" -mindepth 1 -maxdepth 1 ! -name results.md -exec rm -rf {} +

  R=$(ratio "$T_ZSTD" "$T_VERIFY")
  row verify "mbxa verify, 5 archives (MiB/s of blobs)" "$M_VERIFY" "$M_ZSTD (zstd -dc \\| openssl dgst -sha256)" "${R}× (target ≥ 2×: $(verdict "$R" 2))" "$(rss_of "$OUT/rss_verify.time")"
  R=$(ratio "$T_RC" "$T_VV")
  row verify "mbxa vault verify (MiB/s of blobs)" "$M_VV" "$M_RC (restic check --read-data)" "${R}× (target ≥ 3×: $(verdict "$R" 3))" "$(rss_of "$OUT/rss_vault_verify.time")"
  R=$(ratio "$T_RC" "$T_VVF")
  row verify "mbxa vault verify --full: every archive re-created (MiB/s of blobs)" "$M_VVF" "$M_RC (restic check --read-data)" "${R}×" ""
  R=$(ratio "$T_RC" "$T_VERIFY")
  # Informational: restic checks a deduplicated repository, so the store-to-store row above
  # (vault verify) is the one the 3x target is read against.
  row verify "mbxa verify (archives) vs restic check (MiB/s), for reference" "$M_VERIFY" "$M_RC (restic check --read-data)" "${R}×" "$(rss_of "$OUT/rss_verify.time")"
  R=$(ratio "$T_RB" "$T_ADD")
  row vault "vault add, 5 captures (MiB/s of blobs)" "$M_ADD" "$M_RB (restic backup)" "${R}× faster (target > 1: $(verdict "$R" 1.0001))" "$(rss_of "$OUT/rss_vault_add.time")"
  R=$(ratio "$S_RESTIC" "$S_VAULT")
  MB() { awk -v b="$1" 'BEGIN { if (b == "") printf "?"; else printf "%.1f MB", b / 1e6 }'; }
  row vault "stored bytes, 5 captures (archives: $(MB "$S_ARCH"))" "$(MB "$S_VAULT")" "$(MB "$S_RESTIC") (restic repo)" "restic / vault = ${R} (target ≥ 1: $(verdict "$R" 1))" ""
else
  row verify "verify / vault vs baselines" FAILED "" "" "?"
fi

# ---------------------------------------------------------------- report
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
SECS=$(( $(date +%s) - T0 ))
{
  echo "## mbxa benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ' (--quick: tiny sizes, figures not meaningful)')"
  echo
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r); $(rustc -V)"
  echo "Tools: $(zstd --version | head -1 | sed 's/\*//g; s/^ *//; s/ *$//'); $(openssl version | cut -d' ' -f1-2); $(restic version | cut -d' ' -f1-2); $(tar --version | head -1)"
  echo "Load average (1/5/15 min): $START_LOAD at start, $END_LOAD at the end; run took ${SECS} s."
  echo "1-min load average as each component started: $(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}' "$OUT/loads.txt" 2>/dev/null)."
  echo
  echo "| component | metric | mbxa | baseline | ratio / target | peak RSS |"
  echo "|---|---|---:|---|---|---:|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$ROWS"
} | tee "$OUT/table.md"
log "table written to $OUT/table.md; raw outputs and logs in $OUT"
exit "$FAILED"
