"""sha256 of every output of fingerprint.sh, JSON without times and paths: python fingerprint_hash.py DIR > out.json"""
import hashlib, json, re, sys
from pathlib import Path
SKIP = re.compile(r"(time|seconds|_s$|elapsed|path|dir|root|date|host|checkpoint|file|out)", re.I)
def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in sorted(x.items()) if not SKIP.search(k)}
    if isinstance(x, list):
        return [clean(v) for v in x]
    if isinstance(x, str) and "/" in x:
        return "<path>"
    return x
root = Path(sys.argv[1]); out = {}
for p in sorted(root.rglob("*")):
    if not p.is_file() or "tb" in p.parts or p.suffix in (".log",):
        continue
    rel = str(p.relative_to(root))
    if p.suffix == ".json":
        try:
            data = clean(json.loads(p.read_text()))
        except Exception:
            continue
        out[re.sub(r"\.[0-9a-f]{16}\.", ".H.", rel)] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    elif p.suffix in (".yaml", ".txt", ".html"):
        continue
    else:
        out[re.sub(r"\.[0-9a-f]{16}\.", ".H.", rel)] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
json.dump(out, sys.stdout, indent=1, sort_keys=True)
