//! One writer per ledger: every command that writes to Genesys or to the ledger holds an exclusive
//! lease on it, so two `load`s started by mistake (two terminals, a scheduled job and a manual run)
//! cannot take the same planned items and send them twice.
//!
//! The lease is an advisory lock (`flock`) on `<ledger>.lock`, next to the ledger, whose text names
//! the holder (pid, host, command, since). The kernel releases the lock when its process ends in any
//! way — SIGKILL included — so a lease left by a killed process is stale by construction: the next
//! command takes it over and says whose it was. A second process that finds the lock held refuses at
//! once and names the holder. Within one process the lease is counted, so `run` (which holds it)
//! can call the stages that take it again. Read-only commands (`status`, `report`, `verify`) take
//! no lease and run beside a writer (SQLite's WAL lets them read).
//!
//! Assumption: the ledger sits on a local file system; some network file systems do not honour
//! `flock` across hosts (the README says so).

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Who holds a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The command (`load`, `run`, …).
    pub command: String,
    /// Since when (RFC 3339).
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {} on {}, since {})",
            self.command, self.pid, self.host, self.since
        )
    }
}

struct Held {
    file: std::fs::File,
    count: usize,
}

fn held() -> &'static Mutex<HashMap<PathBuf, Held>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, Held>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The lease of this process on one ledger; released when the last guard of the process drops.
#[derive(Debug)]
pub struct Lease {
    key: PathBuf,
    /// The holder before us, when it left without releasing (a killed process).
    pub took_over: Option<Holder>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut map = held()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(h) = map.get_mut(&self.key) {
            h.count -= 1;
            if h.count == 0
                && let Some(h) = map.remove(&self.key)
            {
                // Clear the holder's text, then unlock (closing the file unlocks too).
                let _ = h.file.set_len(0);
                let _ = h.file.unlock();
            }
        }
    }
}

fn lock_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    ledger.with_file_name(name)
}

fn key_of(ledger: &Path) -> PathBuf {
    let lock = lock_path(ledger);
    // The same ledger reached by two spellings is one lease.
    match (lock.parent(), lock.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or(lock),
        _ => lock,
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

fn read_holder(file: &mut std::fs::File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Takes the lease on the ledger at `ledger` for `command`, or refuses naming who holds it.
///
/// # Errors
/// Another process holds the lease; the lock file cannot be created.
pub fn acquire(ledger: &Path, command: &str) -> Result<Lease> {
    if let Some(dir) = ledger.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key = key_of(ledger);
    let mut map = held()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(h) = map.get_mut(&key) {
        h.count += 1;
        return Ok(Lease {
            key,
            took_over: None,
        });
    }
    let path = lock_path(ledger);
    crate::fsutil::touch_private(&path)?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the ledger's lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            // The holder writes its name just after it locks: give it a moment.
            let mut who = read_holder(&mut file);
            for _ in 0..20 {
                if who.is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
                who = read_holder(&mut file);
            }
            let who = who.map_or_else(|| "another process".to_owned(), |h| h.to_string());
            bail!(
                "the ledger {} is in use by {who}: one command writes to a ledger at a time; wait for it to finish, or stop it (a killed process releases it at once)",
                ledger.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    // Ours now. Text left by a holder means it ended without releasing (killed): say so.
    let took_over = read_holder(&mut file);
    if let Some(h) = &took_over {
        tracing::warn!(holder = %h, "The ledger's previous writer stopped without releasing its lease (killed?); taking it over.");
    }
    let me = Holder {
        pid: std::process::id(),
        host: host_name(),
        command: command.to_owned(),
        since: jiff::Timestamp::now().to_string(),
    };
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(serde_json::to_string(&me)?.as_bytes()))
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write {}", path.display()))?;
    map.insert(key.clone(), Held { file, count: 1 });
    Ok(Lease { key, took_over })
}

/// Who holds the lease on `ledger` now, if anyone (for `status`).
pub fn holder(ledger: &Path) -> Option<Holder> {
    let path = lock_path(ledger);
    if held()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains_key(&key_of(ledger))
    {
        let mut f = std::fs::File::open(&path).ok()?;
        return read_holder(&mut f);
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .ok()?;
    match f.try_lock() {
        // Free: nobody holds it (whatever text a killed holder left).
        Ok(()) => {
            let _ = f.unlock();
            None
        }
        Err(_) => read_holder(&mut f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_may_nest_and_the_file_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("l.db");
        let a = acquire(&ledger, "run").unwrap();
        let b = acquire(&ledger, "load").unwrap();
        let text = std::fs::read_to_string(dir.path().join("l.db.lock")).unwrap();
        let h: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!((h.pid, h.command.as_str()), (std::process::id(), "run"));
        assert_eq!(holder(&ledger).unwrap().command, "run");
        drop(b);
        // Still held by `a`: a second open descriptor cannot lock it.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("l.db.lock"))
            .unwrap();
        assert!(f.try_lock().is_err());
        drop(a);
        assert!(f.try_lock().is_ok(), "released with the last guard");
        f.unlock().unwrap();
        assert_eq!(holder(&ledger), None);
    }

    #[test]
    fn text_left_by_a_dead_holder_is_taken_over_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("l.db");
        let dead = Holder {
            pid: 999_999,
            host: "h".into(),
            command: "load".into(),
            since: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(
            dir.path().join("l.db.lock"),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        assert_eq!(holder(&ledger), None, "no lock is held: stale text");
        let l = acquire(&ledger, "load").unwrap();
        assert_eq!(l.took_over, Some(dead));
    }
}
