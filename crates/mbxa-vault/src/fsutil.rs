//! Write-once files: temp name, fsync, rename, fsync the directory; mode 0600.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoCtx, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique temp file name in `dir` (pid + counter + time, so concurrent writers never collide).
pub(crate) fn temp_path(dir: &Path, hint: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!("{hint}-{}-{n}-{nanos}.tmp", std::process::id()))
}

/// Creates a new file for writing, mode 0600 on unix, failing if it exists.
pub(crate) fn create_new(path: &Path) -> Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).ctx(path)
}

/// fsyncs a directory so a rename or unlink in it is durable. The empty path (the parent of a
/// relative one-component path such as `vault`) means the current directory.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all()).ctx(dir)?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Makes `tmp` durable under `final_path`: fsync the file, rename, fsync the target directory.
pub(crate) fn commit(file: File, tmp: &Path, final_path: &Path) -> Result<()> {
    file.sync_all().ctx(tmp)?;
    drop(file);
    std::fs::rename(tmp, final_path).ctx(final_path)?;
    if let Some(parent) = final_path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Writes `data` to `final_path` atomically through a temp file in `tmp_dir`.
pub(crate) fn write_atomic(tmp_dir: &Path, final_path: &Path, data: &[u8]) -> Result<()> {
    let tmp = temp_path(tmp_dir, "w");
    let mut f = create_new(&tmp)?;
    if let Err(e) = f.write_all(data).ctx(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    commit(f, &tmp, final_path)
}

/// Creates a directory (and parents) if missing, fsyncing the parent when it was created.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).ctx(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Removes a file and fsyncs its directory; a missing file is not an error.
pub(crate) fn remove_durable(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx(path),
    }
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}
