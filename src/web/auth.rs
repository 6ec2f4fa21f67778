//! Authentication over HTTP: session cookies (`POST /_login`, `POST /_logout`), HTTP Basic on
//! any path, and the throttle in front of every password check.
//!
//! A session's value is 32 random bytes from the operating system, base64url-encoded, sent to
//! the browser once in a cookie and stored only as its SHA-256 hash, so a copy of the database
//! does not let anyone act as a logged-in user. Passwords are checked by
//! [`users::authenticate`] (Argon2id) and only at login or for a Basic request.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::db::{CachedSession, Conn};
use super::error::{WebError, plain};
use super::throttle::Verdict;
use crate::error::Error;
use crate::store::{self, users::UserRow};
use crate::users::{self, Actor};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "tessera_session";
/// The length of a session value: 32 bytes in base64url without padding.
const SESSION_VALUE_LEN: usize = 43;

/// A password or session value: kept out of `Debug` output so that it cannot reach a log by
/// accident.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A fresh session value.
fn new_session_value() -> Secret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    Secret(URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash a session value is stored and cached under.
pub fn session_hash(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// How a request says who sends it.
#[derive(Debug)]
pub enum Credentials {
    /// Nothing: the public user.
    None,
    /// A session cookie, by the hash of its value.
    Session([u8; 32]),
    /// HTTP Basic.
    Basic { name: String, password: Secret },
    /// An `Authorization: Basic` header that cannot be decoded; answered like a wrong password.
    BadBasic,
}

/// Reads the credentials of a request. Basic, when present, wins over a cookie: a client that
/// sends a password means it.
pub fn credentials(headers: &HeaderMap) -> Credentials {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Some((scheme, rest)) = value.to_str().ok().and_then(|v| v.trim().split_once(' '))
        else {
            return Credentials::None;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            // Other schemes are not Tessera's; such a request is served as the public user.
            return Credentials::None;
        }
        return parse_basic(rest.trim()).unwrap_or(Credentials::BadBasic);
    }
    match session_cookie(headers) {
        Some(value) => Credentials::Session(session_hash(value)),
        None => Credentials::None,
    }
}

fn parse_basic(encoded: &str) -> Option<Credentials> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (name, password) = decoded.split_once(':')?;
    Some(Credentials::Basic {
        name: name.to_owned(),
        password: Secret(password.to_owned()),
    })
}

/// The session cookie's value, if it has the shape of one; anything else is ignored.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim())
        .filter(|value| {
            value.len() == SESSION_VALUE_LEN
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The user of a live session, from the connection's cache or the store.
pub fn session_user(conn: &mut Conn, hash: &[u8; 32], now: i64) -> crate::error::Result<Actor> {
    if let Some(session) = conn.cached_session(hash) {
        return Ok(if session.expires_at > now {
            Actor::user(session.user.clone())
        } else {
            Actor::public()
        });
    }
    let Some((user_id, expires_at)) =
        store::sessions::lookup(conn.conn(), &hex::encode(hash), now)?
    else {
        return Ok(Actor::public());
    };
    let Some(user) = store::users::by_id(conn.conn(), user_id)? else {
        return Ok(Actor::public());
    };
    conn.cache_session(
        *hash,
        CachedSession {
            user: user.clone(),
            expires_at,
        },
    );
    Ok(Actor::user(user))
}

/// Checks a password, or says it is wrong. Other failures (the database) are errors.
pub fn check_password(
    conn: &Conn,
    name: &str,
    password: &Secret,
) -> crate::error::Result<Option<UserRow>> {
    match users::authenticate(conn.conn(), name, password.expose()) {
        Ok(user) => Ok(Some(user)),
        Err(Error::Authentication(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The client's address, for the throttle. Router tests without a socket all count as one
/// unspecified address.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

#[axum::async_trait]
impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // `ConnectInfo` also finds the address a test sets with `MockConnectInfo`.
        Ok(ClientAddr(
            ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
                .await
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

/// Waits for a turn at password checking and asks the throttle. The permit bounds how many
/// Argon2 checks (19 MiB of memory each) run at once; asking the throttle only once a turn has
/// come means a burst of parallel guesses is counted one by one, not let through together.
pub async fn password_turn(
    state: &AppState,
    name: &str,
    addr: IpAddr,
) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    let permit = state
        .password_permits()
        .acquire_owned()
        .await
        .map_err(|_| plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    match state.throttle().check(name, addr, state.now()) {
        Verdict::Allowed => Ok(permit),
        Verdict::Blocked { retry_after } => {
            tracing::info!(client = %addr, "login attempt refused by the throttle");
            Err(too_many_attempts(retry_after))
        }
    }
}

fn too_many_attempts(retry_after: u64) -> Response {
    let mut response = plain(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed logins: try again later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// Counts a failed password check.
pub fn failed(state: &AppState, name: &str, addr: IpAddr) {
    tracing::info!(client = %addr, "failed login");
    state.throttle().failure(name, addr, state.now());
}

/// The answer to wrong Basic credentials: 401 with a challenge, so that clients may ask again.
pub fn basic_challenge() -> Response {
    let mut response = plain(StatusCode::UNAUTHORIZED, "wrong user name or password");
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: Secret,
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after logging in: `next` if it is a path on this site, `/` otherwise. A value
/// such as `//evil.example` or `/\evil.example` is a link to another site in browsers' eyes,
/// so it is refused.
fn local_target(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 2048
                && path.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            path
        }
        _ => "/",
    }
}

fn session_cookie_header(value: &Secret, max_age: i64) -> HeaderValue {
    let text = format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}",
        value.expose()
    );
    HeaderValue::from_str(&text).expect("a base64url value makes a valid header")
}

fn clear_cookie_header() -> HeaderValue {
    HeaderValue::from_static("tessera_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /_login`: a minimal form, so that a browser can log in.
pub async fn login_form() -> Response {
    let mut response = Html(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Log in</title></head>\n",
        "<body>\n<form method=\"post\" action=\"/_login\">\n",
        "<label>User name <input name=\"username\" autocomplete=\"username\"></label>\n",
        "<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\n",
        "<button>Log in</button>\n</form>\n</body>\n</html>\n"
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /_login`: checks the password and starts a session. Success: 303 to `next` (a local
/// path) or `/`, with the cookie. Wrong name or password: 401. Throttled: 429 with
/// `Retry-After`, and the password is not checked.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return plain(
            StatusCode::BAD_REQUEST,
            "the login form needs the fields username and password",
        );
    };
    let _permit = match password_turn(&state, &form.username, addr).await {
        Ok(permit) => permit,
        Err(response) => return response,
    };
    let now = state.now();
    let expires_at = now.saturating_add(state.config().session_seconds);
    let name = form.username.clone();
    let password = form.password.clone();
    let result = state
        .pool()
        .run(move |conn| {
            let Some(user) = check_password(conn, &name, &password)? else {
                return Ok(None);
            };
            let value = new_session_value();
            let hash = hex::encode(session_hash(value.expose()));
            conn.store().write(|tx| {
                // Logins are rare next to requests, so they sweep the expired sessions.
                store::sessions::delete_expired(tx, now)?;
                store::sessions::insert(tx, &hash, user.id, expires_at)
            })?;
            Ok(Some((user, value)))
        })
        .await;
    match result {
        Ok(Some((user, value))) => {
            state.throttle().success(&form.username);
            tracing::info!(user = %user.name, client = %addr, "logged in");
            let mut response = see_other(local_target(form.next.as_deref()));
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie_header(&value, state.config().session_seconds),
            );
            response
        }
        Ok(None) => {
            failed(&state, &form.username, addr);
            plain(StatusCode::UNAUTHORIZED, "wrong user name or password")
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

/// `POST /_logout`: ends the session, if any, clears the cookie and sends the browser to `/`.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(value) = session_cookie(&headers) {
        let hash = session_hash(value);
        let result = state
            .pool()
            .run(move |conn| {
                conn.forget_session(&hash);
                store::sessions::delete(conn.conn(), &hex::encode(hash))
            })
            .await;
        if let Err(e) = result {
            return WebError::from(e).into_response();
        }
    }
    let mut response = see_other("/");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie_header());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn session_values_are_43_base64url_characters_and_differ() {
        let a = new_session_value();
        let b = new_session_value();
        assert_eq!(a.expose().len(), SESSION_VALUE_LEN);
        assert_ne!(a.expose(), b.expose());
        assert!(format!("{a:?}").contains(".."));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_junk_is_ignored() {
        let value = "a".repeat(43);
        let h = headers(&[(header::COOKIE, &format!("x=1; {COOKIE_NAME}={value}; y=2"))]);
        assert_eq!(session_cookie(&h), Some(value.as_str()));
        let h = headers(&[(header::COOKIE, &format!("{COOKIE_NAME}=short"))]);
        assert_eq!(session_cookie(&h), None);
        let h = headers(&[(
            header::COOKIE,
            &format!("{COOKIE_NAME}={}", "a!".repeat(21)),
        )]);
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let h = headers(&[(
            header::AUTHORIZATION,
            &format!("Basic {}", STANDARD.encode("alice:pa:ss")),
        )]);
        match credentials(&h) {
            Credentials::Basic { name, password } => {
                assert_eq!(name, "alice");
                assert_eq!(password.expose(), "pa:ss");
            }
            other => panic!("{other:?}"),
        }
        let h = headers(&[(header::AUTHORIZATION, "Basic !!!")]);
        assert!(matches!(credentials(&h), Credentials::BadBasic));
        let h = headers(&[(header::AUTHORIZATION, "Bearer abc")]);
        assert!(matches!(credentials(&h), Credentials::None));
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_target(Some("/demo/token")), "/demo/token");
        assert_eq!(local_target(Some("/a?b=c")), "/a?b=c");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "demo",
            "/a b",
            "/a\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(local_target(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_target(None), "/");
    }
}
