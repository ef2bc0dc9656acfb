//! A throwaway PostgreSQL cluster for the PostgreSQL test suite: initdb and
//! pg_ctl on a temp dir and a free loopback port, stopped and removed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run::{is_root, sh, step};
use crate::tools;

/// A running cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    /// `postgres://` URL of its `postgres` database.
    pub url: String,
}

fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

fn run_as(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

impl Cluster {
    /// Starts a cluster, installing Debian's `postgresql` as root when it is
    /// missing. Without PostgreSQL and without root, says so loudly and
    /// returns `None`: the PostgreSQL suite is then skipped.
    pub fn start() -> Result<Option<Cluster>> {
        let root = is_root();
        let bin = match find_bin() {
            Some(bin) => bin,
            None if root => {
                step("installing postgresql (Debian package)");
                tools::apt_install(&["postgresql"])?;
                find_bin().context("initdb is still missing after installing postgresql")?
            }
            None => {
                println!(
                    "\n!!! NOTICE: PostgreSQL (initdb, pg_ctl) is not installed and this is not root:\n\
                     !!! the PostgreSQL test suite is SKIPPED. Install Debian's `postgresql` to run it.\n"
                );
                return Ok(None);
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("dangol-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        // initdb refuses to run as root: the cluster belongs to `postgres`.
        if root {
            sh(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&dir))?;
        }
        let cluster = Cluster {
            dir: dir.clone(),
            bin: bin.clone(),
            as_postgres: root,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        step(&format!(
            "starting a throwaway PostgreSQL cluster on port {port}"
        ));
        let out = run_as(root, &bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            dir.display()
        );
        let status = run_as(root, &bin.join("pg_ctl"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(dir.join("log"))
            .args(["-w", "start"])
            .status()
            .context("running pg_ctl start")?;
        if !status.success() {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            bail!("pg_ctl could not start PostgreSQL:\n{log}");
        }
        Ok(Some(cluster))
    }
}

impl Cluster {
    /// One value `sql` selects, as text (psql on the cluster).
    pub fn query(&self, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .arg(&self.url)
            .args(["-tAc", sql])
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run_as(self.as_postgres, &self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
