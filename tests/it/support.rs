//! The test harness: a fresh instance in a temporary directory and helpers that run the real
//! binary against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub const ROOT_PASSWORD: &str = "root-password-1";

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
}

/// A finished command: its exit status and what it printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }

    /// Asserts a refusal: exit 1 and one `error:` line containing `needle`.
    #[track_caller]
    pub fn refused(self, needle: &str) -> Run {
        assert_eq!(self.code, 1, "expected a refusal: {self:#?}");
        assert!(
            self.stderr.contains("error: ") && self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// The `tessera` binary with a clean environment.
pub fn tessera() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for var in [
        "TESSERA_DATA",
        "TESSERA_USER",
        "TESSERA_PASSWORD",
        "TESSERA_NEW_PASSWORD",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

impl Env {
    /// A fresh instance with the root user.
    pub fn new() -> Env {
        let env = Env::empty();
        env.run_with(None, &["init"], &[("TESSERA_PASSWORD", ROOT_PASSWORD)])
            .ok();
        env
    }

    /// A temporary directory with no instance yet.
    pub fn empty() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        Env { tmp, data }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Runs `tessera` as `user` (name, password), or as the public user.
    pub fn run_with(&self, user: Option<(&str, &str)>, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = tessera();
        cmd.arg("--data-dir").arg(&self.data);
        if let Some((name, password)) = user {
            cmd.args(["--as", name]).env("TESSERA_PASSWORD", password);
        }
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap().into()
    }

    pub fn run(&self, user: Option<(&str, &str)>, args: &[&str]) -> Run {
        self.run_with(user, args, &[])
    }

    pub fn root(&self, args: &[&str]) -> Run {
        self.run(Some(("root", ROOT_PASSWORD)), args)
    }

    pub fn public(&self, args: &[&str]) -> Run {
        self.run(None, args)
    }

    /// Adds a user whose password is `NAME-password`.
    pub fn add_user(&self, name: &str, level: &str, attrs: &[&str]) {
        let password = format!("{name}-password");
        let mut args = vec!["user", "add", name, "--level", level];
        for a in attrs {
            args.extend(["--attr", a]);
        }
        self.run_with(
            Some(("root", ROOT_PASSWORD)),
            &args,
            &[("TESSERA_NEW_PASSWORD", &password)],
        )
        .ok();
    }

    /// Runs as a user added by [`Env::add_user`].
    pub fn as_user(&self, name: &str, args: &[&str]) -> Run {
        let password = format!("{name}-password");
        self.run(Some((name, &password)), args)
    }

    /// Creates an asset as root and returns its id.
    pub fn create(&self, args: &[&str]) -> i64 {
        let mut all = vec!["--json", "asset", "create"];
        all.extend_from_slice(args);
        self.root(&all).ok().json()["id"].as_i64().unwrap()
    }

    /// A digest of every file of the instance, to show that a refused command changed nothing.
    pub fn snapshot(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        snapshot_dir(&self.data, &self.data, &mut out);
        out.sort();
        out
    }

    /// Asserts that running `f` leaves every byte of the instance as it was.
    #[track_caller]
    pub fn assert_unchanged(&self, f: impl FnOnce()) {
        let before = self.snapshot();
        f();
        assert_eq!(before, self.snapshot(), "the instance changed");
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data.join("tessera.db")).unwrap()
    }
}

fn snapshot_dir(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "lock") {
            continue;
        }
        if path.is_dir() {
            snapshot_dir(base, &path, out);
        } else {
            let digest = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
            out.push((path.strip_prefix(base).unwrap().to_path_buf(), digest));
        }
    }
}
