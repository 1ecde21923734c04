"""What a refresh of the emperor's dashboard costs a real browser: headless
Chromium (Debian's) opens the page, driven over --remote-debugging-pipe (the
DevTools protocol as NUL-separated JSON on fds 3 and 4: no websocket, no
dependency), lets it refresh for a while in real time, then reads what the page
measured itself (body data-render-ms / data-render-max-ms) and counts its elements.

usage: page_render.py URL SECONDS USER_DATA_DIR
"""
import json
import os
import subprocess
import sys
import time

url, seconds, profile = sys.argv[1], float(sys.argv[2]), sys.argv[3]
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()
# Chromium reads commands on fd 3 and writes answers on fd 4.
child = subprocess.Popen(
    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
     "--window-size=1400,1000", "--remote-debugging-pipe", "about:blank"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    pass_fds=(3, 4), preexec_fn=lambda: (os.dup2(to_chrome_r, 3), os.dup2(from_chrome_w, 4)))
os.close(to_chrome_r)
os.close(from_chrome_w)
buffer = b""
next_id = 0


def call(method, params=None, session=None):
    global buffer, next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
    while True:
        while b"\0" not in buffer:
            chunk = os.read(from_chrome_r, 1 << 16)
            if not chunk:
                raise SystemExit("chromium closed the pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        answer = json.loads(raw)
        if answer.get("id") == next_id:
            if "error" in answer:
                raise SystemExit(f"{method}: {answer['error']}")
            return answer["result"]


try:
    target = call("Target.createTarget", {"url": url})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    time.sleep(seconds)
    expression = """JSON.stringify({renderMs: document.body.dataset.renderMs, renderMaxMs: document.body.dataset.renderMaxMs,
        errors: document.body.dataset.errors || '', elements: document.getElementsByTagName('*').length,
        dots: document.querySelectorAll('.dot[data-worker]').length, charts: document.querySelectorAll('svg[data-chart]').length,
        heapMB: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null})"""
    p = json.loads(call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)["result"]["value"])
    heap = f"{p['heapMB']:.1f} MB" if p["heapMB"] is not None else "?"
    print(f"page in headless Chromium: a refresh (fetches parsed, {p['charts']} charts and {p['dots']} worker dots redrawn) "
          f"took {p['renderMs']} ms, at most {p['renderMaxMs']} ms over {seconds:.0f} s; {p['elements']} elements, "
          f"JS heap {heap}, script errors: {p['errors'] or 'none'}")
finally:
    child.kill()
    child.wait()
