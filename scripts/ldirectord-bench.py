#!/usr/bin/python3
"""ldirectord benchmark: heartbeat-rs (file-backed fake IPVS) and ldirectord 4.12 (ipvsadm
stand-in that only logs) against one HTTP farm (examples/http_farm.rs) answering on 127.x.
Run as root inside `unshare --net --mount --fork` (./bench does). Prints a markdown table.

usage: ldirectord-bench.py HEARTBEAT_BIN FARM_BIN N [LEGACY_N ...]
"""
import atexit, os, random, signal, subprocess, sys, time

BIN, FARM, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
LEGACY_NS = [int(x) for x in sys.argv[4:]]
W = "/run/ldb"
os.makedirs(W, exist_ok=True)
MODES, DUMP, STATS = f"{W}/modes", f"{W}/dump", f"{W}/stats"
CLK = os.sysconf("SC_CLK_TCK")
NEG_TIMEOUT = 2


def real(i):
    return f"127.100.{i // 250}.{i % 250 + 1}"


def config(n, path):
    per = 100
    with open(path, "w") as f:
        f.write(f"checkinterval=1\nnegotiatetimeout={NEG_TIMEOUT}\nquiescent=yes\nautoreload=no\nlogfile=\"{W}/ld.log\"\n")
        for v in range((n + per - 1) // per):
            f.write(f"virtual=127.1.{v // 250}.{v % 250 + 1}:8080\n    service=http\n    request=\"health\"\n    receive=\"OK\"\n")
            for i in range(v * per, min(n, (v + 1) * per)):
                f.write(f"    real={real(i)}:8080 gate\n")


def set_modes(m):
    with open(MODES + ".tmp", "w") as f:
        f.writelines(f"{a} {mode}\n" for a, mode in m.items())
    os.rename(MODES + ".tmp", MODES)


def farm_stats():
    open(DUMP, "w").close()
    for _ in range(500):
        if not os.path.exists(DUMP):
            break
        time.sleep(0.01)
    return dict(kv.split("=") for kv in open(STATS).read().split())


def cpu(pid):
    p = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(p[11]) + int(p[12])) / CLK


def rss_mb(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) / 1024
    return 0


def steady(pid, window):
    farm_stats()
    subprocess.run(["nstat", "-n"], capture_output=True)
    c0, f0, t0 = cpu(pid), cpu(farm.pid), time.time()
    time.sleep(window)
    c1, f1, t1 = cpu(pid), cpu(farm.pid), time.time()
    s = farm_stats()
    s["farm_cpu"] = f"{(f1 - f0) / (t1 - t0):.2f}"
    # TCP segments both ends sent per connection opened (this namespace holds only the bench).
    n = {}
    for l in subprocess.run(["nstat", "-z", "TcpOutSegs", "TcpActiveOpens"], capture_output=True, text=True).stdout.splitlines():
        p = l.split()
        if len(p) >= 2 and p[1].isdigit():
            n[p[0]] = int(p[1])
    s["segs"] = f"{n.get('TcpOutSegs', 0) / max(1, n.get('TcpActiveOpens', 0)):.1f}"
    return s, (c1 - c0) / (t1 - t0)


def table_weights(path):
    """{real: weight} from our ipvsadm -Ln layout file."""
    out = {}
    try:
        text = open(path).read().split("\n\n")[0]
    except FileNotFoundError:
        return out
    for l in text.splitlines():
        p = l.split()
        if len(p) >= 4 and p[0] == "->" and p[1][0].isdigit():
            out[p[1].rsplit(":", 1)[0]] = int(p[3])
    return out


def wait_until(pred, limit):
    t0 = time.time()
    while time.time() - t0 < limit:
        if pred():
            return time.time() - t0
        time.sleep(0.01)
    return None


def detections(weight_of, trials, exclude, heal_wait=True):
    """Switch random reals to 'bad', time until quiesced, heal; returns sorted times (s)."""
    times = []
    modes = {a: "hang" for a in exclude}
    for _ in range(trials):
        r = real(random.randrange(N if weight_of is ours_weight else LN))
        if r in exclude:
            continue
        time.sleep(random.uniform(0, 1))
        modes[r] = "bad"
        set_modes(modes)
        t = wait_until(lambda: weight_of(r) == 0, 15)
        times.append(t if t is not None else float("inf"))
        modes.pop(r)
        set_modes(modes)
        if heal_wait:
            wait_until(lambda: weight_of(r) not in (0, None), 15)
        else:
            # The stand-in's listing never changes, so 4.12 sends nothing on recovery: wait a round.
            time.sleep(3)
    return sorted(times)


def fmt(ts):
    ts = [t for t in ts]
    if not ts:
        return "-"
    return f"{min(ts):.2f} / {ts[len(ts) // 2]:.2f} / {max(ts):.2f} s (n={len(ts)})"


rows = []
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
set_modes({})
farm = subprocess.Popen([FARM, "8080", MODES, DUMP, STATS])
children = [farm]


@atexit.register
def _cleanup():
    # Nothing outlives the benchmark, whichever way it ends (no PID namespace here).
    for p in children:
        if p.poll() is None:
            p.kill()
time.sleep(0.5)

# --- heartbeat-rs
cf = f"{W}/ours.cf"
config(N, cf)
table = f"{W}/ours.txt"
t0 = time.time()
ours = subprocess.Popen([BIN, "ldirectord", "--ipvs-table", table, "-d", cf, "start"], stderr=open(f"{W}/ours.err", "w"))
children.append(ours)
def ours_weight(r):
    try:
        text = open(table).read()
    except FileNotFoundError:
        return None
    i = text.find(f"-> {r}:")
    if i < 0:
        return None
    return int(text[i:i + 80].split()[3])


def all_up():
    try:
        text = open(table).read().split("\n\n")[0]
    except FileNotFoundError:
        return False
    return text.count(" Route   1 ") >= N


up = wait_until(all_up, 120)
rows.append(("start-up to the full table, every real up", f"{up:.2f} s" if up is not None else "> 120 s"))
time.sleep(2)
s, c = steady(ours.pid, 10)
rows.append(("per-real check period (target 1 s ± 10 %)", f"median {s['p50']} s, p99 {s['p99']} s, min {s['min']} s, max {s['max']} s ({s['n']} gaps)"))
rows.append(("checks per second", f"{int(s['requests']) / 10:.0f}"))
rows.append(("CPU (target < 0.5 core)", f"{c:.2f} core ({c / max(1, int(s['requests']) / 10) * 1e6:.0f} µs per check; the farm used {s['farm_cpu']} core)"))
rows.append(("TCP segments per check, both ends", s["segs"]))
rows.append(("machine load average (2 cores, shared with other builds)", open("/proc/loadavg").read().split()[0]))
rows.append(("RSS", f"{rss_mb(ours.pid):.0f} MB"))
d = detections(ours_weight, 7, set())
rows.append((f"detection of a failed real (target ≤ 1 + {NEG_TIMEOUT} s + 50 ms)", fmt(d)))
hung = {real(i) for i in random.sample(range(N), 100)}
set_modes({a: "hang" for a in hung})
wait_until(lambda: all(ours_weight(a) == 0 for a in hung), 15)
d = detections(ours_weight, 7, hung)
rows.append(("the same with 100 hung reals", fmt(d)))
s, c = steady(ours.pid, 5)
rows.append(("period with 100 hung reals", f"median {s['p50']} s, p99 {s['p99']} s ({s['n']} gaps)"))
set_modes({})
t0 = time.time()
ours.send_signal(signal.SIGTERM)
ours.wait()
rows.append(("clean stop (SIGTERM to exit, services removed) — target < 1 s", f"{time.time() - t0:.2f} s"))
if os.environ.get("CHECK_FLOOR"):
    # The same exchange from bare blocking threads, nothing else, after the daemon stopped:
    # what any checker pays on this loopback (both ends' TCP work is billed to the client).
    out = subprocess.run([os.environ["CHECK_FLOOR"], str(N), "5", "4"], capture_output=True, text=True).stdout.split()
    f = dict(kv.split("=") for kv in out)
    rows.append(("floor: bare blocking client, same exchange, same rate (examples/check_floor.rs)", f"{f['cpu_core']} core ({f['us_per_check']} µs per check, {f['checks_per_s']} checks/s)"))

print(f"\n| heartbeat-rs, N = {N:,} reals (HTTP negotiate, checkinterval=1) | measured |")
print("|---|---|")
for k, v in rows:
    print(f"| {k} | {v} |")
sys.stdout.flush()

# --- ldirectord 4.12, ipvsadm stand-in that only logs its calls (so ipvsadm's own cost is left out)
if LEGACY_NS and os.path.exists("/usr/sbin/ldirectord"):
    shim = f"{W}/ipvsadm"
    with open(shim, "w") as f:
        # Logs each call; answers listings from /run/ldb/listing once the driver writes one (the
        # start-up is measured on an empty table, the rest on a table holding every real).
        f.write("#!/bin/sh\necho \"$(date +%s.%N) $*\" >> /run/ldb/legacy.calls\n"
                "case \"$1\" in -L) [ -f /run/ldb/listing ] && cat /run/ldb/listing;; esac\nexit 0\n")
    os.chmod(shim, 0o755)
    subprocess.run(["mount", "--bind", shim, "/usr/sbin/ipvsadm"], check=True)
    print("\n| ldirectord 4.12 (same run, same farm) | N | measured |")
    print("|---|---|---|")
    for LN in LEGACY_NS:
        cf = f"{W}/legacy-{LN}.cf"
        config(LN, cf)
        open(f"{W}/legacy.calls", "w").close()
        if os.path.exists(f"{W}/listing"):
            os.remove(f"{W}/listing")
        t0 = time.time()
        leg = subprocess.Popen(["/usr/sbin/ldirectord", "-d", cf, "start"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(leg)
        # Started once its synchronous first round is over: the stand-in gets no call for 3 s.
        last = [0, time.time()]

        def started():
            n = os.path.getsize(f"{W}/legacy.calls")
            if n != last[0]:
                last[0], last[1] = n, time.time()
            return n > 0 and time.time() - last[1] > 3

        t = wait_until(started, 600)
        calls = sum(1 for _ in open(f"{W}/legacy.calls"))
        print(f"| start-up ({calls:,} ipvsadm calls, to a stand-in that only logs) | {LN:,} | {t - 3:.1f} s |" if t else f"| start-up | {LN:,} | > 600 s |")
        with open(f"{W}/listing", "w") as f:
            f.write("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
            per = 100
            for v in range((LN + per - 1) // per):
                f.write(f"TCP  127.1.{v // 250}.{v % 250 + 1}:8080 wrr\n")
                for i in range(v * per, min(LN, (v + 1) * per)):
                    f.write(f"  -> {real(i)}:8080 Route   1      0          0\n")
        time.sleep(3)
        s, c = steady(leg.pid, 15)
        print(f"| per-real check period | {LN:,} | median {s['p50']} s, p99 {s['p99']} s, max {s['max']} s |")
        print(f"| CPU | {LN:,} | {c:.2f} core ({int(s['requests']) / 15:.0f} checks/s) |")
        print(f"| RSS | {LN:,} | {rss_mb(leg.pid):.0f} MB |")

        def legacy_weight(r):
            w = None
            for l in open(f"{W}/legacy.calls"):
                if f" -r {r}:" in l and (" -e " in l or " -a " in l):
                    w = int(l.split(" -w ")[1].split()[0])
            return w
        d = detections(legacy_weight, 5, set(), heal_wait=False)
        print(f"| detection of a failed real | {LN:,} | {fmt(d)} |")
        t0 = time.time()
        leg.send_signal(signal.SIGTERM)
        leg.wait()
        print(f"| clean stop | {LN:,} | {time.time() - t0:.2f} s |")
        sys.stdout.flush()
farm.kill()
