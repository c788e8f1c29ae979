//! The vault's exclusive lock: a `lock` file created with O_EXCL holding pid, host and time.
//!
//! A lock whose holder is a dead pid on this same host is stale and is taken over (the stale file
//! is first renamed to a unique name, so two processes breaking the same stale lock cannot delete
//! each other's fresh lock). Locks held from another host are never broken automatically.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoCtx, Result};
use crate::fsutil;

/// Holds the vault lock until dropped.
#[derive(Debug)]
pub struct VaultLock {
    path: PathBuf,
    content: String,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `pid` is alive on this host. Without `/proc` we cannot tell and say "alive".
fn pid_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

struct Holder {
    pid: u32,
    host: String,
    since: u64,
    operation: String,
}

fn parse(content: &str) -> Option<Holder> {
    let mut pid = None;
    let mut host = None;
    let mut since = None;
    let mut operation = String::new();
    for line in content.lines() {
        let (k, v) = line.split_once('=')?;
        match k {
            "pid" => pid = v.parse().ok(),
            "host" => host = Some(v.to_string()),
            "time" => since = v.parse().ok(),
            "operation" => operation = v.to_string(),
            _ => {}
        }
    }
    Some(Holder {
        pid: pid?,
        host: host?,
        since: since?,
        operation,
    })
}

impl VaultLock {
    /// Takes the lock of the vault at `root` for `operation`, breaking a stale one.
    pub fn acquire(root: &Path, operation: &str) -> Result<VaultLock> {
        let path = root.join("lock");
        let content = format!(
            "pid={}\nhost={}\ntime={}\noperation={}\n",
            std::process::id(),
            hostname(),
            now_secs(),
            operation
        );
        // The lock file appears complete or not at all: its content is written and fsynced under
        // a temp name, then hard-linked to `lock` (which fails if `lock` exists). A process killed
        // at any point leaves either no lock or a whole one naming a dead pid.
        let tmp_dir = if root.join("tmp").is_dir() {
            root.join("tmp")
        } else {
            root.to_path_buf()
        };
        for _ in 0..8 {
            let tmp = fsutil::temp_path(&tmp_dir, "lock-new");
            let mut f = fsutil::create_new(&tmp)?;
            let written = f.write_all(content.as_bytes()).and_then(|()| f.sync_all());
            drop(f);
            let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    fsutil::sync_dir(root)?;
                    return Ok(VaultLock { path, content });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // Our temp file was swept by a concurrent cleanup: try again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx(&path),
            }
            let mut existing = String::new();
            match std::fs::File::open(&path) {
                Ok(mut f) => {
                    f.read_to_string(&mut existing).ctx(&path)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).ctx(&path),
            }
            let holder = parse(&existing);
            let stale = match &holder {
                Some(h) => h.host == hostname() && !pid_alive(h.pid),
                // An empty or torn lock file: its writer died between create and write, unless it
                // is being written right now, so only an old one counts as stale.
                None => std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 10),
            };
            if !stale {
                let h = holder.unwrap_or(Holder {
                    pid: 0,
                    host: String::new(),
                    since: 0,
                    operation: String::new(),
                });
                return Err(Error::Locked {
                    path,
                    pid: h.pid,
                    host: h.host,
                    since: h.since,
                    operation: h.operation,
                });
            }
            // Break the stale lock: move it aside, and only delete it if it is still the stale one.
            let aside = fsutil::temp_path(root, "lock-stale");
            if std::fs::rename(&path, &aside).is_err() {
                continue;
            }
            let moved = std::fs::read_to_string(&aside).unwrap_or_default();
            if moved == existing {
                let _ = std::fs::remove_file(&aside);
            } else {
                // We raced with another breaker and moved its fresh lock: put it back.
                let _ = std::fs::hard_link(&aside, &path);
                let _ = std::fs::remove_file(&aside);
            }
        }
        Err(Error::Corrupt {
            path,
            what: "lock",
            offset: 0,
            detail: "could not take the lock after repeated attempts".into(),
        })
    }
}

impl Drop for VaultLock {
    fn drop(&mut self) {
        // Only remove the file if it is still ours.
        if std::fs::read_to_string(&self.path).is_ok_and(|c| c == self.content) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_and_released_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let l = VaultLock::acquire(d.path(), "test").unwrap();
        let e = VaultLock::acquire(d.path(), "second").unwrap_err();
        assert!(matches!(e, Error::Locked { pid, .. } if pid == std::process::id()));
        drop(l);
        let _again = VaultLock::acquire(d.path(), "third").unwrap();
    }

    #[test]
    fn stale_lock_of_dead_pid_is_broken() {
        let d = tempfile::tempdir().unwrap();
        // pid 4194304 is above Linux's pid_max, so it can never be alive.
        let stale = format!("pid=4194304\nhost={}\ntime=1\noperation=add\n", hostname());
        std::fs::write(d.path().join("lock"), stale).unwrap();
        let _l = VaultLock::acquire(d.path(), "test").unwrap();
        let c = std::fs::read_to_string(d.path().join("lock")).unwrap();
        assert!(c.contains(&format!("pid={}", std::process::id())));
    }

    #[test]
    fn lock_from_other_host_is_respected() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("lock"),
            "pid=1\nhost=elsewhere\ntime=1\noperation=add\n",
        )
        .unwrap();
        assert!(matches!(
            VaultLock::acquire(d.path(), "test"),
            Err(Error::Locked { ref host, .. }) if host == "elsewhere"
        ));
    }
}
