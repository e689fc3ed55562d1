#!/usr/bin/env bash
# Side-by-side SIP benchmark: the same sipp scenarios against Kamailio (reference) and Sotto,
# one after the other in one run, inside a private network namespace that has only loopback.
#
# usage: npm run bench:sip            (as root: installs sip-tester and kamailio if missing)
#        bash bench/sip/run.sh --help
#
# For each server and each metric the bench starts a fresh server, runs a five-call smoke test,
# then searches the highest offered rate that passes: fewer than 1% of the calls fail and sipp
# achieves at least 90% of the offered rate. The search doubles the rate from START_* until a
# step fails (halves it if the first fails), then bisects until the bracket is within PRECISION.
#   register  REGISTER with digest auth (401, second REGISTER), UDP, users lt1..ltUSERS
#   call_udp  INVITE (407 + auth) / 180 / 200 / ACK / BYE / 200 through the proxy to a sipp UAS, UDP
#   call_tcp  the same over TCP (one connection from the caller, the proxy connects to the UAS)
#
# Environment (defaults):
#   DURATION=15        seconds per step (calls per step = rate * DURATION)
#   REPEAT=1           runs per step; the step's figures are the medians of the runs
#   MAX_STEPS=6        steps per search at most (after the smoke test)
#   PRECISION=20       stop bisecting when (lowest failing - highest passing) <= PRECISION% of passing
#   START_REGISTER=2000 START_CALL_UDP=500 START_CALL_TCP=500   first offered rate (per second)
#   USERS=10000        load-test accounts lt1..ltN (password secret-ltN), registered round robin
#   SERVERS="kamailio sotto"   METRICS="register call_udp call_tcp"
#   KAMAILIO_SHM=1024  Kamailio shared memory (MB; 1024 needed above ~2,000 calls/s)
#   WORKERS=auto       Sotto's sip.workers: "auto" = one SIP worker process per core (as Kamailio
#                      runs several worker processes), 1 = a single process
#   OUT=bench-out/sip/<date-time>   steps.csv, summary.txt, sipp and server logs
# Every process the bench starts is stopped by its PID when it ends (also on Ctrl-C).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; fi

export DURATION=${DURATION:-15} REPEAT=${REPEAT:-1} MAX_STEPS=${MAX_STEPS:-6} PRECISION=${PRECISION:-20}
export START_REGISTER=${START_REGISTER:-2000} START_CALL_UDP=${START_CALL_UDP:-500} START_CALL_TCP=${START_CALL_TCP:-500}
export USERS=${USERS:-10000} SERVERS=${SERVERS:-kamailio sotto} METRICS=${METRICS:-register call_udp call_tcp}
export KAMAILIO_SHM=${KAMAILIO_SHM:-1024} WORKERS=${WORKERS:-auto}
export OUT=${OUT:-$ROOT/bench-out/sip/$(date +%Y%m%d-%H%M%S)}

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- outside: install what is missing, then re-run this script in a loopback-only namespace ---
if [ "${SIP_BENCH_INSIDE:-}" != 1 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench:sip: run as root (it installs Debian packages and makes a private network namespace)" >&2
    exit 1
  fi
  missing=()
  for p in sip-tester kamailio iproute2 util-linux procps; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}" || exit 1
  fi
  # Node 24 and the npm packages; setup.sh is quiet when they are there.
  [ -x "$ROOT/node_modules/.bin/node" ] || bash "$ROOT/scripts/setup.sh" || exit 1
  mkdir -p "$OUT" || exit 1
  export SIP_BENCH_INSIDE=1
  # exec keeps one PID from here to the inner bash, so a signal to it reaches the cleanup trap.
  exec unshare -n sh -c 'ip link set lo up && exec bash "$0"' "$0"
fi

# --- inside the namespace ----------------------------------------------------------------------
export PATH=$ROOT/node_modules/.bin:$PATH
HOST=127.0.0.1 PORT=5060 UAS_PORT=5090 UAC_PORT=5072 DOMAIN=localhost
HZ=$(getconf CLK_TCK)
ulimit -n 65536 2>/dev/null || true
BEGIN=$(date +%s)
STEPS=$OUT/steps.csv
echo "server,metric,offered,rep,calls,success,failed,fail_pct,achieved,retrans,avg_rt_ms,server_cpu_pct,sipp_cpu_pct,other_cpu_pct,load1,aborted" > "$STEPS"

# --- processes: everything started is tracked and stopped by PID ---
SERVER_PID="" UAS_PID="" SIPP_PID=""
descendants() { local c; echo "$1"; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$c"; done; }
stop_pid() { # pid [seconds]: SIGTERM the process, SIGKILL it and what it started if it lingers
  local pid=$1 wait_s=${2:-10} all i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  all=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < wait_s * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  for p in $all; do kill -KILL "$p" 2>/dev/null; done
  wait "$pid" 2>/dev/null
  return 0
}
cleanup() {
  trap - EXIT INT TERM
  stop_pid "$SIPP_PID" 2; stop_pid "$UAS_PID" 2; stop_pid "$SERVER_PID" 10
}
trap cleanup EXIT
trap 'echo "bench:sip: interrupted" >&2; exit 130' INT TERM

# --- accounts: one injection file for sipp, the same pairs go into Sotto's store ---
USERS_CSV=$OUT/users.csv UAS_CSV=$OUT/uas.csv
{ echo SEQUENTIAL; for ((i = 1; i <= USERS; i++)); do echo "lt$i;secret-lt$i"; done; } > "$USERS_CSV"
printf 'SEQUENTIAL\nuas;secret-uas\n' > "$UAS_CSV"

# --- servers ---
for v in $(compgen -e | grep '^SOTTO_'); do unset "$v"; done
SOTTO_ENV=(SOTTO_DOMAIN=$DOMAIN SOTTO_DATA_DIR="$OUT/sotto-data" SOTTO_SIP__LISTEN=$HOST
  SOTTO_SIP__UDP__PORT=$PORT SOTTO_SIP__TCP__PORT=$PORT SOTTO_SIP__TLS__ENABLED=false
  SOTTO_HTTP__HTTP__ENABLED=false SOTTO_HTTP__HTTPS__ENABLED=false SOTTO_LOG__LEVEL=warn
  SOTTO_AUTH__ALGORITHMS='[MD5]' SOTTO_SECURITY__RATE_LIMIT__PER_SECOND=1000000
  SOTTO_SECURITY__RATE_LIMIT__BURST=1000000 SOTTO_SECURITY__BAN__EXEMPT_LOOPBACK=true
  SOTTO_SIP__WORKERS=$WORKERS)
prepare_server() {
  case $1 in
    kamailio) kamailio -c -f "$HERE/kamailio.cfg" > "$OUT/kamailio-check.log" 2>&1 \
                || { tail -n 20 "$OUT/kamailio-check.log" >&2; return 1; } ;;
    sotto) step "Creating $USERS Sotto accounts"
           (cd "$OUT" && env "${SOTTO_ENV[@]}" node "$ROOT/bench/sip/add-users.ts" "$USERS_CSV" "$UAS_CSV") ;;
  esac
}
start_server() { # name -> SERVER_PID, once it listens on UDP and TCP
  local i
  case $1 in
    kamailio) kamailio -f "$HERE/kamailio.cfg" -DD -E -m "$KAMAILIO_SHM" -M 16 >> "$OUT/kamailio.log" 2>&1 & ;;
    # cwd = OUT, so a sotto.yaml in the checkout is not read: the SOTTO_* values above are the config.
    sotto) (cd "$OUT" && exec env "${SOTTO_ENV[@]}" node "$ROOT/server/src/cli.ts" start) >> "$OUT/sotto.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for ((i = 0; i < 200; i++)); do
    # Sotto with several workers is ready once the primary says so (the workers exchange their links).
    if ss -Hlnu "sport = :$PORT" | grep -q . && ss -Hlnt "sport = :$PORT" | grep -q .; then sleep $([ "$1" = sotto ] && echo 1.5 || echo 0.5); return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench:sip: $1 did not start listening on $HOST:$PORT; its log ($OUT/$1.log) ends:" >&2
  tail -n 20 "$OUT/$1.log" >&2
  stop_pid "$SERVER_PID"; SERVER_PID=""
  return 1
}

# --- sipp ---
stat_field() { awk -F';' -v n="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==n) c=i} END{if(c) print $c}' "$1" 2>/dev/null; }
# offer_time STAT.csv CALLS -> seconds sipp took to start CALLS calls (interpolated between its 1-s
# stat rows; if it was stopped before, the time it ran). Calls still waiting for a timeout after
# the last one started do not stretch it, so achieved = successful calls / this time.
offer_time() {
  awk -F';' -v want="$2" 'NR==1{for(i=1;i<=NF;i++){if($i=="StartTime")a=i; if($i=="CurrentTime")b=i; if($i=="TotalCallCreated")c=i}; next}
    { split($a, x, "\t"); split($b, y, "\t"); t = y[3] - x[3]; n = $c
      if (n >= want) { print (n > pn ? pt + (want - pn) / (n - pn) * (t - pt) : t); done = 1; exit }
      pt = t; pn = n }
    END{ if (!done) print pt }' "$1" 2>/dev/null
}
to_ms() { awk -F: '{printf "%.3f", ($1*3600+$2*60+$3)*1000+$4/1000}' <<<"$1"; }
ticks_of() { # utime+stime of the given PIDs (those that still exist), in clock ticks
  local t=0 p x; for p in "$@"; do x=$(awk '{sub(/^.*\) /,""); print $12+$13}' "/proc/$p/stat" 2>/dev/null); t=$((t + ${x:-0})); done; echo $t; }
host_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; } # busy ticks of all cores
transport_flag() { case $1 in call_tcp) echo t1;; *) echo u1;; esac; }
sipp_common() { # name -> trace args (files in OUT, error file capped at 2 MB)
  echo -nostdin -trace_stat -stf "$OUT/$1.stat.csv" -fd 1 -trace_err -error_file "$OUT/$1.err" -max_log_size 2000000 \
    -trace_screen -screen_file "$OUT/$1.screen"
}
start_uas() { # metric: register "uas" at the UAS address, then run the UAS scenario there
  local t; t=$(transport_flag "$1")
  sipp -sf "$HERE/register.xml" -inf "$UAS_CSV" -key domain $DOMAIN -i $HOST -p $UAS_PORT -t "$t" -m 1 -timeout 10s \
    $(sipp_common "$SRV-$1-uas-register") "$HOST:$PORT" > /dev/null 2>&1 &
  SIPP_PID=$!; wait $SIPP_PID; local rc=$?; SIPP_PID=""
  if [ $rc != 0 ]; then
    echo "    REGISTER of the UAS (uas@$DOMAIN) failed (sipp exit $rc); sipp's error file $OUT/$SRV-$1-uas-register.err:" >&2
    err_summary "$OUT/$SRV-$1-uas-register.err" >&2
    return 1
  fi
  sipp -sf "$HERE/uas.xml" -i $HOST -p $UAS_PORT -t "$t" $(sipp_common "$SRV-$1-uas") > /dev/null 2>&1 &
  UAS_PID=$!
  sleep 0.5
  kill -0 $UAS_PID 2>/dev/null || { echo "    the sipp UAS did not start" >&2; UAS_PID=""; return 1; }
}
stop_uas() { [ -n "$UAS_PID" ] && kill -USR1 "$UAS_PID" 2>/dev/null; stop_pid "$UAS_PID" 5; UAS_PID=""; }

# run_step metric rate calls name -> STEP="success failed fail_pct achieved retrans rt_ms server_cpu sipp_cpu other_cpu aborted"
# CPU in % of one core; sipp = caller + UAS; other = everything else on the machine (other people's work).
run_step() {
  local metric=$1 rate=$2 calls=$3 name=$4 t scen srv_pids s0 s1 u0 u1 hb0 hb1 t0 t1 sp=0 x f aborted=0 limit deadline
  t=$(transport_flag "$metric")
  rm -f "$OUT/$name".*
  local args=(-inf "$USERS_CSV" -key domain $DOMAIN -i $HOST -p $UAC_PORT -t "$t" -r "$rate" -rp 1000 -m "$calls"
              -l $((rate * 5 + 100 < 15000 ? rate * 5 + 100 : 15000)) -recv_timeout 5000 -timeout $((DURATION + 30))s $(sipp_common "$name"))
  if [ "$metric" = register ]; then scen=register.xml; else scen=uac_call.xml; args+=(-key callee uas -d 0); fi
  srv_pids=$(descendants "$SERVER_PID"); s0=$(ticks_of $srv_pids); u0=$(ticks_of $UAS_PID); hb0=$(host_ticks); t0=$(date +%s.%N)
  sipp -sf "$HERE/$scen" "${args[@]}" "$HOST:$PORT" > /dev/null 2>&1 &
  SIPP_PID=$!
  # Once 1% of the calls have failed the verdict is known: stop early. SIGKILL, because sipp 3.6.1
  # can deadlock in its SIGTERM handler; its stat file has a row per second, the last one is used.
  # The deadline is a watchdog in case sipp hangs some other way (its own -timeout did not fire then).
  limit=$(( (calls + 99) / 100 )) deadline=$((SECONDS + DURATION + 45))
  while kill -0 $SIPP_PID 2>/dev/null; do
    x=$(ticks_of $SIPP_PID); [ "$x" -gt "$sp" ] && sp=$x
    f=$(stat_field "$OUT/$name.stat.csv" 'FailedCall(C)')
    # Until sipp has written its first data row, the stat file holds only the header line.
    if { [[ $f =~ ^[0-9]+$ ]] && [ "$calls" -ge 20 ] && [ "$f" -ge "$limit" ]; } || ((SECONDS > deadline)); then
      aborted=1; kill -KILL $SIPP_PID 2>/dev/null; break
    fi
    sleep 0.5
  done
  wait $SIPP_PID 2>/dev/null; SIPP_PID=""
  t1=$(date +%s.%N); s1=$(ticks_of $srv_pids); u1=$(ticks_of $UAS_PID); hb1=$(host_ticks)
  local fs="$OUT/$name.stat.csv" succ fail retr rt el
  succ=$(stat_field "$fs" 'SuccessfulCall(C)'); fail=$(stat_field "$fs" 'FailedCall(C)'); retr=$(stat_field "$fs" 'Retransmissions(C)')
  rt=$(to_ms "$(stat_field "$fs" 'ResponseTime1(C)')"); el=$(offer_time "$fs" "$calls")
  STEP=$(awk -v c="$calls" -v s="${succ:-0}" -v f="${fail:-0}" -v x="${retr:-0}" -v rt="${rt:-0}" -v el="$el" -v t0="$t0" -v t1="$t1" \
      -v sv="$((s1 - s0))" -v sp="$((sp + u1 - u0))" -v hz="$HZ" -v hb="$((hb1 - hb0))" -v ab="$aborted" 'BEGIN{
        w = t1 - t0; if (el <= 0) el = w; srv = 100 * sv / hz / w; sip = 100 * sp / hz / w; oth = 100 * hb / hz / w - srv - sip;
        printf "%d %d %.3f %.1f %d %.3f %.1f %.1f %.1f %d\n", s, f, 100 * (c - s) / c, s / el, x, rt, srv, sip, (oth > 0 ? oth : 0), ab }')
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{if (NR == 0) print 0; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
fmt() { LC_ALL=C printf "%'.0f" "$1" 2>/dev/null || printf '%s' "$1"; }

# measure metric rate -> runs REPEAT times; sets M_PASS and the medians M_ACH M_FAIL M_CPU M_SIPP M_OTHER
measure() {
  local metric=$1 rate=$2 rep name ach="" fl="" cpu="" scpu="" oth="" ab=0 s f fp a x rt c sc o aborted
  for ((rep = 1; rep <= REPEAT; rep++)); do
    name=$SRV-$metric-r$rate-n$rep
    run_step "$metric" "$rate" $((rate * DURATION)) "$name"
    read -r s f fp a x rt c sc o aborted <<<"$STEP"
    echo "$SRV,$metric,$rate,$rep,$((rate * DURATION)),$s,$f,$fp,$a,$x,$rt,$c,$sc,$o,$(cut -d' ' -f1 /proc/loadavg),$aborted" >> "$STEPS"
    ach+=" $a" fl+=" $fp" cpu+=" $c" scpu+=" $sc" oth+=" $o"; [ "$aborted" = 1 ] && ab=1
    LAST_ERR=$OUT/$name.err
    sleep 1
  done
  M_ACH=$(median <<<"$ach"); M_FAIL=$(median <<<"$fl"); M_CPU=$(median <<<"$cpu"); M_SIPP=$(median <<<"$scpu"); M_OTHER=$(median <<<"$oth")
  M_PASS=$(awk -v f="$M_FAIL" -v a="$M_ACH" -v r="$rate" 'BEGIN{print (f < 1 && a >= 0.9 * r) ? 1 : 0}')
  printf '    %6s/s offered: %6s/s achieved, %6.2f%% failed%s; CPU: %s %3.0f%%, sipp %3.0f%%, other %3.0f%%  -> %s\n' \
    "$(fmt "$rate")" "$(fmt "$M_ACH")" "$M_FAIL" "$([ $ab = 1 ] && echo ' (stopped early)')" "$SRV" "$M_CPU" "$M_SIPP" "$M_OTHER" \
    "$([ "$M_PASS" = 1 ] && echo pass || echo FAIL)"
  if [ "$M_PASS" != 1 ] && [ -z "${FIRST_ERR[$SRV-$metric]:-}" ] && [ -s "$LAST_ERR" ]; then FIRST_ERR[$SRV-$metric]=$LAST_ERR; fi
  [ "$M_PASS" = 1 ] || sleep 3 # let a saturated server drain before the next step
}

# fail_kinds STAT.csv: sipp's own count of failed calls by cause (the error file can be cut short).
fail_kinds() {
  awk -F';' 'NR==1{for(i=1;i<=NF;i++) h[i]=$i; next} {for(i in h) v[i]=$i}
    END{for(i in h) if (h[i] ~ /^Failed.+\(C\)$/ && h[i] != "FailedCall(C)" && v[i] > 0) { sub(/^Failed/, "", h[i]); sub(/\(C\)$/, "", h[i]); o = o sprintf(" %s=%d", h[i], v[i]) }
        if (o != "") print "    failed calls by cause (sipp):" o }' "$1" 2>/dev/null
}

# err_summary FILE: what sipp complained about, by kind (numbers masked), then the first event in full.
err_summary() {
  perl -0777 -ne '
    my @ev = grep { /\S/ } split /\d{4}-\d\d-\d\d\t[\d:.]+\t[\d.]+: /;
    shift @ev if @ev && $ev[0] =~ /^The following events occurred:\s*$/;
    my (%n, @order);
    for (@ev) { (my $k = (split /\n/)[0]) =~ s/\d+-\d+@[\d.]+/ID/g; $k =~ s/\(\d+\)/(N)/g; $k = substr($k, 0, 160); push @order, $k unless $n{$k}++; }
    printf "    %6d x %s\n", $n{$_}, $_ for (sort { $n{$b} <=> $n{$a} } @order)[0 .. ($#order < 4 ? $#order : 4)];
    if (@ev) { my @l = split /\n/, $ev[0]; print "    first event:\n"; print "      $_\n" for @l[0 .. ($#l < 14 ? $#l : 14)]; }
  ' "$1" 2>/dev/null
}

round_rate() { local r=$1; if [ "$r" -ge 200 ]; then echo $(((r + 25) / 50 * 50)); else echo $(((r + 2) / 5 * 5)); fi; }

# search metric -> RESULT[$SRV-$metric]="achieved offered server_cpu sipp_cpu other_cpu" of the highest passing step
declare -A RESULT FIRST_ERR NOTE NPROC
search() {
  local metric=$1 start=$2 lo=0 hi=0 r n=0 next
  # Smoke: a handful of calls at a low rate, to report a broken scenario at once rather than after a ramp.
  run_step "$metric" 5 5 "$SRV-$metric-smoke"
  read -r s _ <<<"$STEP"
  if [ "$s" != 5 ]; then
    echo "    $metric smoke test: $s of 5 calls succeeded; sipp's error file $OUT/$SRV-$metric-smoke.err:"
    fail_kinds "$OUT/$SRV-$metric-smoke.stat.csv"
    err_summary "$OUT/$SRV-$metric-smoke.err"
    FIRST_ERR[$SRV-$metric]=$OUT/$SRV-$metric-smoke.err; NOTE[$SRV-$metric]="smoke test failed ($s/5)"
    return
  fi
  r=$start
  while ((n < MAX_STEPS)); do
    measure "$metric" "$r"; n=$((n + 1))
    if [ "$M_PASS" = 1 ]; then lo=$r; RESULT[$SRV-$metric]="$M_ACH $r $M_CPU $M_SIPP $M_OTHER"
      if ((hi == 0)); then next=$((r * 2)); else next=$(((lo + hi) / 2)); fi
    else hi=$r
      if ((lo == 0)); then next=$((r / 2)); else next=$(((lo + hi) / 2)); fi
    fi
    next=$(round_rate "$next")
    if ((lo > 0 && hi > 0 && (hi - lo) * 100 <= PRECISION * lo)); then break; fi
    if ((next < 5 || next == lo || next == hi)); then break; fi
    r=$next
  done
  if ((lo == 0)); then NOTE[$SRV-$metric]="no passing rate down to $r/s"
  elif ((hi == 0)); then NOTE[$SRV-$metric]="no failing rate up to $lo/s (raise MAX_STEPS or START)"; fi
}

start_of() { case $1 in register) echo "$START_REGISTER";; call_udp) echo "$START_CALL_UDP";; call_tcp) echo "$START_CALL_TCP";; esac; }

step "SIP benchmark in a private network namespace: $(nproc) cores, $(sipp -v 2>&1 | grep -o 'SIPp v[^-]*' | head -1), $(kamailio -v 2>/dev/null | head -1 | cut -d' ' -f2,3), Node $(node -v)"
echo "    steps of ${DURATION}s, $REPEAT run(s) per step, at most $MAX_STEPS steps per metric; results in $OUT"
echo "    load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for SRV in $SERVERS; do prepare_server "$SRV" || { echo "bench:sip: could not prepare $SRV" >&2; exit 1; }; done
# Metric by metric, both servers each time: the two figures of a row are measured minutes apart, not
# a quarter of an hour, so a change in other load on the machine skews the ratio less.
for metric in $METRICS; do
  for SRV in $SERVERS; do
    step "$SRV: $metric"
    start_server "$SRV" || { NOTE[$SRV-$metric]="server did not start"; continue; }
    NPROC[$SRV]=$(descendants "$SERVER_PID" | wc -l)
    if [ "$metric" != register ] && ! start_uas "$metric"; then
      FIRST_ERR[$SRV-$metric]=$OUT/$SRV-$metric-uas-register.err; NOTE[$SRV-$metric]="REGISTER of the UAS failed"
    else
      search "$metric" "$(start_of "$metric")"
    fi
    stop_uas
    stop_pid "$SERVER_PID"; SERVER_PID=""
  done
done

# --- summary --------------------------------------------------------------------------------
label() { case $1 in register) echo "REGISTER+digest UDP /s";; call_udp) echo "calls UDP /s";; call_tcp) echo "calls TCP /s";; esac; }
cell() { [ "$1" = - ] && echo "-" || echo "$(fmt "$1") ($(fmt "$2"))"; }
pct() { [ "$1" = - ] && echo - || printf '%.0f%%' "$1"; }
{
  echo
  echo "SIP benchmark $(date '+%F %T'): $(nproc) cores, loopback only, the same sipp scenarios against both servers"
  echo "rate = achieved rate at the highest offered rate (in brackets) with <1% failed calls and >=90% of it achieved;"
  echo "steps of ${DURATION}s, medians of $REPEAT run(s); CPU = server CPU at that step, 100% = one core;"
  echo "other = CPU used by other processes on the machine meanwhile (not the servers, not sipp)."
  echo "Kamailio: ${NPROC[kamailio]:-?} processes; Sotto: ${NPROC[sotto]:-?} process(es)."
  printf '%-23s %17s %17s %9s %8s %8s %8s %8s\n' metric Kamailio Sotto Sotto/Kam "CPU Kam" "CPU Sot" "oth Kam" "oth Sot"
  for metric in $METRICS; do
    read -r ka ko kc _ kx <<<"${RESULT[kamailio-$metric]:-- - - - -}"
    read -r sa so sc _ sx <<<"${RESULT[sotto-$metric]:-- - - - -}"
    ratio=$(awk -v a="$sa" -v b="$ka" 'BEGIN{ if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }')
    printf '%-23s %17s %17s %9s %8s %8s %8s %8s\n' "$(label "$metric")" "$(cell "$ka" "$ko")" "$(cell "$sa" "$so")" "$ratio" \
      "$(pct "$kc")" "$(pct "$sc")" "$(pct "$kx")" "$(pct "$sx")"
  done
  # Throughput needs a quiet machine; CPU per operation at one rate both servers sustained is
  # steadier when others share it (and shows where the cost is when the rates tie).
  echo "server CPU per operation at the highest offered rate both passed (us of CPU; lower is better):"
  for metric in $METRICS; do
    awk -F, -v m="$metric" -v lbl="$(label "$metric")" '
      NR > 1 && $2 == m { k = $1 SUBSEP $3; n[k]++; ok[k] += ($8 < 1 && $9 >= 0.9 * $3); cpu[k] += $12; ach[k] += $9; rates[$3] = 1 }
      END {
        best = -1
        for (r in rates) {
          a = "kamailio" SUBSEP r; b = "sotto" SUBSEP r
          if (n[a] && n[b] && ok[a] == n[a] && ok[b] == n[b] && r + 0 > best) best = r + 0
        }
        if (best < 0) { printf "  %-23s no rate passed by both\n", lbl; exit }
        a = "kamailio" SUBSEP best; b = "sotto" SUBSEP best
        ka = cpu[a] / n[a] * 1e4 / (ach[a] / n[a]); so = cpu[b] / n[b] * 1e4 / (ach[b] / n[b])
        printf "  %-23s at %6d/s: Kamailio %6.0f us, Sotto %6.0f us, Sotto/Kam %.2f\n", lbl, best, ka, so, so / ka
      }' "$STEPS"
  done
  for key in "${!NOTE[@]}"; do echo "note: $key: ${NOTE[$key]}"; done | sort
  for key in $(printf '%s\n' "${!FIRST_ERR[@]}" | sort); do
    echo "sipp errors, $key, first failing step (${FIRST_ERR[$key]}):"
    fail_kinds "${FIRST_ERR[$key]%.err}.stat.csv"
    err_summary "${FIRST_ERR[$key]}"
  done
  echo "total time: $(( ($(date +%s) - BEGIN) / 60 )) min $(( ($(date +%s) - BEGIN) % 60 )) s; every step: $STEPS"
} | tee "$OUT/summary.txt"
