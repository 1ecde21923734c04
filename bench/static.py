"""The static files bench: the same two files (10 KiB, 1 MiB) from the zerg's
static-map, uWSGI's static-map and nginx, 2 processes each, wrk -c32 keep-alive."""
import atexit
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, bench_arguments, median_of_rounds, print_machine, start, stop, wait_ready, wrk  # noqa: E402


def main():
    p = bench_arguments("zerg")
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-static-")
    atexit.register(shutil.rmtree, tmp, True)
    os.chmod(tmp, 0o755)  # nginx's workers run as another user
    files = os.path.join(tmp, "static")
    os.makedirs(files)
    for name, size in (("10k.bin", 10 * 1024), ("1m.bin", 1024 * 1024)):
        with open(os.path.join(files, name), "wb") as f:
            f.write(os.urandom(size))
    hello = os.path.join(ROOT, "bench", "hello.py")
    ports = {"zerg": 19720, "uwsgi": 19721, "nginx": 19722}
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(f"""daemon off; worker_processes 2; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; types {{ application/octet-stream bin; }}
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{ listen 127.0.0.1:{ports['nginx']}; location /static/ {{ alias {files}/; }} }} }}
""")
    table = {
        "zerg": [[os.path.abspath(a.zerg), "--http-socket", f"127.0.0.1:{ports['zerg']}", "--processes", "2", "--wsgi-file", hello,
                  "--static-map", f"/static={files}", "--disable-logging"]],
        "uwsgi": [["uwsgi", "--plugin", "python3", "--http-socket", f"127.0.0.1:{ports['uwsgi']}", "--processes", "2", "--master",
                   "--wsgi-file", hello, "--static-map", f"/static={files}", "--disable-logging", "--add-header", "Connection: Keep-Alive"]],
        "nginx": [["/usr/sbin/nginx", "-p", tmp, "-c", os.path.join(tmp, "nginx.conf")]],
    }
    names = list(table)
    procs = {name: start(table[name], tmp, dict(os.environ)) for name in names}
    results = {}
    try:
        for name in names:
            if not wait_ready(ports[name], "/"):
                print(f"{name} did not start", file=sys.stderr)
        for path in ("/static/10k.bin", "/static/1m.bin"):
            for name in names:
                wrk(ports[name], path, False, 2)  # warm-up
            medians = median_of_rounds(names, a.rounds, lambda name: wrk(ports[name], path, False, a.duration))
            for name in names:
                results[(path, name)] = medians[name]
    finally:
        for p in procs.values():
            stop(p)
    print_machine(f"wrk -t1 -c32 -d{a.duration}s --latency (keep-alive)", a.rounds)
    print("| file | server | req/s | p50 ms | p99 ms | errors | zerg ÷ server |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for path in ("/static/10k.bin", "/static/1m.bin"):
        ours = results[(path, "zerg")]
        for name in names:
            r = results[(path, name)]
            ratio = f"{ours[0] / r[0]:.2f}×" if name != "zerg" else ""
            print(f"| {path.rsplit('/', 1)[1]} | {name} | {r[0]:,.0f} | {r[1]:.2f} | {r[2]:.2f} | {r[3]} | {ratio} |")
    print("\nerrors: wrk's socket errors plus non-2xx responses. uWSGI's http-socket closes every connection")
    print("without a `Connection: close` header, which wrk counts as a read error per request.")


if __name__ == "__main__":
    main()
