# Makes docs/door-board.png for the README (needs chromium and chromedriver).
"""Takes the README's screenshot of the door board: a demo server, a few doors with
reported states, a real Chromium at 1366x768 through chromedriver's WebDriver API."""
import json, os, subprocess, sys, tempfile, time, urllib.request, base64, socket

def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def call(method, url, body=None, token=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None: req.add_header("content-type", "application/json")
    if token: req.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items(): req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None

binary, out = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp()
port, mport, dport = free(), free(), free()
env = dict(os.environ, GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD="demo-admin-password")
server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--metrics-listen", f"127.0.0.1:{mport}"], cwd=work, env=env, stdout=open(work + "/log", "w"), stderr=subprocess.STDOUT)
base = f"http://127.0.0.1:{port}"
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1); break
        except Exception: time.sleep(0.2)
    tok = call("POST", base + "/api/v1/auth/login", {"username": "admin", "password": "demo-admin-password"})["access_token"]
    doors = []
    for site_name, names in [("Rotterdam Terminal", ["Gate 1", "Warehouse A", "Server room"]), ("Head office", ["Main entrance", "Records room"])]:
        site = call("POST", base + "/api/v1/sites", {"name": site_name, "timezone": "Europe/Amsterdam"}, tok)
        outer = call("POST", base + "/api/v1/zones", {"site_id": site["id"], "name": "Grounds", "level": 0}, tok)
        for n in names:
            inner = call("POST", base + "/api/v1/zones", {"site_id": site["id"], "parent_id": outer["id"], "name": n.split()[0] + " area", "level": 1}, tok)
            d = call("POST", base + "/api/v1/doors", {"name": n, "from_zone_id": outer["id"], "to_zone_id": inner["id"]}, tok)
            doors.append(d["id"])
    online, offline = doors[:4], doors[4:]
    for group in (online, offline):
        code = call("POST", base + "/api/v1/agents", {"name": "agent " + str(len(group)), "door_ids": group}, tok)["enrollment_code"]
        agent_token = call("POST", base + "/api/v1/agent/enroll", {"code": code})["token"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        states = []
        for i, d in enumerate(group):
            forced = d == doors[1]
            states.append({"door_id": d, "lock": "released" if i == 2 else "locked", "contact": "open" if forced or i == 2 else "closed", "mode": "normal", "mode_until": None, "alarms": ["forced_open"] if forced else [], "last_event": {"kind": "forced_open" if forced else "presentation", "at": now, "detail": None if forced else "granted"}})
        call("POST", base + "/api/v1/agent/door-state", {"doors": states}, agent_token)
        if group is offline:
            offline_token = agent_token
    driver_port = free()
    driver = subprocess.Popen(["chromedriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wd = f"http://127.0.0.1:{driver_port}"
    for _ in range(50):
        try:
            urllib.request.urlopen(wd + "/status", timeout=1); break
        except Exception: time.sleep(0.2)
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--window-size=1366,768", "--disable-gpu"]}}}}
    sid = call("POST", wd + "/session", caps)["value"]["sessionId"]
    s = f"{wd}/session/{sid}"
    call("POST", s + "/url", {"url": base + "/login"})
    def el(css): return list(call("POST", s + "/element", {"using": "css selector", "value": css})["value"].values())[0]
    call("POST", s + f"/element/{el('#username')}/value", {"text": "admin"})
    call("POST", s + f"/element/{el('#password')}/value", {"text": "demo-admin-password"})
    call("POST", s + f"/element/{el('button[type=submit]')}/click", {})
    time.sleep(1.5)
    call("POST", s + "/url", {"url": base + "/desk"})
    time.sleep(1.5)
    png = call("GET", s + "/screenshot")["value"]
    open(out, "wb").write(base64.b64decode(png))
    call("DELETE", s)
    driver.terminate()
finally:
    server.terminate()
print("saved", out)
