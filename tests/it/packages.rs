//! The package system through the real binary: authoring, install, upgrade, uninstall, the
//! audit log, hostile archives, crashes at every step and concurrent operations.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, ROOT_PASSWORD, tessera};

/// Writes a `widget` package directory. Version 1.1.0 renames `colour` to `color` and gives
/// `size` a default, through migrations.
pub fn widget_dir(env: &Env, version: &str) -> PathBuf {
    let dir = env.path(&format!("widget-{version}"));
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    let (attributes, migrations) = if version == "1.0.0" {
        (
            r#"
[[types.attributes]]
name = "colour"
kind = "text"
"#,
            "",
        )
    } else {
        (
            r#"
[[types.attributes]]
name = "color"
kind = "text"

[[types.attributes]]
name = "size"
kind = "text"
required = true
"#,
            r#"
[[migrations]]
version = "1.1.0"
type = "widget"
steps = [ { rename = { from = "colour", to = "color" } }, { set_default = { attribute = "size", value = "medium" } } ]
"#,
        )
    };
    let manifest = format!(
        r#"[package]
name = "widget"
version = "{version}"
description = "A test package"
host = ">=0.1.0"

[[types]]
code = "widget"
name = "Widget"
category = "Testing"
behaviour = "page"

[[types.attributes]]
name = "content"
kind = "text"
{attributes}
{migrations}"#
    );
    std::fs::write(dir.join("package.toml"), manifest).unwrap();
    std::fs::write(dir.join("docs/README.md"), format!("widget {version}\n")).unwrap();
    dir
}

/// Builds a package directory into `NAME.tgz` beside it and returns the archive's path.
pub fn build(env: &Env, dir: &Path) -> PathBuf {
    let out = PathBuf::from(format!("{}.tgz", dir.display()));
    let run = env.public(&[
        "package",
        "build",
        dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    out
}

fn widget(env: &Env, version: &str) -> String {
    let dir = widget_dir(env, version);
    build(env, &dir).to_str().unwrap().to_owned()
}

/// A package that depends on widget.
fn extras(env: &Env, requirement: &str) -> String {
    let dir = env.path("extras");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.toml"),
        format!(
            r#"[package]
name = "widget-extras"
version = "1.0.0"
description = "Needs widget"
host = ">=0.1.0"

[dependencies]
widget = "{requirement}"
"#
        ),
    )
    .unwrap();
    build(env, &dir).to_str().unwrap().to_owned()
}

/// The instance's state as far as packages go: rows, types, assets with attributes, files.
fn state(env: &Env) -> String {
    let db = env.db();
    let mut out = String::new();
    let queries = [
        "SELECT name || ' ' || version || ' ' || dir FROM packages ORDER BY name",
        "SELECT code || ' ' || package FROM package_types ORDER BY code",
        "SELECT id || ' ' || type_code || ' ' || coalesce(type_version, '-') || ' ' || coalesce(parent_id, '-') FROM assets ORDER BY id",
        "SELECT asset_id || ' ' || key || '=' || value FROM asset_attributes ORDER BY asset_id, key",
    ];
    for q in queries {
        let mut stmt = db.prepare(q).unwrap();
        for row in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
            out.push_str(&row.unwrap());
            out.push('\n');
        }
    }
    let mut files = Vec::new();
    for entry in walk(&env.data.join("packages")) {
        files.push(entry.strip_prefix(&env.data).unwrap().display().to_string());
    }
    files.sort();
    out.push_str(&files.join("\n"));
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn history(env: &Env) -> Vec<serde_json::Value> {
    env.root(&["--json", "package", "history"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn build_is_reproducible_and_inspect_needs_no_instance() {
    let env = Env::empty();
    let dir = widget_dir(&env, "1.0.0");
    let a = build(&env, &dir);
    let first = std::fs::read(&a).unwrap();
    // Touch every file: different mtimes, same bytes.
    std::fs::write(dir.join("docs/README.md"), "widget 1.0.0\n").unwrap();
    let out = env.path("again.tgz");
    let run = env
        .public(&[
            "--json",
            "package",
            "build",
            dir.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), first);
    let sha = run.json()["sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha.len(), 64);
    // A change in content changes the bytes.
    std::fs::write(dir.join("docs/README.md"), "changed\n").unwrap();
    let changed = build(&env, &dir);
    assert_ne!(std::fs::read(changed).unwrap(), first);

    let inspected = env
        .public(&["--json", "package", "inspect", out.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(inspected["valid"], true);
    assert_eq!(inspected["sha256"], sha.as_str());
    assert_eq!(inspected["manifest"]["name"], "widget");
    assert_eq!(inspected["manifest"]["version"], "1.0.0");
    let files: Vec<&str> = inspected["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["docs/README.md", "package.toml"]);
    assert!(!env.data.exists(), "inspect must not create an instance");

    // Build refuses what install would refuse.
    std::fs::write(dir.join("package.toml"), "[package]\nname = \"Widget!\"\n").unwrap();
    env.public(&[
        "package",
        "build",
        dir.to_str().unwrap(),
        "-o",
        env.path("bad.tgz").to_str().unwrap(),
    ])
    .refused("package.toml");
    assert!(!env.path("bad.tgz").exists());
    let dir = widget_dir(&env, "1.0.0");
    std::os::unix::fs::symlink("/etc/passwd", dir.join("docs/link")).unwrap();
    env.public(&[
        "package",
        "build",
        dir.to_str().unwrap(),
        "-o",
        env.path("bad.tgz").to_str().unwrap(),
    ])
    .refused("docs/link");
    // Inspect gives a verdict on an invalid archive too, and exits 1.
    std::fs::write(env.path("junk.tgz"), b"not a package").unwrap();
    let run = env
        .public(&["package", "inspect", env.path("junk.tgz").to_str().unwrap()])
        .refused("not a valid package");
    assert!(run.stdout.contains("verdict: invalid"), "{run:#?}");
}

#[test]
fn install_upgrade_uninstall_life_cycle() {
    let env = Env::new();
    let v1 = widget(&env, "1.0.0");
    let v2 = widget(&env, "1.1.0");
    // Before install the type is unknown.
    env.root(&[
        "asset", "create", "--type", "widget", "--parent", "/", "--name", "w",
    ])
    .refused("unknown asset type widget: install the package that provides it");

    // Dry run changes nothing.
    env.assert_unchanged(|| {
        let plan = env
            .root(&["--json", "package", "install", &v1, "--dry-run"])
            .ok()
            .json();
        assert_eq!(plan["dry_run"], true);
        assert_eq!(plan["types_added"], serde_json::json!(["widget"]));
    });
    let sha = env
        .public(&["--json", "package", "inspect", &v1])
        .ok()
        .json()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    env.root(&["package", "install", &v1, "--sha256", &sha])
        .ok();
    let list = env.root(&["--json", "package", "list"]).ok().json();
    assert_eq!(list[0]["name"], "widget");
    assert_eq!(list[0]["version"], "1.0.0");
    let types = env.root(&["--json", "package", "types"]).ok().json();
    assert!(
        types
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["code"] == "widget" && t["package"] == "widget")
    );

    let a = env.create(&[
        "--type",
        "widget",
        "--parent",
        "/",
        "--name",
        "a",
        "--attr",
        "colour=red",
    ]);
    let b = env.create(&[
        "--type",
        "widget",
        "--parent",
        "/",
        "--name",
        "b",
        "--attr",
        "colour=blue",
    ]);
    env.root(&["asset", "trash", &b.to_string()]).ok();

    // Upgrade: a dry run shows the migrations for each asset, live or trashed.
    env.assert_unchanged(|| {
        let plan = env
            .root(&["--json", "package", "upgrade", &v2, "--dry-run"])
            .ok()
            .json();
        assert_eq!(plan["from"], "1.0.0");
        assert_eq!(plan["to"], "1.1.0");
        assert_eq!(plan["assets"].as_array().unwrap().len(), 2);
        assert_eq!(plan["assets"][1]["in_trash"], true);
        assert!(
            plan["assets"][0]["migrations"][0]
                .as_str()
                .unwrap()
                .starts_with("1.1.0")
        );
    });
    env.root(&["package", "upgrade", &v2]).ok();
    let shown = env
        .root(&["--json", "asset", "show", &a.to_string()])
        .ok()
        .json();
    assert_eq!(shown["attributes"]["color"], "red");
    assert_eq!(shown["attributes"]["size"], "medium");
    assert!(shown["attributes"].get("colour").is_none(), "{shown}");
    assert_eq!(shown["type_version"], "1.1.0");
    let trashed = env
        .root(&["--json", "asset", "show", &b.to_string()])
        .ok()
        .json();
    assert_eq!(trashed["attributes"]["color"], "blue");
    // The old version's files are gone; only the new one's remain.
    let dirs: Vec<String> = std::fs::read_dir(env.data.join("packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].starts_with("widget-1.1.0-"), "{dirs:?}");
    env.root(&["check"]).ok();

    // Same or lower versions are refused.
    env.root(&["package", "upgrade", &v2])
        .refused("upgrade needs a higher version");
    env.root(&["package", "upgrade", &v1])
        .refused("upgrade needs a higher version");
    env.root(&["package", "install", &v2])
        .refused("already installed at version 1.1.0: use tessera package upgrade");

    // Uninstall is refused while assets exist, live or trashed, listing them.
    let run = env
        .root(&["package", "uninstall", "widget"])
        .refused("cannot be uninstalled while 2 asset(s)");
    assert!(
        run.stderr.contains(&format!("{a} /a (live in the tree)")),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains(&format!("{b} /b (in the trash)")),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("trash them") && run.stderr.contains("purge the trash"),
        "{run:#?}"
    );
    env.root(&["asset", "trash", &a.to_string()]).ok();
    env.root(&["package", "uninstall", "widget"])
        .refused("(in the trash)");
    env.root(&["trash", "purge", "--all"]).ok();
    env.assert_unchanged(|| {
        env.root(&["package", "uninstall", "widget", "--dry-run"])
            .ok();
    });
    env.root(&["package", "uninstall", "widget"]).ok();
    env.root(&[
        "asset", "create", "--type", "widget", "--parent", "/", "--name", "w",
    ])
    .refused("unknown asset type widget: install the package that provides it");
    assert_eq!(
        std::fs::read_dir(env.data.join("packages"))
            .unwrap()
            .count(),
        0
    );
    env.root(&["check"]).ok();

    // The history has every operation with who, versions, digest and outcome.
    let h = history(&env);
    let summary: Vec<(String, String)> = h
        .iter()
        .filter(|e| e["action"] != "trash-purge")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"]
                    .as_str()
                    .unwrap()
                    .split(':')
                    .next()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("install", "done"),
        ("upgrade", "done"),
        ("upgrade", "refused"),
        ("upgrade", "refused"),
        ("install", "refused"),
        ("uninstall", "refused"),
        ("uninstall", "refused"),
        ("uninstall", "done"),
    ]
    .iter()
    .map(|(a, o)| (a.to_string(), o.to_string()))
    .collect();
    assert_eq!(summary, expected);
    assert_eq!(h[0]["user"], "root");
    assert_eq!(h[0]["sha256"], sha.as_str());
    assert_eq!(h[0]["to"], "1.0.0");
    assert_eq!(h[1]["from"], "1.0.0");
    assert_eq!(h[1]["to"], "1.1.0");
    assert!(h[0]["time"].as_str().unwrap().ends_with('Z'));
    let only = env
        .root(&["--json", "package", "history", "widget"])
        .ok()
        .json();
    assert_eq!(only.as_array().unwrap().len(), 8);
}

#[test]
fn package_operations_need_a_system_administrator_and_are_audited() {
    let env = Env::new();
    env.add_user("ed", "backend-user", &[]);
    let v1 = widget(&env, "1.0.0");
    // Checked before the archive is read: a missing file gives the permission error.
    env.as_user("ed", &["package", "install", "/nonexistent.tgz"])
        .refused(
            "permission denied: installing a package needs account level system-administrator",
        );
    env.as_user("ed", &["package", "install", &v1])
        .refused("permission denied");
    env.root(&["package", "install", &v1]).ok();
    env.as_user("ed", &["package", "upgrade", &v1])
        .refused("permission denied: upgrading");
    env.as_user("ed", &["package", "uninstall", "widget"])
        .refused("permission denied: uninstalling");
    env.run(
        Some(("root", "wrong password")),
        &["package", "uninstall", "widget"],
    )
    .refused("authentication failed");
    env.public(&["package", "uninstall", "widget"])
        .refused("needs an acting user");
    let h = history(&env);
    let users: Vec<&str> = h.iter().map(|e| e["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["ed", "ed", "root", "ed", "ed", "root"]);
    assert!(
        h[5]["outcome"]
            .as_str()
            .unwrap()
            .contains("authentication failed")
    );
    assert_eq!(
        env.root(&["--json", "package", "list"]).ok().json()[0]["version"],
        "1.0.0"
    );
}

#[test]
fn install_refusals_change_nothing_but_the_audit_log() {
    let env = Env::new();
    let v1 = widget(&env, "1.0.0");
    let extras_bad = extras(&env, "^2");
    let before = state(&env);
    // Dependencies must be installed, at a matching version.
    env.root(&["package", "install", &extras_bad])
        .refused("needs package widget (^2), which is not installed");
    env.root(&["package", "install", &v1, "--sha256", &"0".repeat(64)])
        .refused("not the 0000");
    // A host requirement this host does not meet (build refuses it, so make it by hand).
    let dir = widget_dir(&env, "1.0.0");
    let manifest = std::fs::read_to_string(dir.join("package.toml")).unwrap();
    let future = manifest.replace(">=0.1.0", ">=9.0.0");
    let path = env.path("future.tgz");
    std::fs::write(
        &path,
        hostile::archive(&[hostile::file("package.toml", future.as_bytes())]),
    )
    .unwrap();
    env.root(&["package", "install", path.to_str().unwrap()])
        .refused("needs host version >=9.0.0");
    // An unknown host behaviour.
    let teleport = manifest.replace("behaviour = \"page\"", "behaviour = \"teleport\"");
    let path = env.path("teleport.tgz");
    std::fs::write(
        &path,
        hostile::archive(&[hostile::file("package.toml", teleport.as_bytes())]),
    )
    .unwrap();
    env.root(&["package", "install", path.to_str().unwrap()])
        .refused("teleport");
    assert_eq!(state(&env), before);
    let outcomes: Vec<String> = history(&env)
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert!(
        outcomes.iter().all(|o| o.starts_with("refused: ")),
        "{outcomes:?}"
    );

    // With widget installed, a dependent package goes in, and widget cannot be uninstalled.
    env.root(&["package", "install", &v1]).ok();
    env.root(&["package", "install", &extras_bad])
        .refused("needs package widget ^2, but 1.0.0 is installed");
    let extras_ok = extras(&env, "^1");
    env.root(&["package", "install", &extras_ok]).ok();
    env.root(&["package", "uninstall", "widget"])
        .refused("needed by installed package(s) widget-extras");
    env.root(&["package", "uninstall", "widget-extras"]).ok();
    env.root(&["package", "uninstall", "widget"]).ok();
    env.root(&["package", "uninstall", "widget"])
        .refused("package widget is not installed");
}

/// Hostile archives, made entry by entry so that every rule can be broken.
pub mod hostile {
    use flate2::Compression;
    use flate2::write::GzEncoder;

    pub struct Entry {
        header: tar::Header,
        data: Vec<u8>,
    }

    fn entry(name: &str, kind: tar::EntryType, data: &[u8]) -> Entry {
        let mut header = tar::Header::new_gnu();
        {
            let raw = header.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        Entry {
            header,
            data: data.to_vec(),
        }
    }

    pub fn file(name: &str, data: &[u8]) -> Entry {
        entry(name, tar::EntryType::Regular, data)
    }

    pub fn symlink(name: &str, target: &str) -> Entry {
        let mut e = entry(name, tar::EntryType::Symlink, b"");
        e.header.set_link_name(target).unwrap();
        e.header.set_cksum();
        e
    }

    pub fn fifo(name: &str) -> Entry {
        entry(name, tar::EntryType::Fifo, b"")
    }

    pub fn archive(entries: &[Entry]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for e in entries {
            builder.append(&e.header, e.data.as_slice()).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }
}

#[test]
fn hostile_archives_are_refused_whole_before_anything_is_written() {
    let env = Env::new();
    let manifest = std::fs::read(widget_dir(&env, "1.0.0").join("package.toml")).unwrap();
    let m = || hostile::file("package.toml", &manifest);
    let mut gzip_bomb = Vec::new();
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(&mut gzip_bomb, flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..300 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap();
    }
    let full = hostile::archive(&[m(), hostile::file("a.txt", b"hello")]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            hostile::archive(&[m(), hostile::file("../evil", b"x")]),
            "../evil",
        ),
        (
            "absolute",
            hostile::archive(&[m(), hostile::file("/etc/evil", b"x")]),
            "/etc/evil",
        ),
        (
            "symlink",
            hostile::archive(&[m(), hostile::symlink("link", "/etc/passwd")]),
            "link",
        ),
        (
            "fifo",
            hostile::archive(&[m(), hostile::fifo("pipe")]),
            "pipe",
        ),
        (
            "duplicate",
            hostile::archive(&[m(), hostile::file("a", b"1"), hostile::file("./a", b"2")]),
            "\"./a\": the same path appears earlier",
        ),
        (
            "no manifest",
            hostile::archive(&[hostile::file("a", b"1")]),
            "package.toml",
        ),
        ("not gzip", b"PK\x03\x04 this is a zip".to_vec(), "gzip"),
        ("truncated", full[..full.len() / 2].to_vec(), ""),
        ("bomb", gzip_bomb, ""),
    ];
    for (what, bytes, needle) in cases {
        let path = env.path(&format!("{}.tgz", what.replace(' ', "-")));
        std::fs::write(&path, &bytes).unwrap();
        let before = state(&env);
        let run = env.root(&["package", "install", path.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{what}: {run:#?}");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains(needle),
            "{what}: {run:#?}"
        );
        assert_eq!(state(&env), before, "{what}");
        assert!(!env.tmp.path().join("evil").exists() && !Path::new("/etc/evil").exists());
    }
    env.root(&["check"]).ok();
}

/// Runs an operation that aborts at `step`, then shows the instance is in the state before or
/// after it and `tessera check` passes.
fn crash_at(env: &Env, args: &[&str], step: &str, before: &str, after: &str) {
    let mut cmd: Command = tessera();
    cmd.arg("--data-dir")
        .arg(&env.data)
        .args(["--as", "root"])
        .args(args);
    cmd.env("TESSERA_PASSWORD", ROOT_PASSWORD)
        .env("TESSERA_FAULT", step);
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "{step}: the fault did not fire: {out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("fault injected at {step}")),
        "{out:?}"
    );
    // The next command cleans leftovers at start-up; check must pass.
    env.root(&["check"]).ok();
    let now = state(env);
    assert!(
        now == before || now == after,
        "{step} of {args:?}: neither before nor after:\n{now}\n--- before:\n{before}\n--- after:\n{after}"
    );
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Install,
    Upgrade,
    Uninstall,
}

/// Prepares an instance for `op` and returns the operation's arguments.
fn prepare(env: &Env, op: Op) -> Vec<String> {
    let v1 = widget(env, "1.0.0");
    let v2 = widget(env, "1.1.0");
    if !matches!(op, Op::Install) {
        env.root(&["package", "install", &v1]).ok();
        if matches!(op, Op::Upgrade) {
            env.create(&[
                "--type",
                "widget",
                "--parent",
                "/",
                "--name",
                "a",
                "--attr",
                "colour=red",
            ]);
        }
    }
    let args: Vec<&str> = match op {
        Op::Install => vec!["package", "install", &v1],
        Op::Upgrade => vec!["package", "upgrade", &v2],
        Op::Uninstall => vec!["package", "uninstall", "widget"],
    };
    args.into_iter().map(str::to_owned).collect()
}

#[test]
fn crashes_at_every_step_of_install_upgrade_and_uninstall_leave_before_or_after() {
    for (op, steps) in [
        (
            Op::Install,
            &["locked", "staged", "moved", "before-commit", "committed"][..],
        ),
        (
            Op::Upgrade,
            &["locked", "staged", "moved", "before-commit", "committed"][..],
        ),
        (Op::Uninstall, &["locked", "before-commit", "committed"][..]),
    ] {
        // The state after a clean run of the operation on a twin instance.
        let twin = Env::new();
        let args = prepare(&twin, op);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        twin.root(&args).ok();
        let after = state(&twin);
        for step in steps {
            let env = Env::new();
            let args = prepare(&env, op);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let before = state(&env);
            assert_ne!(before, after, "{op:?}: the operation must change something");
            crash_at(&env, &args, step, &before, &after);
            // And the operation can be carried out (or is already done) afterwards.
            let again = env.root(&args);
            if state(&env) != after || again.code != 0 {
                assert_eq!(state(&env), after, "{op:?} at {step}: {again:#?}");
            }
        }
    }
}

#[test]
fn two_operations_at_once_never_corrupt_the_instance() {
    let env = Env::new();
    let v1 = widget(&env, "1.0.0");
    let spawn = || {
        let mut cmd = tessera();
        cmd.arg("--data-dir")
            .arg(&env.data)
            .args(["--as", "root", "package", "install", &v1]);
        cmd.env("TESSERA_PASSWORD", ROOT_PASSWORD);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "{outs:?}");
    let refused = outs.iter().find(|o| !o.status.success()).unwrap();
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already installed"),
        "{outs:?}"
    );
    env.root(&["check"]).ok();
    assert_eq!(
        std::fs::read_dir(env.data.join("packages"))
            .unwrap()
            .count(),
        1
    );
}
