//! Reload on change: a thread looks at the certificate and key files every
//! second. It compares, for each, the path it resolves to through symlinks (a
//! Kubernetes Secret volume swaps its `..data` symlink to a new directory), the
//! inode, the size and the modification time; a change is loaded once it has held
//! still for one more look, so a pair being written file by file is not loaded
//! half new. Polling rather than inotify: the same on every volume type (a
//! symlink swap, a bind mount, an overlay), two `stat`s a second, no extra crate.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::CertReloader;

/// How often the files are looked at.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What a file looks like from outside; `None` when it cannot be read.
type FileStamp = Option<(PathBuf, u64, u64, SystemTime)>;

fn stamp(path: &Path) -> FileStamp {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    Some((real, meta.ino(), meta.len(), meta.modified().ok()?))
}

fn stamps(reloader: &CertReloader) -> [FileStamp; 2] {
    let files = reloader.files();
    [stamp(&files.cert_file), stamp(&files.key_file)]
}

/// Starts the thread that reloads `reloader` when its files change.
pub(crate) fn spawn_watcher(reloader: Arc<CertReloader>) -> std::io::Result<()> {
    let mut served = stamps(&reloader);
    std::thread::Builder::new()
        .name("authgate-tls-watch".into())
        .spawn(move || {
            let mut seen = served.clone();
            loop {
                std::thread::sleep(POLL_INTERVAL);
                let now = stamps(&reloader);
                if now != served && now == seen {
                    let _ = reloader.reload("files changed");
                    served = now.clone();
                }
                seen = now;
            }
        })?;
    Ok(())
}
