//! The optional state file: postcard, written atomically (temp, fsync, rename, fsync dir), 0600.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::State;

const MAGIC: &[u8; 8] = b"MBXAEMU1";

/// Writes the state to `path` atomically.
pub(crate) fn save(state: &State, path: &Path) -> Result<()> {
    let io = |source| Error::StateIo {
        path: path.to_path_buf(),
        source,
    };
    let body = postcard::to_stdvec(state).map_err(|e| Error::StateDecode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(MAGIC).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads the state if `path` exists.
pub(crate) fn load(path: &Path) -> Result<Option<State>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::StateIo {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let bad = |reason: String| Error::StateDecode {
        path: path.to_path_buf(),
        reason,
    };
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("missing MBXAEMU1 header".into()))?;
    let mut st: State = postcard::from_bytes(body).map_err(|e| bad(e.to_string()))?;
    st.rebuild_index();
    Ok(Some(st))
}
