"""``loa backup DIR`` and ``loa restore DIR``: everything a gateway needs to come back
after its disk dies, taken while it runs.

What is kept: the database (SQLite through its online backup API, a consistent snapshot
that includes what is still in the WAL; PostgreSQL through ``pg_dump``), the artifacts
(rendered audio, residents' recordings), the recordings spool and Asterisk's recordings
not yet filed, the pronunciations and the secret key. ``manifest.json`` lists every file
with its size and SHA-256; it is written last, so a backup without it is incomplete.

Order matters for consistency while the gateway writes: the spools are copied before the
database snapshot (a recording filed meanwhile is in both, and filing it again finds its
case by ``intake_ref``), and the artifacts after it (every artifact the snapshot knows was
stored before its row was committed). Restoring refuses a data directory that already
holds data unless ``--force``, checks every checksum first, and points the artifact rows
at their new place.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import Settings, load_settings

FORMAT = "loa-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "loa.db"
PG_FILE = "loa.pgdump"
SKIP_SUFFIXES = (".tmp", ".store")  # half-written files: their writer renames them when done


class BackupError(Exception):
    """What stops a backup or a restore, said so that the operator knows what to do."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _trees(settings: Settings) -> dict[str, Path]:
    """Backup folder name -> where it lives in this deployment."""
    return {
        "spool": settings.data_dir / "spool",
        "asterisk-recordings": settings.recordings_dir,
        "artifacts": settings.data_dir / "artifacts",
    }


def _copy_tree(source: Path, target: Path) -> None:
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.name.endswith(SKIP_SUFFIXES):
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(path, dest)
            except FileNotFoundError:  # filed and removed while we walked: the database has it
                continue


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres"))


def _sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"CSDL SQLite trong bộ nhớ ({url}) không sao lưu được")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore (no driver suffix), the password in PGPASSWORD
    rather than on a command line that ``ps`` shows."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _run_pg(tool: str, args: list[str], url: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"không tìm thấy {tool}: cài gói postgresql-client cùng phiên bản với máy chủ")
    target, env = _libpq(url)
    done = subprocess.run([tool, *args, f"--dbname={target}"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} thất bại: {done.stderr.strip()[-500:]}")


def _snapshot_sqlite(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"không có tệp CSDL {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)  # one step: a consistent snapshot, WAL included, writers not blocked
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the backup
    finally:
        dst.close()
        src.close()


def backup(settings: Settings, target: Path, force: bool = False) -> dict[str, Any]:
    """Take the backup into ``target`` (created; refused if it holds files, unless ``force``)."""
    if target.exists() and any(target.iterdir()) and not force:
        raise BackupError(f"thư mục {target} đã có tệp: chọn thư mục trống (hoặc --force để ghi đè)")
    if force and target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    trees = _trees(settings)
    for name in ("spool", "asterisk-recordings"):
        _copy_tree(trees[name], target / name)
    url = settings.db_url
    if _is_postgres(url):
        database = {"kind": "postgresql", "file": PG_FILE}
        _run_pg("pg_dump", ["--format=custom", "--no-owner", f"--file={target / PG_FILE}"], url)
    else:
        database = {"kind": "sqlite", "file": SQLITE_FILE}
        _snapshot_sqlite(_sqlite_path(url), target / SQLITE_FILE)
    _copy_tree(trees["artifacts"], target / "artifacts")
    for name in ("pronunciations.tsv", "secret_key"):
        if (settings.data_dir / name).is_file():
            shutil.copy2(settings.data_dir / name, target / name)
    files = {
        path.relative_to(target).as_posix(): {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(target.rglob("*"))
        if path.is_file()
    }
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {"data_dir": str(settings.data_dir.resolve()), "artifacts": str(trees["artifacts"].resolve())},
        "database": database,
        "secret_key": "configured" if settings.secret_key else ("file" if "secret_key" in files else "none"),
        "files": files,
    }
    tmp = target / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target / MANIFEST)
    return manifest


def verify(source: Path) -> dict[str, Any]:
    """The manifest, once every file it lists is there with its size and checksum."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{source} không có {MANIFEST}: bản sao lưu chưa xong hoặc không phải của Loa") from exc
    except (ValueError, OSError) as exc:
        raise BackupError(f"{MANIFEST} không đọc được: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST}: định dạng {manifest.get('format')!r}, cần {FORMAT}")
    for name, meta in manifest["files"].items():
        path = source / name
        if not path.is_file() or path.stat().st_size != meta["size"] or _sha256(path) != meta["sha256"]:
            raise BackupError(f"tệp {name} thiếu hoặc sai tổng kiểm (SHA-256): bản sao lưu bị hỏng")
    return manifest


def _occupied(settings: Settings, manifest: dict[str, Any]) -> list[str]:
    found = []
    if settings.data_dir.exists() and any(settings.data_dir.iterdir()):
        found.append(f"thư mục dữ liệu {settings.data_dir} không trống")
    if _is_postgres(settings.db_url):
        if asyncio.run(_pg_tables(settings.db_url)):
            found.append("CSDL PostgreSQL đã có bảng")
    else:
        db = _sqlite_path(settings.db_url)
        if db.exists() and not db.is_relative_to(settings.data_dir):
            found.append(f"đã có CSDL {db}")
    return found


async def _pg_tables(url: str) -> int:
    from sqlalchemy import text

    from gateway.db.session import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            query = text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            return int((await connection.execute(query)).scalar_one())
    finally:
        await engine.dispose()


def restore(settings: Settings, source: Path, force: bool = False) -> dict[str, Any]:
    """Bring the data directory (and database) of ``settings`` back to the backup's state."""
    manifest = verify(source)
    kind = manifest["database"]["kind"]
    if kind == "postgresql" and not _is_postgres(settings.db_url):
        raise BackupError("bản sao lưu là của PostgreSQL: cấu hình database_url trỏ tới một CSDL PostgreSQL trống")
    if kind == "sqlite" and _is_postgres(settings.db_url):
        raise BackupError("bản sao lưu là của SQLite: bỏ database_url (PostgreSQL) khỏi cấu hình để khôi phục")
    occupied = _occupied(settings, manifest)
    if occupied and not force:
        raise BackupError("; ".join(occupied) + " (dùng --force để ghi đè)")
    data = settings.data_dir
    trees = _trees(settings)
    for name in ("spool", "asterisk-recordings", "artifacts"):
        if force and trees[name].exists():
            shutil.rmtree(trees[name])
        if (source / name).is_dir():
            shutil.copytree(source / name, trees[name], dirs_exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    for name in ("pronunciations.tsv", "secret_key"):
        if (source / name).is_file():
            shutil.copy2(source / name, data / name)
            if name == "secret_key":
                (data / name).chmod(0o600)
    if kind == "sqlite":
        db = _sqlite_path(settings.db_url)
        db.parent.mkdir(parents=True, exist_ok=True)
        for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            stale.unlink(missing_ok=True)  # an old WAL beside the restored file would be replayed into it
        shutil.copy2(source / SQLITE_FILE, db)
    else:
        args = ["--clean", "--if-exists", "--no-owner", "--exit-on-error", str(source / PG_FILE)]
        _run_pg("pg_restore", args, settings.db_url)
    moved = asyncio.run(_repoint_artifacts(settings))
    return manifest | {"artifacts_repointed": moved}


async def _repoint_artifacts(settings: Settings) -> int:
    """Artifact rows keep absolute paths: point them into this data directory."""
    from sqlalchemy import select, update

    from gateway.db.models import Artifact
    from gateway.db.session import make_engine
    from gateway.storage.artifacts import ArtifactStore

    store = ArtifactStore(_trees(settings)["artifacts"])
    engine = make_engine(settings.db_url)
    moved = 0
    try:
        async with engine.begin() as connection:
            for sha, path in (await connection.execute(select(Artifact.sha256, Artifact.path))).all():
                here = store.path_for(sha, Path(path).suffix.lstrip("."))
                if str(here) != path and here.is_file():
                    await connection.execute(update(Artifact).where(Artifact.sha256 == sha).values(path=str(here)))
                    moved += 1
    finally:
        await engine.dispose()
    return moved


# --- the command line ------------------------------------------------------------------
def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, helptext, func in (
        ("backup", "sao lưu CSDL, tệp âm thanh, bản ghi chờ, cách đọc và khóa bí mật (khi cổng đang chạy)", cmd_backup),
        ("restore", "khôi phục một bản sao lưu vào thư mục dữ liệu trống", cmd_restore),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("dir", type=Path, help="thư mục của bản sao lưu")
        p.add_argument("--config", type=Path, default=_default_config(), help="tệp cấu hình TOML")
        p.add_argument("--data-dir", type=Path, help="thư mục dữ liệu (mặc định: theo cấu hình)")
        p.add_argument("--force", action="store_true", help="ghi đè nơi đích đã có dữ liệu")
        p.set_defaults(func=func)


def _default_config() -> Path | None:
    value = os.environ.get("LOA_CONFIG")
    return Path(value) if value else None


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    return dataclasses.replace(settings, data_dir=args.data_dir) if args.data_dir else settings


def cmd_backup(args: argparse.Namespace) -> int:
    try:
        manifest = backup(_settings(args), args.dir, args.force)
    except (BackupError, OSError, sqlite3.Error) as exc:
        print(f"loa: sao lưu thất bại: {exc}", file=sys.stderr)
        return 2
    size = sum(f["size"] for f in manifest["files"].values())
    print(f"đã sao lưu {len(manifest['files'])} tệp ({size / 2**20:.1f} MB) vào {args.dir}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        manifest = restore(settings, args.dir, args.force)
    except (BackupError, OSError, sqlite3.Error) as exc:
        print(f"loa: khôi phục thất bại: {exc}", file=sys.stderr)
        return 2
    print(f"đã khôi phục bản sao lưu lúc {manifest['created_at']} vào {settings.data_dir}")
    if manifest["secret_key"] == "configured":
        print("lưu ý: khóa bí mật nằm trong cấu hình (secret_key), không trong bản sao lưu: giữ nguyên giá trị cũ")
    return 0
