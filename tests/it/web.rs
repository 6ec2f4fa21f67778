//! The web front end: the real `tessera serve` over a loopback socket for the whole path
//! (binding, cookies, signals), and the router driven with `oneshot` for detail (an injected
//! clock for session expiry and the throttle's windows).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use tessera::web::{self, AppState, COOKIE_NAME, Config, ThrottleConfig};
use tower::ServiceExt;

use crate::support::{Env, tessera};

// ---------------------------------------------------------------------------------------------
// A site to serve

/// An instance with users and a small tree:
///
/// - `alice` (user) and `bob` (user); `editor` (user) with write on `/demo/draft`;
/// - `/demo` folder, live, readable by all users, holding `hello` (live page with keywords),
///   `draft` (under construction) and `old` (trashed);
/// - `/open`, a live page readable by the public;
/// - `/private`, a live page readable by alice only.
fn site() -> Env {
    let env = Env::new();
    for name in ["alice", "bob", "editor"] {
        env.add_user(name, "user", &[]);
    }
    env.create(&[
        "--type", "folder", "--parent", "/", "--name", "Demo", "--path", "demo", "--status", "live",
    ]);
    env.root(&["asset", "grant", "/demo", "--all-users", "--perm", "read"])
        .ok();
    env.create(&[
        "--type",
        "page",
        "--parent",
        "/demo",
        "--name",
        "Hello",
        "--path",
        "hello",
        "--status",
        "live",
        "--attr",
        "content=<p>Hello %globals_user_attribute_username% at %asset_url%</p>",
    ]);
    env.create(&[
        "--type",
        "page",
        "--parent",
        "/demo",
        "--name",
        "Draft",
        "--path",
        "draft",
        "--attr",
        "content=<p>draft</p>",
    ]);
    env.root(&[
        "asset",
        "grant",
        "/demo/draft",
        "--user",
        "editor",
        "--perm",
        "write",
    ])
    .ok();
    env.create(&[
        "--type", "page", "--parent", "/demo", "--name", "Old", "--path", "old", "--status", "live",
    ]);
    env.root(&["asset", "trash", "/demo/old"]).ok();
    env.create(&[
        "--type",
        "page",
        "--parent",
        "/",
        "--name",
        "Open",
        "--path",
        "open",
        "--status",
        "live",
        "--attr",
        "content=<p>open</p>",
    ]);
    env.root(&["asset", "grant", "/open", "--public", "--perm", "read"])
        .ok();
    env.create(&[
        "--type",
        "page",
        "--parent",
        "/",
        "--name",
        "Private",
        "--path",
        "private",
        "--status",
        "live",
        "--attr",
        "content=<p>private</p>",
    ]);
    env.root(&[
        "asset", "grant", "/private", "--user", "alice", "--perm", "read",
    ])
    .ok();
    env
}

fn password(name: &str) -> String {
    format!("{name}-password")
}

fn basic(name: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{name}:{password}")))
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------------------------------------
// The router, without a socket

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

struct App {
    router: Router,
    clock: TestClock,
}

const SESSION_SECONDS: i64 = 600;

fn app(env: &Env) -> App {
    app_with(env, ThrottleConfig::default())
}

fn app_with(env: &Env, throttle: ThrottleConfig) -> App {
    let clock = TestClock(Arc::new(AtomicI64::new(1_900_000_000)));
    let c = clock.clone();
    let config = Config {
        session_seconds: SESSION_SECONDS,
        throttle,
        clock: Arc::new(move || c.0.load(Ordering::SeqCst)),
        ..Config::default()
    };
    let state = AppState::open(&env.data, config).unwrap();
    App {
        router: web::router(state),
        clock,
    }
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header: {self:#?}"))
    }

    /// The `name=value` part of the session cookie set by this reply.
    fn cookie(&self) -> String {
        self.header(header::SET_COOKIE)
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
}

impl App {
    async fn send(&self, request: Request<Body>) -> Reply {
        self.send_from([127, 0, 0, 1], request).await
    }

    async fn send_from(&self, ip: [u8; 4], request: Request<Body>) -> Reply {
        let router = self
            .router
            .clone()
            .layer(MockConnectInfo(SocketAddr::from((ip, 40000))));
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(path).header(header::HOST, "site.test");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn login_from(&self, ip: [u8; 4], name: &str, password: &str) -> Reply {
        let request = Request::post("/_login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(&[
                ("username", name),
                ("password", password),
            ])))
            .unwrap();
        self.send_from(ip, request).await
    }

    async fn login(&self, name: &str) -> String {
        let reply = self.login_from([127, 0, 0, 1], name, &password(name)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:#?}");
        reply.cookie()
    }
}

#[tokio::test]
async fn router_health_folder_pages_and_missing_paths() {
    let env = site();
    let app = app(&env);
    let health = app.get("/_health", None).await;
    assert_eq!(health.status, StatusCode::OK);

    let alice = app.login("alice").await;
    let folder = app.get("/demo", Some(&alice)).await;
    assert_eq!(folder.status, StatusCode::OK, "{folder:#?}");
    assert_eq!(
        folder.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(folder.body.contains("href=\"/demo/hello\""), "{folder:#?}");
    assert!(!folder.body.contains("/demo/old"), "{folder:#?}");

    let page = app.get("/demo/hello/", Some(&alice)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<p>Hello alice at http://site.test/demo/hello</p>"),
        "keywords are replaced: {page:#?}"
    );

    for missing in [
        "/nothing",
        "/demo/nothing",
        "/demo/old",
        "/demo/hello/deeper",
    ] {
        let reply = app.get(missing, Some(&alice)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}: {reply:#?}");
    }
}

#[tokio::test]
async fn router_permissions_decide_between_200_and_403() {
    let env = site();
    let app = app(&env);
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let editor = app.login("editor").await;

    assert_eq!(app.get("/open", None).await.status, StatusCode::OK);
    let public_demo = app.get("/demo/hello", None).await;
    assert_eq!(public_demo.status, StatusCode::FORBIDDEN);
    assert_eq!(public_demo.body, "forbidden", "no reason is sent");

    assert_eq!(
        app.get("/private", Some(&alice)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/private", Some(&bob)).await.status,
        StatusCode::FORBIDDEN
    );

    // Under construction: only users with write see it.
    assert_eq!(
        app.get("/demo/draft", Some(&editor)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/demo/draft", Some(&alice)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn router_login_sets_a_hardened_cookie_and_follows_local_next_only() {
    let env = site();
    let app = app(&env);
    let reply = app
        .login_from([127, 0, 0, 1], "alice", &password("alice"))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header(header::LOCATION), "/");
    let cookie = reply.header(header::SET_COOKIE);
    let value = cookie
        .strip_prefix(&format!("{COOKIE_NAME}="))
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_eq!(value.len(), 43, "32 bytes in base64url: {cookie}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        &format!("Max-Age={SESSION_SECONDS}"),
    ] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing: {cookie}"
        );
    }
    // Only a hash of the value is stored.
    let stored: Vec<String> = env
        .db()
        .prepare("SELECT token_hash FROM sessions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(value));
    assert_eq!(stored[0].len(), 64);

    for (next, location) in [
        ("/demo/hello", "/demo/hello"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
    ] {
        let request = Request::post("/_login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(&[
                ("username", "alice"),
                ("password", &password("alice")),
                ("next", next),
            ])))
            .unwrap();
        let reply = app.send(request).await;
        assert_eq!(reply.header(header::LOCATION), location, "next={next}");
    }

    let bad_form = Request::post("/_login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=alice"))
        .unwrap();
    assert_eq!(app.send(bad_form).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn router_sessions_expire_and_logout_ends_them() {
    let env = site();
    let app = app(&env);
    let alice = app.login("alice").await;
    assert_eq!(
        app.get("/private", Some(&alice)).await.status,
        StatusCode::OK
    );
    app.clock.advance(SESSION_SECONDS - 1);
    assert_eq!(
        app.get("/private", Some(&alice)).await.status,
        StatusCode::OK
    );
    app.clock.advance(1);
    assert_eq!(
        app.get("/private", Some(&alice)).await.status,
        StatusCode::FORBIDDEN,
        "an expired session is the public user"
    );

    let alice = app.login("alice").await;
    // Warm every pooled connection's cache, so that logout must reach them all.
    for _ in 0..8 {
        assert_eq!(
            app.get("/private", Some(&alice)).await.status,
            StatusCode::OK
        );
    }
    let request = Request::post("/_logout")
        .header(header::COOKIE, &alice)
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(reply.header(header::SET_COOKIE).contains("Max-Age=0"));
    for _ in 0..8 {
        assert_eq!(
            app.get("/private", Some(&alice)).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn router_sees_command_line_changes_at_once() {
    let env = site();
    let app = app(&env);
    let alice = app.login("alice").await;
    for _ in 0..8 {
        assert_eq!(
            app.get("/private", Some(&alice)).await.status,
            StatusCode::OK
        );
    }
    env.root(&[
        "asset", "grant", "/private", "--user", "alice", "--perm", "read", "--deny",
    ])
    .ok();
    for _ in 0..8 {
        assert_eq!(
            app.get("/private", Some(&alice)).await.status,
            StatusCode::FORBIDDEN
        );
    }
    // A user deleted behind the server's back loses the session's rights too: here, the
    // session rows are removed directly.
    env.db().execute("DELETE FROM sessions", []).unwrap();
    assert_eq!(
        app.get("/demo/hello", Some(&alice)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn router_wrong_passwords_get_401_then_429_per_account() {
    let env = site();
    let app = app(&env);
    for i in 0..5 {
        let reply = app
            .login_from([10, 0, 0, i], "alice", "wrong-password")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
    }
    // Blocked even with the right password and from a fresh address: the password is not
    // checked while the account is throttled.
    let reply = app
        .login_from([10, 0, 0, 99], "alice", &password("alice"))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{reply:#?}");
    assert_eq!(reply.header(header::RETRY_AFTER), "900");
    // Basic is throttled by the same counts.
    let request = Request::get("/private")
        .header(header::AUTHORIZATION, basic("alice", &password("alice")))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.send(request).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts are not affected.
    app.login("bob").await;
    // The window ends.
    app.clock.advance(900);
    app.login("alice").await;
}

#[tokio::test]
async fn router_one_address_is_throttled_across_accounts_and_success_does_not_reset_it() {
    let env = site();
    let app = app_with(
        &env,
        ThrottleConfig {
            max_per_account: 100,
            max_per_address: 3,
            ..ThrottleConfig::default()
        },
    );
    let attacker = [192, 0, 2, 1];
    for name in ["alice", "bob", "nobody"] {
        assert_eq!(
            app.login_from(attacker, name, "guess-guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // A correct password from that address is refused too, and does not clear the count.
    let reply = app
        .login_from(attacker, "editor", &password("editor"))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.header(header::RETRY_AFTER).parse::<u64>().unwrap() > 0);
    // Another address is fine.
    assert_eq!(
        app.login_from([192, 0, 2, 2], "editor", &password("editor"))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn router_basic_auth_works_on_any_path() {
    let env = site();
    let app = app(&env);
    let request = |auth: String| {
        Request::get("/private")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap()
    };
    let ok = app.send(request(basic("alice", &password("alice")))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("private"));
    let wrong = app.send(request(basic("alice", "nope-nope"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header(header::WWW_AUTHENTICATE).starts_with("Basic "));
    let junk = app.send(request("Basic %%%".into())).await;
    assert_eq!(junk.status, StatusCode::UNAUTHORIZED);
    let bob = app.send(request(basic("bob", &password("bob")))).await;
    assert_eq!(bob.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn router_head_and_post_serve_like_get_and_other_methods_are_refused() {
    let env = site();
    let app = app(&env);
    let head = app
        .send(Request::head("/open").body(Body::empty()).unwrap())
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        head.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(head.body, "");
    let get = app.get("/open", None).await;
    assert_eq!(
        head.header(header::CONTENT_LENGTH),
        get.body.len().to_string(),
        "HEAD says how long the GET body is"
    );
    let post = app
        .send(Request::post("/open").body(Body::from("x=1")).unwrap())
        .await;
    assert_eq!(post.status, StatusCode::OK);
    assert!(post.body.contains("open"));
    let put = app
        .send(Request::put("/open").body(Body::empty()).unwrap())
        .await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(put.header(header::ALLOW), "GET, HEAD, POST");
}

#[tokio::test]
async fn router_limits_request_bodies() {
    let env = site();
    let app = app(&env);
    let big = "a".repeat(web::BODY_LIMIT + 1);
    let request = Request::post("/_login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .unwrap();
    assert_eq!(
        app.send(request).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn router_has_no_package_routes() {
    let env = site();
    let app = app(&env);
    for path in [
        "/_package/install",
        "/_packages/install",
        "/_package/uninstall",
        "/_packages",
    ] {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(
                header::AUTHORIZATION,
                basic("root", crate::support::ROOT_PASSWORD),
            )
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            app.send(request).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The real server over a loopback socket

/// A running `tessera serve`; stopped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(env: &Env, vars: &[(&str, &str)]) -> Server {
        let mut cmd = tessera();
        cmd.arg("--data-dir")
            .arg(&env.data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // The server prints this line once it is bound, so reading it is the synchronisation.
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Server {
            child,
            addr,
            _stdout: stdout,
        }
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Raw {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        let mut text = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(body);
        stream.write_all(text.as_bytes()).unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        Raw::parse(&raw)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Raw {
        self.request("GET", path, headers, "")
    }

    fn login(&self, name: &str, password: &str) -> Raw {
        self.request(
            "POST",
            "/_login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form(&[("username", name), ("password", password)]),
        )
    }

    /// Sends SIGTERM and waits for the process to end; returns its exit code and stderr.
    fn terminate(mut self) -> (Option<i32>, String) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn parse(raw: &str) -> Raw {
        let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        Raw {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn cookie(&self) -> String {
        self.header("set-cookie")
            .unwrap_or_else(|| panic!("no cookie: {self:#?}"))
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
}

#[test]
fn serve_answers_over_a_socket_and_stops_on_sigterm() {
    let env = site();
    let server = Server::start(&env, &[("TESSERA_SESSION_SECONDS", "120")]);
    assert_eq!(server.get("/_health", &[]).status, 200);
    assert_eq!(server.get("/open", &[]).status, 200);
    assert_eq!(server.get("/nothing", &[]).status, 404);
    assert_eq!(server.get("/demo/old", &[]).status, 404);
    assert_eq!(server.get("/demo/hello", &[]).status, 403);

    let wrong = server.login("alice", "wrong-password");
    assert_eq!(wrong.status, 401);
    let login = server.login("alice", &password("alice"));
    assert_eq!(login.status, 303, "{login:#?}");
    let set_cookie = login.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=120"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = login.cookie();
    let page = server.get("/demo/hello", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("Hello alice at http://{}/demo/hello", server.addr)),
        "{page:#?}"
    );
    let folder = server.get("/demo", &[("Cookie", &cookie)]);
    assert_eq!(folder.status, 200);
    assert_eq!(
        folder.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    let head = server.request("HEAD", "/demo/hello", &[("Cookie", &cookie)], "");
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    let post = server.request("POST", "/demo/hello", &[("Cookie", &cookie)], "");
    assert_eq!(post.status, 200);

    let basic_page = server.get(
        "/private",
        &[("Authorization", &basic("alice", &password("alice")))],
    );
    assert_eq!(basic_page.status, 200);

    let logout = server.request("POST", "/_logout", &[("Cookie", &cookie)], "");
    assert_eq!(logout.status, 303);
    assert_eq!(
        server.get("/demo/hello", &[("Cookie", &cookie)]).status,
        403
    );

    let secret_password = password("alice");
    let (code, stderr) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    for secret in [secret_password.as_str(), cookie.split('=').nth(1).unwrap()] {
        assert!(!stderr.contains(secret), "the log holds a secret: {stderr}");
    }
}

#[test]
fn serve_throttles_failed_logins_over_a_socket() {
    let env = site();
    let server = Server::start(&env, &[]);
    for _ in 0..5 {
        assert_eq!(server.login("bob", "wrong-password").status, 401);
    }
    let refused = server.login("bob", &password("bob"));
    assert_eq!(refused.status, 429);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Basic on an asset path counts against the same account.
    let basic_reply = server.get(
        "/demo/hello",
        &[("Authorization", &basic("bob", &password("bob")))],
    );
    assert_eq!(basic_reply.status, 429);
}

#[test]
fn serve_refuses_a_bad_session_setting_and_a_missing_instance() {
    let env = site();
    let run = env.run_with(
        None,
        &["serve", "--listen", "127.0.0.1:0"],
        &[("TESSERA_SESSION_SECONDS", "soon")],
    );
    run.refused("TESSERA_SESSION_SECONDS");
    let empty = Env::empty();
    empty
        .run(None, &["serve", "--listen", "127.0.0.1:0"])
        .refused("no instance");
}

// ---------------------------------------------------------------------------------------------
// JSON Web Token assets

/// Every response of a JWT asset: `application/jwt`, `no-store`.
#[track_caller]
fn assert_jwt_headers(reply: &Reply) {
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        "application/jwt",
        "{reply:#?}"
    );
    assert_eq!(
        reply.header(header::CACHE_CONTROL),
        "no-store",
        "{reply:#?}"
    );
}

/// The JWT demo site of the package tests, plus `bob` who is denied read on the token.
fn jwt_site() -> Env {
    let env = Env::new();
    crate::jwt::demo(&env);
    env.add_user("bob", "user", &[]);
    env.root(&[
        "asset",
        "grant",
        "/demo/token",
        "--user",
        "bob",
        "--perm",
        "read",
        "--deny",
    ])
    .ok();
    env
}

#[tokio::test]
async fn router_jwt_tokens_go_to_readers_only_with_jwt_headers_and_empty_refusals() {
    let env = jwt_site();
    let app = app(&env);
    let alice = app.login("alice").await;

    let ok = app.get("/demo/token", Some(&alice)).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:#?}");
    assert_jwt_headers(&ok);
    let claims = crate::jwt::verify_independently(&ok.body, crate::jwt::SECRET);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["admin"], false);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    // HEAD: the same headers and no body; POST: a token too.
    let head = app
        .send(
            Request::head("/demo/token")
                .header(header::COOKIE, &alice)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_jwt_headers(&head);
    assert_eq!(head.body, "");
    let post = app
        .send(
            Request::post("/demo/token")
                .header(header::COOKIE, &alice)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(post.status, StatusCode::OK);
    assert_jwt_headers(&post);
    crate::jwt::verify_independently(&post.body, crate::jwt::SECRET);

    // Basic works as well as the cookie.
    let basic_reply = app
        .send(
            Request::get("/demo/token")
                .header(header::AUTHORIZATION, basic("alice", &password("alice")))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(basic_reply.status, StatusCode::OK);
    crate::jwt::verify_independently(&basic_reply.body, crate::jwt::SECRET);

    // The public user never gets a token, nor does a user without read; the bodies are empty
    // for every method.
    let bob = app.login("bob").await;
    for (who, cookie) in [("public", None), ("bob", Some(bob.as_str()))] {
        for method in [Method::GET, Method::HEAD, Method::POST] {
            let mut request = Request::builder().method(method.clone()).uri("/demo/token");
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            let reply = app.send(request.body(Body::empty()).unwrap()).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who} {method}");
            assert_jwt_headers(&reply);
            assert_eq!(reply.body, "", "{who} {method}");
        }
    }
}

#[tokio::test]
async fn router_jwt_broken_configuration_is_500_with_an_empty_body() {
    let env = jwt_site();
    let app = app(&env);
    let alice = app.login("alice").await;
    assert_eq!(
        app.get("/demo/token", Some(&alice)).await.status,
        StatusCode::OK
    );
    // A payload that is not JSON after rendering; the server sees the change at once.
    env.root(&[
        "asset",
        "set",
        "/demo/token",
        "--attr",
        "payload=\"sub\": %globals_user_attribute_username%",
    ])
    .ok();
    for method in [Method::GET, Method::HEAD, Method::POST] {
        let reply = app
            .send(
                Request::builder()
                    .method(method.clone())
                    .uri("/demo/token")
                    .header(header::COOKIE, &alice)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{method}");
        assert_jwt_headers(&reply);
        assert_eq!(reply.body, "", "{method}: no reason reaches the client");
    }
}

#[tokio::test]
async fn router_jwt_trashed_token_is_404() {
    let env = jwt_site();
    let app = app(&env);
    let alice = app.login("alice").await;
    env.root(&["asset", "trash", "/demo/token"]).ok();
    assert_eq!(
        app.get("/demo/token", Some(&alice)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn serve_issues_tokens_over_a_socket() {
    let env = jwt_site();
    let server = Server::start(&env, &[]);
    let cookie = server.login("alice", &password("alice")).cookie();
    let ok = server.get("/demo/token", &[("Cookie", &cookie)]);
    assert_eq!(ok.status, 200, "{ok:#?}");
    assert_eq!(ok.header("content-type"), Some("application/jwt"));
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    crate::jwt::verify_independently(&ok.body, crate::jwt::SECRET);
    let head = server.request("HEAD", "/demo/token", &[("Cookie", &cookie)], "");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/jwt"));
    assert_eq!(head.body, "");
    let public = server.get("/demo/token", &[]);
    assert_eq!(public.status, 403);
    assert_eq!(public.header("content-type"), Some("application/jwt"));
    assert_eq!(public.header("content-length"), Some("0"));
    assert_eq!(public.body, "");
    let token = ok.body.clone();
    let (code, stderr) = server.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(&token), "the log holds a token: {stderr}");
    assert!(
        !stderr.contains(crate::jwt::SECRET),
        "the log holds the secret"
    );
}
