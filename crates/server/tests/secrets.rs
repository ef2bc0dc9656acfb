//! The server's secrets at rest and at start: a private data directory and
//! database, secrets only from the environment or a file (never the command
//! line, where `ps` shows them), and a minimum strength.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "a-strong-admin-token-0123456789";

mod process;
use process::{Server, free_port};

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dangol-server"));
    cmd.env_remove("DANGOL_ADMIN_TOKEN")
        .env_remove("DANGOL_REDEEM_KEY")
        .env_remove("DANGOL_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0");
    cmd
}

/// Runs a server that is expected to refuse to start.
fn refused(cmd: &mut Command) -> String {
    let Output { status, stderr, .. } = cmd.stdout(Stdio::null()).output().unwrap();
    assert!(!status.success());
    String::from_utf8_lossy(&stderr).to_string()
}

async fn started(cmd: &mut Command, addr: &str) -> Server {
    let server = Server(cmd.stdout(Stdio::null()).spawn().unwrap(), addr.to_string());
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            Instant::now() < until,
            "dangol-server on {addr} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

async fn status(addr: &str, path: &str, bearer: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {bearer}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw[9..12]).parse().unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_is_private_and_secrets_never_come_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = format!("127.0.0.1:{}", free_port());

    // Secrets on the command line are not accepted at all.
    let err = refused(server().args(["--addr", &addr, "--admin-token", TOKEN]));
    assert!(err.contains("--admin-token"), "{err}");
    // Weak secrets are refused by name.
    let err = refused(
        server()
            .args(["--addr", &addr, "--data-dir"])
            .arg(&data)
            .env("DANGOL_ADMIN_TOKEN", "short"),
    );
    assert!(
        err.contains("the admin token must be at least 24 characters"),
        "{err}"
    );
    let weak = dir.path().join("weak-key");
    std::fs::write(&weak, "redeem\n").unwrap();
    let err = refused(
        server()
            .args(["--addr", &addr, "--data-dir"])
            .arg(&data)
            .arg("--redeem-key-file")
            .arg(&weak),
    );
    assert!(
        err.contains("the redeem key must be at least 24 characters"),
        "{err}"
    );

    // From a file: the server starts, its data readable by its user only.
    let file = dir.path().join("admin-token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let server = started(
        server()
            .args(["--addr", &addr, "--seed-demo", "--data-dir"])
            .arg(&data)
            .arg("--admin-token-file")
            .arg(&file),
        &addr,
    )
    .await;
    assert_eq!(status(&server.1, "/v1/admin/sites", TOKEN).await, 200);
    assert_eq!(mode(&data), 0o700);
    for name in ["dangol.db", "dangol.db-wal", "dangol.db-shm"] {
        let path = data.join(name);
        if name == "dangol.db" || path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    assert!(
        data.join("dangol.db-wal").exists(),
        "WAL mode keeps a -wal file"
    );

    // Wrong bearer tokens are throttled per address (limits count per
    // clock minute: start early in one).
    let into = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if into > 50_000 {
        tokio::time::sleep(Duration::from_millis((60_100 - into) as u64)).await;
    }
    let mut statuses = Vec::new();
    for i in 0..12 {
        statuses.push(status(&server.1, "/v1/admin/sites", &format!("guess-{i}")).await);
    }
    assert_eq!(&statuses[..10], [401; 10]);
    assert_eq!(statuses[11], 429, "{statuses:?}");
}
