//! The core runtime: instances, users, assets, permissions and the trash.

use crate::support::{Env, ROOT_PASSWORD, tessera};

#[test]
fn init_creates_an_instance_and_refuses_a_second_time() {
    let env = Env::new();
    assert!(env.data.join("tessera.db").is_file());
    assert!(env.data.join("packages").is_dir());
    let tree = env.root(&["--json", "asset", "tree"]).ok().json();
    assert_eq!(tree[0]["id"], 1);
    assert_eq!(tree[0]["path"], "/");
    env.root(&["check"]).ok();
    env.assert_unchanged(|| {
        env.run_with(None, &["init"], &[("TESSERA_PASSWORD", "another-password")])
            .refused("an instance already exists");
    });
}

#[test]
fn init_without_a_password_refuses_and_leaves_nothing() {
    let env = Env::empty();
    env.run(None, &["init"]).refused("TESSERA_PASSWORD");
    env.run_with(None, &["init"], &[("TESSERA_PASSWORD", "short")])
        .refused("too short");
    assert!(!env.data.join("tessera.db").exists());
}

#[test]
fn commands_without_an_instance_say_how_to_make_one() {
    let env = Env::empty();
    env.root(&["asset", "tree"]).refused("tessera init");
}

#[test]
fn usage_errors_exit_2_and_global_options_go_anywhere() {
    let env = Env::new();
    let run = env.root(&["asset", "frobnicate"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let run = env.root(&["asset", "create", "--type", "folder"]);
    assert_eq!(run.code, 2, "{run:#?}");
    // --json and --data-dir after the subcommand.
    let out = tessera()
        .args(["asset", "show", "/", "--as", "root", "--json", "--data-dir"])
        .arg(&env.data)
        .env("TESSERA_PASSWORD", ROOT_PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "folder");
}

#[test]
fn users_are_added_shown_and_listed() {
    let env = Env::new();
    env.add_user(
        "alice",
        "content-editor",
        &[
            "first_name=Alice",
            "last_name=Liddell",
            "email=alice@example.org",
            "team=blue",
        ],
    );
    let shown = env.root(&["--json", "user", "show", "alice"]).ok().json();
    assert_eq!(shown["name"], "alice");
    assert_eq!(shown["level"], "content-editor");
    assert_eq!(shown["attributes"]["first_name"], "Alice");
    assert_eq!(shown["attributes"]["team"], "blue");
    // Users see themselves.
    let own = env
        .as_user("alice", &["--json", "user", "show", "alice"])
        .ok()
        .json();
    assert_eq!(own["attributes"]["email"], "alice@example.org");
    let list = env.root(&["--json", "user", "list"]).ok().json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "root"]);
    // The password hash is Argon2id and never shown.
    let hash: String = env
        .db()
        .query_row(
            "SELECT password_hash FROM users WHERE name = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        !env.root(&["--json", "user", "show", "alice"])
            .stdout
            .contains("argon2")
    );
}

#[test]
fn user_changes_follow_the_rules() {
    let env = Env::new();
    env.add_user("alice", "user", &[]);
    env.add_user("bob", "system-administrator", &[]);
    // Own attributes and password.
    env.as_user(
        "alice",
        &["user", "set", "alice", "--attr", "first_name=Al"],
    )
    .ok();
    env.run_with(
        Some(("alice", "alice-password")),
        &["user", "set", "alice", "--password"],
        &[("TESSERA_NEW_PASSWORD", "new-alice-password")],
    )
    .ok();
    env.run(
        Some(("alice", "new-alice-password")),
        &["user", "show", "alice"],
    )
    .ok();
    env.assert_unchanged(|| {
        // Not one's own level, nor anyone else's user.
        env.run(
            Some(("alice", "new-alice-password")),
            &["user", "set", "alice", "--level", "backend-user"],
        )
        .refused("permission denied");
        env.run(
            Some(("alice", "new-alice-password")),
            &["user", "set", "bob", "--attr", "x=y"],
        )
        .refused("needs account level system-administrator");
        // System administrators cannot touch root, and nobody becomes root.
        env.as_user("bob", &["user", "set", "root", "--attr", "x=y"])
            .refused("permission denied");
        env.as_user("bob", &["user", "set", "alice", "--level", "root"])
            .refused("root");
        env.root(&["user", "set", "alice", "--level", "public"])
            .refused("public");
        env.root(&["user", "set", "alice", "--attr", "username=x"])
            .refused("username");
    });
    env.as_user("bob", &["user", "set", "alice", "--level", "backend-user"])
        .ok();
    let shown = env.root(&["--json", "user", "show", "alice"]).ok().json();
    assert_eq!(shown["level"], "backend-user");
    assert_eq!(shown["attributes"]["first_name"], "Al");
}

#[test]
fn refusals_of_user_commands_change_nothing() {
    let env = Env::new();
    env.add_user("alice", "user", &[]);
    env.assert_unchanged(|| {
        // Wrong password: refused before anything else.
        env.run(Some(("root", "wrong-password")), &["user", "list"])
            .refused("authentication failed");
        env.run(Some(("nobody", "whatever-pass")), &["user", "list"])
            .refused("authentication failed");
        // Wrong level.
        env.run_with(
            Some(("alice", "alice-password")),
            &["user", "add", "carol", "--level", "user"],
            &[("TESSERA_NEW_PASSWORD", "carol-password")],
        )
        .refused("permission denied: adding a user needs account level system-administrator");
        env.as_user("alice", &["user", "list"])
            .refused("permission denied");
        env.as_user("alice", &["user", "show", "root"])
            .refused("permission denied");
        // Bad names, duplicates, levels, short passwords.
        for (name, level, needle) in [
            ("bad name", "user", "invalid user name"),
            ("alice", "user", "already exists"),
            ("carol", "root", "exactly one root"),
            ("carol", "wizard", "unknown account level"),
        ] {
            env.run_with(
                Some(("root", ROOT_PASSWORD)),
                &["user", "add", name, "--level", level],
                &[("TESSERA_NEW_PASSWORD", "carol-password")],
            )
            .refused(needle);
        }
        env.run_with(
            Some(("root", ROOT_PASSWORD)),
            &["user", "add", "carol", "--level", "user"],
            &[("TESSERA_NEW_PASSWORD", "short")],
        )
        .refused("too short");
        env.run(None, &["user", "list"])
            .refused("needs an acting user");
    });
}

#[test]
fn assets_are_created_shown_changed_and_found_by_path() {
    let env = Env::new();
    let demo = env.create(&[
        "--type",
        "folder",
        "--parent",
        "/",
        "--name",
        "Demo Area",
        "--status",
        "live",
    ]);
    let page = env.create(&[
        "--type",
        "page",
        "--parent",
        "/demo-area",
        "--name",
        "Hello",
        "--path",
        "hello.html",
        "--link-type",
        "2",
        "--attr",
        "content=<p>hi</p>",
    ]);
    let shown = env
        .root(&["--json", "asset", "show", "/demo-area/hello.html"])
        .ok()
        .json();
    assert_eq!(shown["id"], page);
    assert_eq!(shown["type"], "page");
    assert_eq!(shown["name"], "Hello");
    assert_eq!(shown["path"], "/demo-area/hello.html");
    assert_eq!(shown["status"], "under_construction");
    assert_eq!(shown["link_type"], "2");
    assert_eq!(shown["attributes"]["content"], "<p>hi</p>");
    assert_eq!(shown["parent"], demo);
    assert_eq!(shown["created_by"], "root");
    // By id too, and content from a file.
    std::fs::write(env.path("content.html"), "<h1>from a file</h1>\n").unwrap();
    let content_arg = format!("content=@{}", env.path("content.html").display());
    let set = env
        .root(&[
            "--json",
            "asset",
            "set",
            &page.to_string(),
            "--name",
            "Hello again",
            "--status",
            "live",
            "--attr",
            &content_arg,
        ])
        .ok()
        .json();
    assert_eq!(set["name"], "Hello again");
    assert_eq!(set["status"], "live");
    // One final line break is dropped from values read from files.
    assert_eq!(set["attributes"]["content"], "<h1>from a file</h1>");
    // The web path stays when the name changes; it changes only when asked.
    assert_eq!(set["path"], "/demo-area/hello.html");
    env.root(&["asset", "set", &page.to_string(), "--path", "hi"])
        .ok();
    env.root(&["asset", "show", "/demo-area/hi"]).ok();
    let tree = env.root(&["--json", "asset", "tree"]).ok().json();
    let paths: Vec<&str> = tree
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/", "/demo-area", "/demo-area/hi"]);
    assert_eq!(tree[2]["depth"], 2);
    let text = env.root(&["asset", "tree"]).ok().stdout;
    assert!(
        text.contains("    3 [page] /demo-area/hi Hello again")
            || text.contains("[page] /demo-area/hi"),
        "{text}"
    );
    env.root(&["check"]).ok();
}

#[test]
fn bad_asset_input_is_refused_and_changes_nothing() {
    let env = Env::new();
    env.create(&["--type", "folder", "--parent", "/", "--name", "demo"]);
    env.assert_unchanged(|| {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--type", "folder", "--parent", "/", "--name", "demo"],
                "already used by asset 3",
            ),
            (
                &["--type", "folder", "--parent", "/nowhere", "--name", "x"],
                "no asset at web path /nowhere",
            ),
            (
                &["--type", "folder", "--parent", "99", "--name", "x"],
                "no asset with id 99",
            ),
            (
                &["--type", "folder", "--parent", "demo", "--name", "x"],
                "neither an asset id nor a web path",
            ),
            (
                &[
                    "--type", "folder", "--parent", "/", "--name", "x", "--path", "Upper",
                ],
                "invalid web path segment",
            ),
            (
                &[
                    "--type", "folder", "--parent", "/", "--name", "x", "--path", "..",
                ],
                "invalid web path segment",
            ),
            (
                &[
                    "--type", "folder", "--parent", "/", "--name", "x", "--path", "a/b",
                ],
                "invalid web path segment",
            ),
            (
                &[
                    "--type", "folder", "--parent", "/", "--name", "x", "--path", "_login",
                ],
                "reserved",
            ),
            (
                &["--type", "folder", "--parent", "/", "--name", "!!!"],
                "pass --path",
            ),
            (
                &[
                    "--type",
                    "folder",
                    "--parent",
                    "/",
                    "--name",
                    "x",
                    "--link-type",
                    "7",
                ],
                "unknown link type",
            ),
            (
                &[
                    "--type", "folder", "--parent", "/", "--name", "x", "--status", "dead",
                ],
                "unknown status",
            ),
            (
                &[
                    "--type",
                    "page",
                    "--parent",
                    "/",
                    "--name",
                    "x",
                    "--attr",
                    "colour=red",
                ],
                "has no attribute \"colour\"",
            ),
            (
                &[
                    "--type",
                    "page",
                    "--parent",
                    "/",
                    "--name",
                    "x",
                    "--attr",
                    "content=@/nonexistent/file",
                ],
                "cannot read",
            ),
            (
                &["--type", "json_web_token", "--parent", "/", "--name", "x"],
                "unknown asset type json_web_token: install the package that provides it",
            ),
        ];
        for (args, needle) in cases {
            let mut all = vec!["asset", "create"];
            all.extend_from_slice(args);
            env.root(&all).refused(needle);
        }
        env.root(&["asset", "show", "42"])
            .refused("no asset with id 42");
        env.root(&["asset", "set", "/demo", "--path", "BAD"])
            .refused("invalid web path segment");
    });
}

#[test]
fn a_new_instance_grants_nothing_and_grants_follow_the_rules() {
    let env = Env::new();
    env.add_user("alice", "user", &[]);
    env.add_user("sam", "system-administrator", &[]);
    let demo = env.create(&[
        "--type", "folder", "--parent", "/", "--name", "demo", "--status", "live",
    ]);
    // Nothing granted: only root and system administrators see anything.
    env.as_user("alice", &["asset", "show", "/demo"])
        .refused("permission denied: reading asset 3 needs read permission (acting as alice)");
    env.public(&["asset", "show", "/demo"])
        .refused("acting as the public user");
    env.as_user("sam", &["asset", "show", "/demo"]).ok();
    env.as_user(
        "sam",
        &[
            "asset", "create", "--type", "page", "--parent", "/demo", "--name", "by sam",
        ],
    )
    .ok();

    // Grants to all users are copied to new children.
    env.root(&["asset", "grant", "/demo", "--all-users", "--perm", "read"])
        .ok();
    env.as_user("alice", &["asset", "show", "/demo"]).ok();
    let child = env.create(&["--type", "page", "--parent", "/demo", "--name", "child"]);
    env.as_user("alice", &["asset", "show", &child.to_string()])
        .ok();
    // ...but the page made before the grant keeps its own (empty) grants.
    env.as_user("alice", &["asset", "show", "/demo/by-sam"])
        .refused("permission denied");
    // --cascade applies to the whole subtree.
    env.root(&[
        "asset",
        "grant",
        "/demo",
        "--user",
        "alice",
        "--perm",
        "write",
        "--cascade",
    ])
    .ok();
    env.as_user("alice", &["asset", "show", "/demo/by-sam"])
        .ok();
    env.as_user(
        "alice",
        &["asset", "set", "/demo/by-sam", "--name", "edited"],
    )
    .ok();
    // Deny beats grant.
    env.root(&[
        "asset",
        "grant",
        "/demo/by-sam",
        "--user",
        "alice",
        "--perm",
        "read",
        "--deny",
    ])
    .ok();
    env.as_user("alice", &["asset", "show", "/demo/by-sam"])
        .refused("permission denied");
    // Revoking the denial restores the grant.
    env.root(&[
        "asset",
        "grant",
        "/demo/by-sam",
        "--user",
        "alice",
        "--perm",
        "read",
        "--revoke",
    ])
    .ok();
    env.as_user("alice", &["asset", "show", "/demo/by-sam"])
        .ok();
    // Changing permissions needs admin; write does not suffice.
    env.assert_unchanged(|| {
        env.as_user(
            "alice",
            &["asset", "grant", "/demo", "--public", "--perm", "read"],
        )
        .refused("permission denied: changing permissions on asset 3 needs admin permission");
        env.root(&["asset", "grant", "/demo", "--public", "--perm", "write"])
            .refused("only be granted read");
        env.root(&[
            "asset", "grant", "/demo", "--user", "ghost", "--perm", "read",
        ])
        .refused("no user named");
    });
    // The public sees what is granted to the public.
    env.root(&["asset", "grant", "/demo", "--public", "--perm", "read"])
        .ok();
    env.public(&["asset", "show", "/demo"]).ok();
    let tree = env
        .public(&["--json", "asset", "tree", "/demo"])
        .ok()
        .json();
    assert_eq!(tree.as_array().unwrap().len(), 1, "{tree}");
    assert_eq!(demo, 3);
}

#[test]
fn trash_restore_and_purge() {
    let env = Env::new();
    env.add_user("editor", "content-editor", &[]);
    env.add_user("sam", "system-administrator", &[]);
    let demo = env.create(&[
        "--type", "folder", "--parent", "/", "--name", "demo", "--status", "live",
    ]);
    let page = env.create(&["--type", "page", "--parent", "/demo", "--name", "page"]);
    env.root(&[
        "asset",
        "grant",
        "/demo",
        "--user",
        "editor",
        "--perm",
        "write",
        "--cascade",
    ])
    .ok();

    env.as_user("editor", &["asset", "trash", "/demo"]).ok();
    env.root(&["asset", "show", "/demo"])
        .refused("no asset at web path /demo");
    let shown = env
        .root(&["--json", "asset", "show", &page.to_string()])
        .ok()
        .json();
    assert_eq!(shown["in_trash"], true);
    assert_eq!(shown["path"], "/demo/page");
    let listed = env.root(&["--json", "trash", "list"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], demo);
    assert_eq!(listed[0]["path"], "/demo");
    // The path is free again while the old asset waits in the trash.
    let other = env.create(&["--type", "folder", "--parent", "/", "--name", "demo"]);
    env.root(&["asset", "restore", &demo.to_string()])
        .refused("already used by asset");
    env.root(&["asset", "trash", &other.to_string()]).ok();
    env.root(&["asset", "restore", &demo.to_string()]).ok();
    env.root(&["asset", "show", "/demo/page"]).ok();
    env.root(&["check"]).ok();

    // Purging needs a system administrator and is written to the audit log either way.
    env.as_user("editor", &["asset", "trash", "/demo"]).ok();
    env.as_user("editor", &["trash", "purge", "--all"])
        .refused("permission denied: purging the trash needs account level system-administrator");
    env.root(&["trash", "purge", "/demo"])
        .refused("no asset at web path /demo");
    env.as_user("sam", &["trash", "purge", &demo.to_string()])
        .ok();
    env.root(&["asset", "show", &page.to_string()])
        .refused("no asset with id");
    let remaining = env.root(&["--json", "trash", "list"]).ok().json();
    assert_eq!(remaining[0]["id"], other);
    env.as_user("sam", &["trash", "purge", "--all"]).ok();
    assert_eq!(
        env.root(&["--json", "trash", "list"]).ok().json(),
        serde_json::json!([])
    );
    let audit: Vec<(String, String)> = env
        .db()
        .prepare("SELECT user, outcome FROM audit_log WHERE action = 'trash-purge' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert_eq!(audit[0].0, "editor");
    assert!(
        audit[0].1.starts_with("refused: permission denied"),
        "{audit:?}"
    );
    assert!(
        audit[1].1.starts_with("refused: no asset at web path"),
        "{audit:?}"
    );
    assert_eq!(
        audit[2],
        ("sam".to_owned(), "done: 2 asset(s) deleted".to_owned())
    );
    env.root(&["check"]).ok();
}

#[test]
fn trash_refusals_change_nothing() {
    let env = Env::new();
    env.add_user("alice", "user", &[]);
    let demo = env.create(&["--type", "folder", "--parent", "/", "--name", "demo"]);
    env.assert_unchanged(|| {
        env.root(&["asset", "trash", "/"])
            .refused("cannot be trashed");
        env.root(&["asset", "restore", &demo.to_string()])
            .refused("not in the trash");
        env.as_user("alice", &["asset", "trash", "/demo"])
            .refused("needs write permission");
    });
    // A refused purge changes nothing but the audit log.
    env.root(&["trash", "purge", &demo.to_string()])
        .refused("not in the trash");
    env.root(&["asset", "show", "/demo"]).ok();
}

#[test]
fn check_finds_faults() {
    let env = Env::new();
    env.create(&["--type", "folder", "--parent", "/", "--name", "a"]);
    env.create(&["--type", "folder", "--parent", "/a", "--name", "b"]);
    env.root(&["check"]).ok();
    // A cycle: a's parent becomes its own child.
    let db = env.db();
    db.execute("UPDATE assets SET parent_id = 4 WHERE id = 3", [])
        .unwrap();
    drop(db);
    let run = env.root(&["check"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout.contains("asset 3 is reachable from neither"),
        "{run:#?}"
    );
    assert!(run.stderr.starts_with("error: "), "{run:#?}");
    let json = env.root(&["--json", "check"]).json();
    assert_eq!(json["ok"], false);
}
