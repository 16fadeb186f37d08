//! The Gatehouse server: HTTP API, storage, operator accounts and audit trail.
//!
//! [`launch`] runs the server on listeners the caller binds, so tests start it on port 0.

pub mod alarm_desk;
pub mod alarms;
pub mod api;
pub mod audit;
pub mod auth;
pub mod badges;
pub mod bootstrap;
pub mod cards;
pub mod cli;
pub mod config;
pub mod console;
pub mod documents;
pub mod domain;
pub mod feeds;
pub mod import;
pub mod issuing;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod qr;
pub mod reports;
pub mod retention;
pub mod screening;
pub mod state;
pub mod store;
pub mod tls;
pub mod visit_expiry;
pub mod visits;

use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::Store;
use axum::routing::get;
use axum::serve::ListenerExt;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The sockets the server answers on.
pub struct Listeners {
    /// The API; it serves HTTPS only when `tls.cert` and `tls.key` are set.
    pub api: TcpListener,
    /// Prometheus metrics; `None` turns them off.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses named in the settings.
    pub async fn bind(settings: &Settings) -> anyhow::Result<Listeners> {
        let api = bind(settings.server.listen, "server.listen").await?;
        let metrics = match settings.metrics.enabled {
            true => Some(bind(settings.metrics.listen, "metrics.listen").await?),
            false => None,
        };
        Ok(Listeners { api, metrics })
    }
}

async fn bind(addr: SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({key}): {e}"))
}

/// Opens the database (migrating it), creates the first admin when there is no operator,
/// and serves until `shutdown` completes; then lets requests in flight finish for up to
/// `server.shutdown_grace_s`.
pub async fn launch(
    settings: Settings,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = settings.tls.server_config()?;
    let store = Store::open(&settings.database).await?;
    if store.kind() == store::DatabaseKind::Sqlite {
        let interrupted = store.fail_interrupted_import_jobs(None).await?;
        if interrupted > 0 {
            tracing::warn!(
                jobs = interrupted,
                "import jobs interrupted by the last stop marked failed"
            );
        }
    }
    // The invisible rows of imports interrupted by a stop (every one on SQLite, whose
    // one server this is; those silent for a while on PostgreSQL), in the background.
    let sweeping = store.clone();
    tokio::spawn(async move {
        let silent = chrono::Duration::from_std(store::ABANDONED_AFTER).unwrap_or_default();
        let since =
            (sweeping.kind() == store::DatabaseKind::Postgres).then(|| store::now() - silent);
        if let Err(error) = sweeping.sweep_abandoned_imports(since).await {
            tracing::error!(%error, "cannot sweep the rows of interrupted imports");
        }
    });
    bootstrap::ensure_admin(&store, &settings.bootstrap).await?;
    auth::password::warm_up().await?;
    let audit_key = Arc::new(audit::checkpoint::AuditKey::load(&store).await?);
    let senders = notify::send::Senders::new(&settings.notify)?;
    let notifier = Arc::new(notify::Notifier::new(settings.notify.clone()));
    let feeds = feeds::Feeds::start(store.clone()).await?;
    let card_keys = Arc::new(
        cards::CardKeyring::open(&settings.cards, &settings.database, store.clone()).await?,
    );
    let state = AppState {
        card_keys,
        desk: Arc::new(issuing::DeskJobs::new(settings.issuing.clone())),
        tokens: Arc::new(TokenKeys::load(&store, &settings.auth).await?),
        throttle: Arc::new(LoginThrottle::new(&settings.auth)),
        metrics: Arc::new(Metrics::new()),
        policy: Arc::new(
            policy::PolicyService::load(store.clone(), settings.policy.clone()).await?,
        ),
        policy_versions: feeds.policy_versions(),
        feeds,
        audit_key: audit_key.clone(),
        import_jobs: Arc::default(),
        console: console::ConsoleConfig {
            settings: settings.console,
            cookie: console::session::CookiePolicy {
                secure: tls.is_some(),
            },
        },
        alarm_desk: Arc::new(alarm_desk::AlarmDesk {
            priority: settings.alarms.priority.clone(),
            instructions: settings.alarms.instructions.clone(),
        }),
        verifications: Arc::default(),
        notifier: notifier.clone(),
        store: store.clone(),
    };
    alarms::apply(&store, settings.alarms.clone()).await?;
    let retention = tokio::spawn(retention::run(store.clone(), settings.retention));
    let offline_agents = tokio::spawn(alarms::run(store.clone(), settings.alarms.clone()));
    let notifications = tokio::spawn(notify::worker::run(store.clone(), notifier, senders));
    let visits_ended = tokio::spawn(visit_expiry::run(store.clone(), settings.visit_expiry));
    let checkpoints = tokio::spawn(audit::checkpoint::run(
        store.clone(),
        audit_key.clone(),
        settings.audit,
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    if let Some(listener) = listeners.metrics {
        let metrics = state.metrics.clone();
        let router =
            axum::Router::new().route("/metrics", get(move || async move { metrics.render() }));
        tracing::info!(listen = %listener.local_addr()?, "metrics listening");
        let stop = stopped(stop_rx.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(%error, "metrics listener failed");
            }
        });
    }

    let app = api::app(
        state,
        api::Limits {
            body_bytes: settings.server.body_limit_bytes,
            timeout: Duration::from_secs(settings.server.request_timeout_s),
        },
    );
    // Live alarm streams end when this server stops.
    let app = app.layer(axum::Extension(alarms::StreamShutdown(stop_rx.clone())));
    let app = app.layer(axum::Extension(alarms::AgentLiveness(
        settings.alarms.offline_after(),
    )));
    // Browsers that reached us over HTTPS keep to it.
    let app = match tls {
        Some(_) => app.layer(axum::middleware::from_fn(
            api::middleware::strict_transport_security,
        )),
        None => app,
    };
    tracing::info!(
        listen = %listeners.api.local_addr()?,
        tls = tls.is_some(),
        database = ?store.kind(),
        version = env!("CARGO_PKG_VERSION"),
        "gatehouse serving"
    );
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let stop = stopped(stop_rx.clone());
    let server: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match tls {
        None => Box::pin(
            axum::serve(listeners.api, app)
                .with_graceful_shutdown(stop)
                .into_future(),
        ),
        Some(config) => {
            // `tap_io` gives the TLS listener `ConnectInfo<SocketAddr>` (the login throttle).
            let listener = tls::TlsListener::new(listeners.api, config)?.tap_io(|tls| {
                let _ = tls.get_ref().0.set_nodelay(true);
            });
            Box::pin(
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .into_future(),
            )
        }
    };
    let grace = Duration::from_secs(settings.server.shutdown_grace_s);
    tokio::select! {
        result = server => result?,
        () = async { stopped(stop_rx).await; tokio::time::sleep(grace).await } => {
            tracing::warn!("requests still running after the shutdown grace period; stopping anyway");
        }
    }
    // Sign whatever was chained since the last checkpoint before going away.
    checkpoints.abort();
    offline_agents.abort();
    visits_ended.abort();
    retention.abort();
    notifications.abort();
    if let Err(error) = audit::checkpoint::checkpoint_if_due(
        &store,
        &audit_key,
        audit::checkpoint::CheckpointSettings {
            checkpoint_records: 1,
            ..settings.audit
        },
    )
    .await
    {
        tracing::warn!(%error, "could not write the final audit checkpoint");
    }
    store.close().await;
    tracing::info!("gatehouse stopped");
    Ok(())
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
