//! `tessera quickstart` end to end: start it on a free port, paste the curl line it prints,
//! verify the token, stop it, and run it again.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::jwt::verify_independently;
use crate::support::tessera;

/// Starts quickstart in `dir` and reads its output up to the curl line.
fn start(dir: &std::path::Path) -> (Child, Vec<String>) {
    let mut child = tessera()
        .current_dir(dir)
        .args(["quickstart", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("quickstart ended before printing the curl line: {lines:#?}");
        }
        let done = line.trim_start().starts_with("curl ");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    // Keep reading the rest in the background so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, lines)
}

fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "the server should stop cleanly on SIGTERM: {exit:?}"
    );
}

fn after<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.strip_prefix(prefix))
}

#[test]
fn quickstart_serves_a_token_that_the_printed_curl_line_fetches() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, lines) = start(tmp.path());
    let root_password = after(&lines, "root password (shown only now): ")
        .expect("root password")
        .to_owned();
    let demo_password = after(&lines, "demo password (shown only now): ")
        .expect("demo password")
        .to_owned();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("listening on http://127.0.0.1:")),
        "{lines:#?}"
    );
    let curl = lines.last().unwrap().trim().to_owned();
    assert!(
        curl.contains(&demo_password) && curl.ends_with("/demo/token"),
        "{curl}"
    );

    // Paste the printed line into a shell, as a user would.
    let out = Command::new("sh")
        .args(["-c", &format!("{curl} --silent --fail")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap();
    stop(child);

    // The token is for demo, with a 15-minute expiry, and verifies against the asset's secret.
    let data = tmp.path().join("tessera-data");
    let verified = tessera()
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--as",
            "root",
            "--json",
            "jwt",
            "verify",
            &token,
            "--asset",
            "/demo/token",
        ])
        .env("TESSERA_PASSWORD", &root_password)
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    let claims: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(claims["claims"]["sub"], "demo");
    assert_eq!(claims["claims"]["given_name"], "Demo");
    assert_eq!(claims["claims"]["admin"], false);
    let exp = claims["claims"]["exp"].as_i64().unwrap();
    assert_eq!(exp - claims["claims"]["iat"].as_i64().unwrap(), 900);
    // An independent implementation agrees, with the secret read from the database.
    let secret: String = rusqlite::Connection::open(data.join("tessera.db"))
        .unwrap()
        .query_row(
            "SELECT value FROM asset_attributes a JOIN assets s ON s.id = a.asset_id
             WHERE s.segment = 'token' AND a.key = 'secret'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(secret.len() >= 32, "quickstart makes a strong secret");
    assert_eq!(verify_independently(&token, &secret)["sub"], "demo");

    // Run again: it reuses what is there and prints no new passwords.
    let (child, lines) = start(tmp.path());
    assert!(
        lines.iter().any(|l| l.starts_with("reusing the instance")),
        "{lines:#?}"
    );
    assert!(
        after(&lines, "root password").is_none() && after(&lines, "demo password").is_none(),
        "{lines:#?}"
    );
    stop(child);
    let check = tessera()
        .args(["--data-dir", data.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}
