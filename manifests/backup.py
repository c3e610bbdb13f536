# hakube backup: one archive of every volume that matters, with a manifest.
# Paths and choices come from the environment, so the same script runs in
# the CronJob and in tests:
#   BACKUP_DIR      where archives are written (the backups volume)
#   COPY_DIR        optional second destination (a host directory)
#   WORK_DIR        scratch space (database copies)
#   SOURCES         "name:dir ..." volumes to archive, one prefix each
#   RETENTION_DAYS  archives older than this many days are deleted
#   HAKUBE_VERSION, COMPONENT_VERSIONS ("name=version ...") for the manifest
#   RUN_ID          the Job's name: its time (a CronJob's "-<minutes since
#                   the epoch>", hakube's "-m<seconds>") names the archive,
#                   so the jobs of one run in two namespaces agree on it
#   PART            set in the radio namespace's job: this run writes the
#                   part archive hakube-<stamp>.<PART>.tar.gz
#   PARTS           "name ..." parts that belong to the main archive of
#                   this run, recorded in its manifest
# SQLite databases (any file starting with the SQLite header) are copied
# with SQLite's online backup API, never read as files; their -wal, -shm
# and -journal files are skipped. The archive is written under a temporary
# name, fsynced and renamed: it is complete or absent.
import datetime, hashlib, io, json, os, re, shutil, sqlite3, sys, tarfile, tempfile

os.umask(0o077)
NAME_RE = re.compile(r"^hakube-(\d{8}T\d{6}Z)(\.[a-z0-9-]+)?\.tar\.gz$")
SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal")
# Secret volumes hold their files as links into a ..data directory: archive
# what the links point to.
FOLLOW_LINKS = {"hakube"}
# Caches and logs that are rebuilt: never archived.
EXCLUDE = {
    "home-assistant": ["backups", "tts", "deps", ".cache", "home-assistant.log", "home-assistant.log.1",
                       "home-assistant.log.old", "home-assistant.log.fault"],
    "zigbee2mqtt": ["log"],
    "nodered": [".npm"],
    "esphome": [".esphome/build", ".esphome/platformio"],
}


def log(msg):
    print("backup: " + msg, flush=True)


def fsync_dir(d):
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_sqlite(path):
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def sqlite_copy(src, dst):
    """Copy a live database with the online backup API; return its row counts."""
    s = sqlite3.connect("file:" + src + "?mode=ro", uri=True, timeout=60)
    d = sqlite3.connect(dst)
    try:
        s.backup(d)
    finally:
        s.close()
    try:
        ok = d.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise RuntimeError("the copy of %s fails its check: %s" % (src, ok))
        tables = [r[0] for r in d.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: d.execute('SELECT COUNT(*) FROM "%s"' % t.replace('"', '""')).fetchone()[0] for t in tables}
    finally:
        d.close()


def excluded(comp, rel):
    for e in EXCLUDE.get(comp, []):
        if rel == e or rel.startswith(e + "/"):
            return True
    return False


class Archive:
    def __init__(self, path, work):
        self.f = open(path, "wb")
        self.tar = tarfile.open(fileobj=self.f, mode="w:gz", compresslevel=6, format=tarfile.PAX_FORMAT)
        self.work = work
        self.files = []

    def add_file(self, name, src, st):
        h = hashlib.sha256()
        with open(src, "rb") as f, tempfile.SpooledTemporaryFile(max_size=32 << 20, dir=self.work) as buf:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                buf.write(chunk)
            size = buf.tell()
            buf.seek(0)
            ti = self.info(name, st)
            ti.size = size
            self.tar.addfile(ti, buf)
        self.files.append({"path": name, "size": size, "sha256": h.hexdigest(), "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid})

    def add_dir(self, name, st):
        ti = self.info(name, st)
        ti.type = tarfile.DIRTYPE
        self.tar.addfile(ti)

    def add_link(self, name, target, st):
        ti = self.info(name, st)
        ti.type = tarfile.SYMTYPE
        ti.linkname = target
        self.tar.addfile(ti)
        self.files.append({"path": name, "link": target})

    def info(self, name, st):
        ti = tarfile.TarInfo(name)
        ti.mode = st.st_mode & 0o7777
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.mtime = int(st.st_mtime)
        return ti

    def finish(self, manifest):
        data = json.dumps(manifest, indent=1, sort_keys=True).encode()
        ti = tarfile.TarInfo("MANIFEST.json")
        ti.size, ti.mode, ti.mtime = len(data), 0o600, int(manifest["created_unix"])
        self.tar.addfile(ti, io.BytesIO(data))
        self.tar.close()
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


def archive_volume(ar, comp, root, work, databases):
    for dirpath, dirnames, filenames in os.walk(root):
        reldir = os.path.relpath(dirpath, root)
        reldir = "" if reldir == "." else reldir
        # os.walk lists links to directories with the directories and does
        # not enter them: they are archived as links, like links to files.
        dirlinks = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in dirlinks and not d.startswith("..") and not excluded(comp, os.path.join(reldir, d)))
        if reldir:
            ar.add_dir(comp + "/" + reldir, os.lstat(dirpath))
        dbs = set()
        names = sorted(filenames + dirlinks)
        for fn in names:
            p = os.path.join(dirpath, fn)
            if not os.path.islink(p) and is_sqlite(p):
                dbs.add(fn)
        for fn in names:
            rel = os.path.join(reldir, fn)
            if fn.startswith("..") or excluded(comp, rel) or any(fn == d + s for d in dbs for s in SIDE_FILES):
                continue
            p = os.path.join(dirpath, fn)
            name = comp + "/" + rel
            try:
                st = os.stat(p) if comp in FOLLOW_LINKS else os.lstat(p)
            except FileNotFoundError:
                continue  # removed while we walked
            if os.path.islink(p) and comp not in FOLLOW_LINKS:
                ar.add_link(name, os.readlink(p), st)
            elif fn in dbs:
                copy = os.path.join(work, "db-%d.sqlite" % len(databases))
                rows = sqlite_copy(p, copy)
                ar.add_file(name, copy, st)
                os.unlink(copy)
                databases[name] = {"engine": "sqlite", "rows": rows}
            elif os.path.isfile(p):
                try:
                    ar.add_file(name, p, st)
                except FileNotFoundError:
                    continue


def retention(d, days, now, keep):
    """Delete archives (and legacy dumps) older than days, never keep's."""
    if not d or not os.path.isdir(d):
        return
    limit = now - datetime.timedelta(days=days)
    for fn in sorted(os.listdir(d)):
        p = os.path.join(d, fn)
        if fn.startswith(".hakube-") and fn.endswith(".partial"):
            # Left by a run that was killed: never a good archive. One
            # written to in the last hour may be another run's, going on.
            if os.stat(p).st_mtime < now.timestamp() - 3600:
                os.unlink(p)
                log("removed incomplete " + fn)
            continue
        m = NAME_RE.match(fn) or re.match(r"^hakube-postgresql-(\d{8}T\d{6}Z)\.dump$", fn)
        if not m or fn == keep:
            continue
        stamp = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        if stamp < limit:
            os.unlink(p)
            log("removed %s (older than %d days)" % (fn, days))
    fsync_dir(d)


def copy_to(src, d):
    name = os.path.basename(src)
    tmp = os.path.join(d, "." + name + ".partial")
    with open(src, "rb") as f, open(tmp, "wb") as w:
        shutil.copyfileobj(f, w, 1 << 20)
        w.flush()
        os.fsync(w.fileno())
    os.rename(tmp, os.path.join(d, name))
    fsync_dir(d)


def run_time(run_id):
    """The time a Job's name carries, else now."""
    utc = datetime.timezone.utc
    m = re.search(r"-m(\d{9,11})$", run_id or "")
    if m:
        return datetime.datetime.fromtimestamp(int(m.group(1)), utc)
    m = re.search(r"-(\d{7,9})$", run_id or "")
    if m:
        return datetime.datetime.fromtimestamp(int(m.group(1)) * 60, utc)
    return datetime.datetime.now(utc).replace(microsecond=0)


def main():
    env = os.environ
    out, work = env["BACKUP_DIR"], env.get("WORK_DIR") or tempfile.mkdtemp()
    copy_dir = env.get("COPY_DIR", "")
    days = int(env["RETENTION_DAYS"])
    part = env.get("PART", "")
    if part and not re.match(r"^[a-z0-9-]+$", part):
        sys.exit("backup: PART %r is not a plain name" % part)
    now = run_time(env.get("RUN_ID", ""))
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    name = "hakube-%s%s.tar.gz" % (stamp, "." + part if part else "")
    final, tmp = os.path.join(out, name), os.path.join(out, "." + name + ".partial")
    if os.path.exists(final):
        sys.exit("backup: %s already exists: is another backup running?" % final)
    retention(out, days, now, None)  # clears leftovers of killed runs first
    ar = Archive(tmp, work)
    databases, contents = {}, []
    try:
        for item in env.get("SOURCES", "").split():
            comp, root = item.split(":", 1)
            if not os.path.isdir(root):
                sys.exit("backup: %s is not mounted at %s" % (comp, root))
            archive_volume(ar, comp, root, work, databases)
            contents.append(comp)
        pg = os.path.join(work, "postgresql")
        if os.path.isdir(pg):
            rows = {}
            for line in open(os.path.join(pg, "rows.txt")):
                t, n = line.rstrip("\n").rsplit(" ", 1)
                rows[t] = int(n)
            ar.add_file("postgresql/homeassistant.dump", os.path.join(pg, "homeassistant.dump"), os.stat(os.path.join(pg, "homeassistant.dump")))
            databases["postgresql/homeassistant.dump"] = {"engine": "postgresql", "rows": rows}
            contents.append("postgresql")
        versions = dict(kv.split("=", 1) for kv in env.get("COMPONENT_VERSIONS", "").split())
        extra = {"part": part} if part else {}
        if env.get("PARTS", "").split():
            extra["parts"] = env["PARTS"].split()
        ar.finish(dict(extra, **{
            "format": 1,
            "created": now.isoformat().replace("+00:00", "Z"),
            "created_unix": int(now.timestamp()),
            "hakube_version": env.get("HAKUBE_VERSION", "unknown"),
            "component_versions": versions,
            "contents": contents,
            "files": ar.files,
            "databases": databases,
        }))
        os.rename(tmp, final)
        fsync_dir(out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    log("wrote %s (%d bytes, %d files)" % (final, os.path.getsize(final), len(ar.files)))
    retention(out, days, now, name)
    if copy_dir:
        copy_to(final, copy_dir)
        retention(copy_dir, days, now, name)
        log("copied to " + copy_dir)


main()
