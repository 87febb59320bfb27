#!/usr/bin/python3
# A recording stand-in for /usr/sbin/ipvsadm: keeps a table in $IPVSADM_STATE (JSON), logs each
# call to $IPVSADM_LOG, answers -L -n [--thresholds] in ipvsadm 1.31's layout, and refuses what
# ipvsadm/the kernel refuse for the commands ldirectord 4.12 issues (-A -E -D -a -e -d).
import json, os, sys

state_path = os.environ.get("IPVSADM_STATE", "/run/ipvsadm-standin.json")
log_path = os.environ.get("IPVSADM_LOG", "/run/ipvsadm-standin.log")
args = sys.argv[1:]
with open(log_path, "a") as f:
    f.write(" ".join(args) + "\n")
try:
    with open(state_path) as f:
        st = json.load(f)
except FileNotFoundError:
    st = {"services": []}

def save():
    with open(state_path + ".tmp", "w") as f:
        json.dump(st, f)
    os.rename(state_path + ".tmp", state_path)

def opt(flags, default=None):
    for i, a in enumerate(args):
        if a in flags and i + 1 < len(args):
            return args[i + 1]
    return default

def vs():
    for flag, proto in (("-t", "TCP"), ("-u", "UDP"), ("-f", "FWM")):
        v = opt([flag])
        if v is not None:
            return proto + " " + v + (" IPv6" if "-6" in args and proto == "FWM" else "")
    return None

def find(key):
    for s in st["services"]:
        if s["key"] == key:
            return s
    return None

def fwd():
    if "-m" in args: return "Masq"
    if "-i" in args: return "Tunnel"
    return "Route"

def fail(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)

cmd = args[0] if args else ""
if cmd == "-L" or (cmd == "-L" and "-n" in args):
    thresholds = "--thresholds" in args
    print("IP Virtual Server version 1.2.1 (size=4096)")
    print("Prot LocalAddress:Port Scheduler Flags")
    if thresholds:
        print("  -> RemoteAddress:Port            Uthreshold Lthreshold ActiveConn InActConn")
    else:
        print("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn")
    for s in st["services"]:
        line = "%s  %s %s" % (s["key"].split()[0], " ".join(s["key"].split()[1:]), s["sched"])
        if s.get("persistent") is not None:
            line += " persistent %s" % s["persistent"]
        print(line)
        for d in s["dests"]:
            if thresholds:
                print("  -> %-28s %-10s %-10s %-10s %s" % (d["addr"], d["u"], d["l"], 0, 0))
            else:
                print("  -> %-28s %-7s %-6s %-10s %s" % (d["addr"], d["fwd"], d["w"], 0, 0))
    sys.exit(0)

key = vs()
if key is None:
    fail("ipvsadm stand-in: no service in %r" % args, 2)
s = find(key)
if cmd in ("-A", "-E"):
    if cmd == "-A" and s is not None:
        fail("Service already exists")
    if cmd == "-E" and s is None:
        fail("No such service")
    if s is None:
        s = {"key": key, "dests": []}
        st["services"].append(s)
    s["sched"] = opt(["-s"], "wlc")
    s["persistent"] = opt(["-p"])
elif cmd == "-D":
    if s is None:
        fail("No such service")
    st["services"].remove(s)
elif cmd in ("-a", "-e", "-d"):
    if s is None:
        fail("No such service")
    r = opt(["-r"])
    # ipvsadm forces a direct-routing or tunnel real's port to the service's.
    if fwd() != "Masq" and not key.startswith("FWM") and cmd != "-d":
        r = r.rsplit(":", 1)[0] + ":" + key.split()[1].rsplit(":", 1)[1]
    d = next((x for x in s["dests"] if x["addr"] == r), None)
    if cmd == "-d":
        if d is None:
            fail("No such destination")
        s["dests"].remove(d)
    else:
        if cmd == "-a" and d is not None:
            fail("Destination already exists")
        if cmd == "-e" and d is None:
            fail("No such destination")
        if d is None:
            d = {"addr": r}
            s["dests"].append(d)
        d.update({"fwd": fwd(), "w": int(opt(["-w"], "1")), "u": int(opt(["-x"], "0")), "l": int(opt(["-y"], "0"))})
else:
    fail("ipvsadm stand-in: unsupported %r" % args, 2)
save()
