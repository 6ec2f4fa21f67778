//! Serving assets at their web paths: finds who asks, lets [`behaviours::serve_path`] decide
//! what they get, and turns its [`Outcome`] into an HTTP response.
//!
//! A JSON Web Token asset answers every request with `Content-Type: application/jwt`,
//! `Cache-Control: no-store` and an empty body, except the token itself on success, so that
//! clients never mistake an error page for a token and no cache keeps one.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::{self, ClientAddr, Credentials};
use super::error::{WebError, plain};
use crate::behaviours::{self, Outcome, Requester};
use crate::types::Behaviour;
use crate::users::Actor;

/// What a database job for an asset request found.
enum Served {
    Outcome(Outcome),
    WrongPassword,
}

/// The fallback handler: every path that is not one of the server's own (`/_health`,
/// `/_login`, `/_logout`) is an asset's web path.
pub async fn serve(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    request: Request,
) -> Response {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return response;
    }
    let head = method == Method::HEAD;
    let path = request.uri().path().to_owned();
    let base_url = base_url(request.headers());
    let now = state.now();
    let credentials = auth::credentials(request.headers());
    let basic_user = match &credentials {
        Credentials::BadBasic => {
            auth::failed(&state, "", addr);
            return auth::basic_challenge();
        }
        Credentials::Basic { name, .. } => Some(name.clone()),
        Credentials::None | Credentials::Session(_) => None,
    };
    // Held until the password check is done; see `auth::password_turn`.
    let _permit = match &basic_user {
        Some(name) => match auth::password_turn(&state, name, addr).await {
            Ok(permit) => Some(permit),
            Err(response) => return response,
        },
        None => None,
    };
    // Finding the user and serving the asset share one database job. A password check
    // (Basic) takes Argon2's time and runs on a blocking thread; a session or the public user
    // needs only short reads, served from the connection's caches, which run in place.
    let job = move |conn: &mut super::db::Conn| {
        let actor = match &credentials {
            Credentials::Session(hash) => auth::session_user(conn, hash, now)?,
            Credentials::Basic { name, password } => {
                match auth::check_password(conn, name, password)? {
                    Some(user) => Actor::user(user),
                    None => return Ok(Served::WrongPassword),
                }
            }
            Credentials::None | Credentials::BadBasic => Actor::public(),
        };
        let req = Requester {
            actor: &actor,
            base_url: &base_url,
        };
        let (db, cache) = conn.for_serving();
        Ok(Served::Outcome(behaviours::serve_path(
            db, cache, &req, &path, now,
        )?))
    };
    let served = if basic_user.is_some() {
        state.pool().run(job).await
    } else {
        state.pool().run_read(job).await
    };
    match served {
        Ok(Served::Outcome(outcome)) => {
            if let Some(name) = basic_user {
                state.throttle().success(&name);
            }
            let response = respond(outcome);
            if head {
                without_body(response)
            } else {
                response
            }
        }
        Ok(Served::WrongPassword) => {
            auth::failed(&state, basic_user.as_deref().unwrap_or(""), addr);
            auth::basic_challenge()
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

/// A HEAD response: the headers a GET would get, with the length the body would have, and no
/// body. Done here rather than left to the HTTP server, so that the router alone is correct.
fn without_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = axum::body::HttpBody::size_hint(&body).exact() {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, axum::body::Body::empty())
}

/// The address the client used, for `%asset_url%`. The Host header is the client's word, so
/// it is only used to build links and is dropped unless it looks like a host name or address
/// with an optional port.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let plausible = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if plausible {
        format!("http://{host}")
    } else {
        String::new()
    }
}

/// Turns an outcome into a response. Reasons for refusals and configuration errors are for
/// the log, never for the client.
pub fn respond(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Html(html) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // Pages can differ per user, so no shared cache may keep them.
                (header::CACHE_CONTROL, "private, no-cache"),
            ],
            html,
        )
            .into_response(),
        Outcome::Token(token) => jwt(StatusCode::OK, token),
        Outcome::NotFound => plain(StatusCode::NOT_FOUND, "not found"),
        Outcome::Forbidden { behaviour, reason } => {
            tracing::debug!(%reason, "refused");
            match behaviour {
                Behaviour::JsonWebToken => jwt(StatusCode::FORBIDDEN, String::new()),
                _ => plain(StatusCode::FORBIDDEN, "forbidden"),
            }
        }
        Outcome::ConfigError { behaviour, reason } => {
            tracing::warn!(%reason, "an asset's configuration cannot be served");
            match behaviour {
                Behaviour::JsonWebToken => jwt(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
                _ => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
            }
        }
    }
}

fn jwt(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/jwt"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::HttpBody;

    use super::*;

    #[test]
    fn base_url_keeps_plausible_hosts_only() {
        let mut h = HeaderMap::new();
        assert_eq!(base_url(&h), "");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(base_url(&h), "http://127.0.0.1:8080");
        h.insert(header::HOST, HeaderValue::from_static("[::1]:80"));
        assert_eq!(base_url(&h), "http://[::1]:80");
        h.insert(header::HOST, HeaderValue::from_static("evil\"/><script>"));
        assert_eq!(base_url(&h), "");
    }

    #[test]
    fn jwt_refusals_have_jwt_headers_and_empty_bodies() {
        for outcome in [
            Outcome::Forbidden {
                behaviour: Behaviour::JsonWebToken,
                reason: "secret reason".into(),
            },
            Outcome::ConfigError {
                behaviour: Behaviour::JsonWebToken,
                reason: "secret reason".into(),
            },
        ] {
            let response = respond(outcome);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/jwt");
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(response.into_body().size_hint().exact(), Some(0));
        }
    }
}
