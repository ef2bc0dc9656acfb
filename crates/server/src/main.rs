//! The `dangol-server` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use dangol_server::admin::auth::{check_new_admin, hash_password};
use dangol_server::postgres::PgStore;
use dangol_server::sqlite::SqliteStore;
use dangol_server::store::Store;
use dangol_server::{AppState, app, demo, now_ms};
use tracing_subscriber::EnvFilter;

/// The shop's own dangol backend.
#[derive(Debug, Parser)]
#[command(name = "dangol-server", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Directory of the embedded SQLite database (created if missing).
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://...`) instead of the embedded
    /// SQLite one: the scale-out path, shared by several servers.
    #[arg(long, env = "DANGOL_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Directory with `dangol.js` and the demo storefront.
    #[arg(long)]
    www: Option<PathBuf>,
    /// Directory with the built widget (wasm-bindgen output).
    #[arg(long)]
    pkg: Option<PathBuf>,
    /// Seed the demo site and its campaigns if they are missing.
    #[arg(long)]
    seed_demo: bool,
    /// With --seed-demo: also 90 days of simulated shoppers (once, into a
    /// demo without events), so the dashboard opens with a quarter of data.
    #[arg(long, requires = "seed_demo")]
    seed_demo_history: bool,
    /// Keep raw events at most this many days for every site (each site's
    /// own retention applies, 90 days unless set; purged hourly).
    #[arg(long)]
    retention_days: Option<u32>,
    /// A file holding the demo site's redeem key, for the shop's checkout
    /// (with --seed-demo); or set `DANGOL_REDEEM_KEY`. Secrets never come
    /// on the command line, where `ps` shows them.
    #[arg(long)]
    redeem_key_file: Option<PathBuf>,
    /// Event batches accepted per minute from one client address.
    #[arg(long, default_value_t = 600)]
    events_per_ip: u32,
    /// Coupon claims accepted per minute from one client address.
    #[arg(long, default_value_t = 20)]
    claims_per_ip: u32,
    /// Failed redeem attempts accepted per minute: wrong redeem keys per
    /// client address, unknown codes per shopper at the checkout.
    #[arg(long, default_value_t = 120)]
    redeems_per_ip: u32,
    /// Reverse proxies or CDNs in front of this server, as addresses or
    /// ranges (`10.0.0.0/8,2001:db8::/32`): their `Forwarded` or
    /// `X-Forwarded-For` header names the client for rate limits. Without
    /// this, every client behind a proxy shares the proxy's limits.
    #[arg(long, env = "DANGOL_TRUSTED_PROXIES", value_parser = parse_proxies, default_value = "")]
    trusted_proxies: dangol_server::limits::TrustedProxies,
    /// A file holding the bearer token for the admin API (automation), at
    /// least 24 characters; or set `DANGOL_ADMIN_TOKEN`.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Manage admin accounts.
    Admin {
        #[command(subcommand)]
        action: AdminCmd,
    },
    /// Reads a config (JSON) from stdin, checks it as publishing does and
    /// prints the compact form the widget reads (what
    /// `/v1/sites/{site}/config/compact` serves), for tests and CDNs.
    Compact,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCmd {
    /// Creates an admin (or sets a new password for one). The password comes
    /// from DANGOL_ADMIN_PASSWORD or, without it, the first line of stdin.
    Create {
        /// The admin's email, their sign-in name.
        #[arg(long)]
        email: String,
        /// Their role: owner, editor or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
        /// The site the role holds on, or `*` for every site.
        #[arg(long, default_value = "*")]
        site: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Some(Cmd::Compact) = &args.command {
        return compact_stdin();
    }
    let admin_token = secret("DANGOL_ADMIN_TOKEN", args.admin_token_file.as_deref())?;
    let redeem_key = secret("DANGOL_REDEEM_KEY", args.redeem_key_file.as_deref())?;
    for (name, value) in [("admin token", &admin_token), ("redeem key", &redeem_key)] {
        if let Some(v) = value
            && v.chars().count() < MIN_SECRET
        {
            anyhow::bail!(
                "the {name} must be at least {MIN_SECRET} characters (e.g. `openssl rand -hex 24`)"
            );
        }
    }

    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => Arc::new(
            PgStore::connect(url)
                .await
                .context("connecting to the PostgreSQL database")?,
        ),
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("creating data directory {}", args.data_dir.display()))?;
            // It holds the database with the sites' signing secrets.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&args.data_dir, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| {
                        format!("making data directory {} private", args.data_dir.display())
                    })?;
            }
            let db_path = args.data_dir.join("dangol.db");
            Arc::new(
                SqliteStore::open(&db_path)
                    .await
                    .with_context(|| format!("opening database {}", db_path.display()))?,
            )
        }
    };
    if let Some(Cmd::Admin {
        action: AdminCmd::Create { email, role, site },
    }) = &args.command
    {
        let password = match std::env::var("DANGOL_ADMIN_PASSWORD") {
            Ok(p) => p,
            Err(_) => {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            }
        };
        let email = email.trim().to_lowercase();
        check_new_admin(&email, &password).map_err(anyhow::Error::msg)?;
        let hash = hash_password(&password).map_err(anyhow::Error::msg)?;
        let Some(role) = dangol_server::admin::roles::Role::parse(role) else {
            anyhow::bail!("role `{role}` is not one of owner, editor, viewer");
        };
        store.put_admin(&email, &hash, now_ms()).await?;
        store.set_role(&email, site, Some(role.as_str())).await?;
        println!("admin {email} can sign in at /v1/admin/login");
        return Ok(());
    }
    if args.seed_demo && demo::seed(store.as_ref(), now_ms()).await? {
        tracing::info!("seeded the demo site");
    }
    if args.seed_demo_history {
        let started = std::time::Instant::now();
        let events = demo::history::seed(store.as_ref(), now_ms()).await?;
        if events > 0 {
            // The dashboard opens on the whole quarter: rolled up first.
            dangol_server::rollups::catch_up(store.as_ref(), std::time::Duration::from_secs(120))
                .await?;
            // The bandit learns from the quarter at once, not at the hour.
            dangol_server::admin::publish::refresh_bandits(store.as_ref(), demo::SITE)
                .await
                .map_err(|e| anyhow::anyhow!("refreshing the demo's bandit: {e:?}"))?;
            tracing::info!(events, elapsed = ?started.elapsed(), "seeded 90 days of demo shoppers");
        }
    }
    let demo_login = if args.seed_demo {
        Some(demo::seed_admin(store.as_ref(), now_ms()).await?)
    } else {
        None
    };
    if args.seed_demo
        && let Some(key) = &redeem_key
    {
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
        store.set_redeem_key(demo::SITE, &hash).await?;
    }

    tokio::spawn(dangol_server::retention_loop(
        store.clone(),
        args.retention_days,
    ));
    tokio::spawn(dangol_server::admin::publish::bandit_loop(store.clone()));
    tokio::spawn(dangol_server::rollups::rollup_loop(store.clone()));
    let deliverer = dangol_server::webhooks::Deliverer::from_env().map_err(anyhow::Error::msg)?;
    tokio::spawn(dangol_server::webhooks::webhook_loop(
        store.clone(),
        deliverer,
    ));
    let every = match std::env::var("DANGOL_SEGMENT_REFRESH_S") {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                anyhow::anyhow!("DANGOL_SEGMENT_REFRESH_S must be a number of seconds, found `{s}`")
            })?,
        Err(_) => 600,
    };
    tokio::spawn(dangol_server::segments::segment_loop(
        store.clone(),
        std::time::Duration::from_secs(every),
    ));
    let seed_demo = args.seed_demo;
    let state = AppState {
        store,
        www_dir: args.www,
        pkg_dir: args.pkg,
        admin_token,
        limits: dangol_server::limits::Limits {
            events_per_ip: args.events_per_ip,
            claims_per_ip: args.claims_per_ip,
            redeems_per_ip: args.redeems_per_ip,
            ..dangol_server::limits::Limits::default()
        },
        limiter: Arc::default(),
        proxies: Arc::new(args.trusted_proxies),
        cache: Arc::default(),
    };
    if seed_demo && let Err(e) = demo::seed_recs(&state, now_ms()).await {
        tracing::warn!(error = ?e, "the demo's recommendations were not built");
    }
    // Each site's recommendations model is built again once a day.
    tokio::spawn(dangol_server::recs::recs_loop(
        state.clone(),
        std::time::Duration::from_secs(3600),
    ));
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    // Tests and the xtask read this line to learn the port.
    println!("dangol-server listening on http://{addr}");
    if seed_demo {
        println!("  demo storefront: http://{addr}/demo/");
        println!(
            "  demo config:     http://{addr}/v1/sites/{}/config",
            demo::SITE
        );
    }
    if let Some((email, password)) = &demo_login {
        println!("  dashboard:       http://{addr}/admin/");
        println!("  admin sign-in:   {email} / {password}");
    }
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    println!("dangol-server stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// `dangol-server compact`: JSON config on stdin, compact form on stdout.
fn compact_stdin() -> anyhow::Result<()> {
    use dangol_engine::condition::NativeRegex;
    use dangol_engine::config::{SiteConfig, compact};
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).context("the config on stdin is not JSON")?;
    let config =
        SiteConfig::compile_value(&value.into(), &NativeRegex).map_err(anyhow::Error::msg)?;
    if !config.problems().is_empty() {
        let list: Vec<String> = config.problems().iter().map(ToString::to_string).collect();
        anyhow::bail!("the config cannot be published: {}", list.join("; "));
    }
    // Outside a server there is no line of publishes: never taken for
    // a replay of another config.
    println!("{}", compact::write(&config, ""));
    Ok(())
}

fn parse_proxies(list: &str) -> Result<dangol_server::limits::TrustedProxies, String> {
    dangol_server::limits::TrustedProxies::parse(list)
}

/// Secrets (the admin token, the redeem key) are at least this long.
const MIN_SECRET: usize = 24;

/// A secret from `file` when given, else from the environment variable
/// `env`; never from the command line, where `ps` shows it.
fn secret(env: &str, file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the secret in {}", path.display()))?;
        let text = text.trim().to_string();
        if text.is_empty() {
            anyhow::bail!("{} is empty", path.display());
        }
        return Ok(Some(text));
    }
    Ok(std::env::var(env).ok().filter(|v| !v.is_empty()))
}
