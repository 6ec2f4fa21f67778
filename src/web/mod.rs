//! The web front end (`tessera serve`): the only module that knows HTTP. It builds the axum
//! [`Router`] (so tests can drive it without a socket), binds and runs the server, and shuts
//! it down gracefully on SIGINT or SIGTERM.
//!
//! Routes: `GET /_health`; `GET /_login` (a form) and `POST /_login`; `POST /_logout`; every
//! other path is an asset's web path, served for GET, HEAD and POST. Package install, upgrade
//! and uninstall have no route, deliberately.
//!
//! Configuration: `--listen ADDR`; `TESSERA_SESSION_SECONDS` (how long a session lasts,
//! default 8 hours); `RUST_LOG` (log filter, default `info`; logs go to stderr and never hold
//! a password, a session value, a secret or a token).

mod assets;
mod auth;
mod db;
mod error;
mod throttle;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::COOKIE_NAME;
pub use throttle::ThrottleConfig;

use crate::instance::{DB_FILE, Instance};

/// The largest request body accepted. Logins are tiny and assets ignore bodies, so this only
/// stops a client from making the server read a lot.
pub const BODY_LIMIT: usize = 64 * 1024;
/// How long a request may take, from its headers to its response, before it gets a 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a session lasts unless `TESSERA_SESSION_SECONDS` says otherwise.
pub const DEFAULT_SESSION_SECONDS: i64 = 8 * 60 * 60;
/// The environment variable that sets the session length in seconds.
pub const SESSION_SECONDS_VAR: &str = "TESSERA_SESSION_SECONDS";

/// The clock, in seconds since the Unix epoch. Injectable so that tests can move time past a
/// session's expiry or a throttle window without waiting.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The server's settings.
#[derive(Clone)]
pub struct Config {
    /// How long a session lasts, in seconds.
    pub session_seconds: i64,
    pub throttle: ThrottleConfig,
    /// How many database connections serve requests at once.
    pub pool_size: usize,
    /// How many password checks (Argon2, about 19 MiB each) run at once.
    pub password_checks: usize,
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Config {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Config {
            session_seconds: DEFAULT_SESSION_SECONDS,
            throttle: ThrottleConfig::default(),
            pool_size: (cores * 2).clamp(2, 16),
            password_checks: cores.clamp(1, 4),
            clock: Arc::new(crate::store::now),
        }
    }
}

impl Config {
    /// The defaults, with the session length from `TESSERA_SESSION_SECONDS` if it is set.
    pub fn from_env() -> anyhow::Result<Config> {
        let mut config = Config::default();
        if let Ok(text) = std::env::var(SESSION_SECONDS_VAR) {
            config.session_seconds = text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|s| *s > 0)
                .with_context(|| {
                    format!(
                        "{SESSION_SECONDS_VAR} is {text:?}: set it to a positive number of seconds"
                    )
                })?;
        }
        Ok(config)
    }
}

struct Shared {
    config: Config,
    pool: Arc<db::Pool>,
    throttle: throttle::Throttle,
    password_permits: Arc<Semaphore>,
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

impl AppState {
    /// Opens the instance in `data_dir` for serving.
    pub fn open(data_dir: &Path, config: Config) -> crate::error::Result<AppState> {
        // Opening the instance first gives the usual "no instance" message and applies any
        // pending schema migration once, before the pool's connections open.
        drop(Instance::open(data_dir)?);
        let pool = db::Pool::open(&data_dir.join(DB_FILE), config.pool_size)?;
        Ok(AppState {
            shared: Arc::new(Shared {
                throttle: throttle::Throttle::new(config.throttle),
                password_permits: Arc::new(Semaphore::new(config.password_checks.max(1))),
                pool,
                config,
            }),
        })
    }

    fn config(&self) -> &Config {
        &self.shared.config
    }

    fn pool(&self) -> &Arc<db::Pool> {
        &self.shared.pool
    }

    fn throttle(&self) -> &throttle::Throttle {
        &self.shared.throttle
    }

    fn password_permits(&self) -> Arc<Semaphore> {
        Arc::clone(&self.shared.password_permits)
    }

    fn now(&self) -> i64 {
        (self.shared.config.clock)()
    }
}

/// Builds the whole web front end.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/_health", get(health))
        .route("/_login", get(auth::login_form).post(auth::login))
        .route("/_logout", axum::routing::post(auth::logout))
        .fallback(assets::serve)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            // Only the method and the path are recorded: a query string or a header could
            // carry a password or a session value.
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_response(
                    |response: &Response, latency: Duration, _: &tracing::Span| {
                        tracing::debug!(status = response.status().as_u16(), ?latency, "answered");
                    },
                ),
        )
}

async fn health() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok")
}

/// Sends logs to stderr, filtered by `RUST_LOG` (default `info`). Does nothing if a
/// subscriber is already set, as in tests.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only help a person at a terminal; in a log file they are noise.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Binds `listen`, prints `listening on http://ADDR` (the bound address, so port 0 works) and
/// serves the instance in `data_dir` until SIGINT or SIGTERM.
pub async fn serve(data_dir: &Path, listen: &str) -> anyhow::Result<()> {
    serve_with(data_dir, listen, |_| {}).await
}

/// [`serve`], calling `on_ready` with the bound address just after the `listening on` line,
/// so that a caller such as quickstart can print how to reach the server.
pub async fn serve_with(
    data_dir: &Path,
    listen: &str,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    init_logging();
    let config = Config::from_env()?;
    let session_seconds = config.session_seconds;
    let state = AppState::open(data_dir, config)?;
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: choose another --listen address"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    on_ready(addr);
    tracing::info!(%addr, data_dir = %data_dir.display(), session_seconds, "serving");
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("the server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// [`serve`] on a new multi-threaded runtime, for the command line.
pub fn serve_blocking(data_dir: &Path, listen: &str) -> anyhow::Result<()> {
    serve_blocking_with(data_dir, listen, |_| {})
}

/// [`serve_with`] on a new multi-threaded runtime.
pub fn serve_blocking_with(
    data_dir: &Path,
    listen: &str,
    on_ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve_with(data_dir, listen, on_ready))
}

/// Registers for SIGINT and SIGTERM now, and returns a future that resolves on either. The
/// handlers must be in place before the server says it is listening: a signal that arrives
/// after that line but before registration would otherwise kill the process outright.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
    }
}
