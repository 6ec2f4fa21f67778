//! The web layer's error type: anything that stops a request from being answered as planned.
//! It logs the details and sends the client a bare status, so that no internal detail (a path,
//! an SQL message, a configuration reason) ever reaches it.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::db::PoolError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Store(#[from] crate::error::Error),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        // Library errors name things (users, assets) but never carry passwords, session values
        // or secrets, so the message is safe to log.
        tracing::error!(error = %self, "request failed");
        plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

/// A short plain-text response.
pub fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}
