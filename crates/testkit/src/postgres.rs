//! A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, `pg_ctl start` on a
//! free port of 127.0.0.1 with its unix socket in that dir too, so tests never touch a
//! system cluster and can run side by side. PostgreSQL refuses to run as root, so under
//! root (containers, CI) the cluster belongs to the `postgres` user and its commands run
//! through `runuser`.

use crate::free_port;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A PostgreSQL cluster of its own, stopped (`-m immediate`) when dropped.
#[derive(Debug)]
pub struct Postgres {
    /// The directory holding `initdb`, `pg_ctl` and `createdb`.
    bin: PathBuf,
    /// The cluster's data directory.
    data: PathBuf,
    /// Whether its commands run as the `postgres` user (the tests run as root).
    as_postgres: bool,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Postgres {
    /// Creates a cluster under `dir` (superuser `postgres`, trust authentication, UTF8) and
    /// starts it on a free port, returning once it accepts connections.
    pub fn start(dir: &Path) -> Self {
        let bin = binaries().expect(
            "PostgreSQL is required (scripts/test.sh installs it): apt-get install postgresql",
        );
        let as_postgres = running_as_root();
        let base = dir.join("postgres");
        std::fs::create_dir_all(&base).expect("create the cluster's directory");
        if as_postgres {
            // The postgres user must reach `base` through `dir` and own everything below.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the temp dir");
            succeed(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&base)
                    .output(),
                "chown the cluster's directory to postgres",
            );
        }
        let cluster = Self {
            bin,
            data: base.join("data"),
            as_postgres,
            port: free_port(),
        };
        succeed(
            cluster
                .command("initdb")
                .arg("-D")
                .arg(&cluster.data)
                .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8"])
                .args(["--locale=C", "--no-sync"])
                .output(),
            "initdb",
        );
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            cluster.port,
            base.display()
        );
        succeed(
            cluster
                .command("pg_ctl")
                .arg("-D")
                .arg(&cluster.data)
                .arg("-l")
                .arg(base.join("server.log"))
                .args(["-w", "-o", &options, "start"])
                .output(),
            "pg_ctl start",
        );
        cluster
    }

    /// The connection string (tokio-postgres / libpq key=value form) for database `dbname`.
    pub fn conninfo(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={dbname}",
            self.port
        )
    }

    /// Creates database `name` unless it exists already.
    pub fn create_database(&self, name: &str) {
        let output = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(name)
            .output()
            .expect("run createdb");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() || stderr.contains("already exists"),
            "createdb {name} failed: {stderr}"
        );
    }

    /// `program` from the PostgreSQL binaries, run as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// The directory of the newest `/usr/lib/postgresql/<version>/bin` with `initdb`, or the
/// one on `PATH` that holds it.
fn binaries() -> Option<PathBuf> {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    installed.or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| dir.join("initdb").exists())
    })
}

/// Whether this process runs as root (`id -u` prints 0).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Panics with the command's output unless it ran and succeeded.
fn succeed(output: std::io::Result<Output>, what: &str) {
    let output = output.unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
