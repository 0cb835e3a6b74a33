# race.py CREDS REPO TAG PORTS FILE...: the racing step of the e2e tests. One
# thread per FILE opens a connection to a front door (port i mod #ports, PORTS
# comma-separated), they meet at a barrier, then PUT their manifest to one tag
# at the same moment. One line per push: INDEX PORT STATUS ERRORCODE.
import base64, http.client, json, sys, threading
creds, repo, tag, ports = sys.argv[1:5]
files = sys.argv[5:]
ports = [int(p) for p in ports.split(",")]
auth = "Basic " + base64.b64encode(creds.encode()).decode()
bodies = [open(f, "rb").read() for f in files]
barrier = threading.Barrier(len(files))
res = [None] * len(files)
def push(i):
    port = ports[i % len(ports)]
    c = None
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        c.connect()
    except Exception as e:
        res[i] = (port, "ERR", type(e).__name__)
    try:
        barrier.wait(timeout=15)
    except Exception:
        pass
    if res[i] is not None:
        return
    try:
        c.request("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=bodies[i],
                  headers={"Authorization": auth,
                           "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        r = c.getresponse()
        b = r.read()
        code = "-"
        try:
            code = json.loads(b)["errors"][0]["code"]
        except Exception:
            pass
        res[i] = (port, r.status, code)
    except Exception as e:
        res[i] = (port, "ERR", type(e).__name__)
threads = [threading.Thread(target=push, args=(i,)) for i in range(len(files))]
for t in threads: t.start()
for t in threads: t.join(30)
for i, r in enumerate(res):
    print(i, *(r or ("?", "TIMEOUT", "-")))
