#!/usr/bin/env python3
"""Generated keepalived.conf files for ./bench import: DIR N... writes DIR/keepalived-N.conf with
one VRRP instance and N/10 virtual services of 10 reals, each real with an HTTP_GET check (the
same shape as benches/parse.rs generate_keepalived)."""
import sys


def gen(virtuals, reals):
    out = ["global_defs {\n    router_id LVS_A\n}\nvrrp_instance VI_1 {\n    state MASTER\n    interface lo\n"
           "    virtual_router_id 51\n    advert_int 1\n    authentication {\n        auth_type PASS\n"
           "        auth_pass secret\n    }\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n"]
    for v in range(virtuals):
        a, b = v // 250, v % 250
        out.append(f"virtual_server 10.{a}.{b}.1 80 {{\n    delay_loop 5\n    lb_algo wlc\n    lb_kind DR\n    protocol TCP\n")
        for r in range(reals):
            out.append(f"    real_server 172.16.{v % 250}.{r + 2} 80 {{\n        weight {1 + r % 3}\n        HTTP_GET {{\n"
                       "            url {\n                path /health\n                status_code 200\n            }\n"
                       "            connect_timeout 3\n            retry 2\n        }\n    }\n")
        out.append("}\n")
    return "".join(out)


for n in sys.argv[2:]:
    with open(f"{sys.argv[1]}/keepalived-{n}.conf", "w") as f:
        f.write(gen(int(n) // 10, 10))
