//! A private PostgreSQL cluster for tests (feature `testing`): `initdb` into a temporary
//! directory, `pg_ctl start` on a free port on 127.0.0.1, stopped and removed on drop.
//!
//! PostgreSQL refuses to run as root; as root the cluster runs as `nobody` (through `runuser`),
//! owning its data directory. The binaries are found on `PATH`, else in Debian's
//! `/usr/lib/postgresql/<version>/bin` (the newest version there). When there are none, starting
//! fails with a message that says how to install them: a test needing PostgreSQL never passes
//! without it.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};

/// The user a cluster started by root runs as.
const UNPRIVILEGED_USER: &str = "nobody";

/// A running private cluster; see the module documentation.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// `Some(user)` when commands run through `runuser -u user`.
    run_as: Option<&'static str>,
    /// Whether the server accepts TLS.
    tls: bool,
}

fn fail(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

/// The directory holding `initdb` and `pg_ctl`.
pub fn find_bin_dir() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).ok_or_else(|| {
        fail(
            "PostgreSQL's initdb and pg_ctl are neither on PATH nor in /usr/lib/postgresql/*/bin: \
             install Debian's postgresql package (apt-get install postgresql; scripts/test.sh \
             does this) to run the PostgreSQL store tests",
        )
    })
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The uid and gid of `user`, from `/etc/passwd`.
fn user_ids(user: &str) -> io::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&user) && f.len() > 3)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
        .ok_or_else(|| fail(format!("no user {user} in /etc/passwd")))
}

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());

impl PgCluster {
    /// Creates and starts a new cluster.
    pub fn start() -> io::Result<Self> {
        Self::start_with(false)
    }

    /// Creates and starts a new cluster that also accepts TLS: a CA and a server certificate for
    /// `127.0.0.1` made with the `openssl` command, the CA at [`PgCluster::tls_ca`].
    pub fn start_tls() -> io::Result<Self> {
        Self::start_with(true)
    }

    /// The PEM CA certificate a TLS cluster's server certificate chains to.
    pub fn tls_ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Makes `ca.pem`, `server.pem` and `server.key` (readable by the server's user only).
    fn make_certificates(&self) -> io::Result<()> {
        let dir = self.dir.path();
        // Each call: one openssl command line, split at spaces (no argument has one).
        let openssl = |line: &str| -> io::Result<()> {
            let args: Vec<&str> = line.split_whitespace().collect();
            let out = Command::new("openssl")
                .args(&args)
                .current_dir(dir)
                .output()
                .map_err(|e| {
                    fail(format!(
                        "running openssl (apt-get install openssl) for the TLS test cluster: {e}"
                    ))
                })?;
            if !out.status.success() {
                return Err(fail(format!(
                    "openssl {line} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            Ok(())
        };
        const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        openssl(&format!(
            "req -x509 {NEW_KEY} -keyout ca.key -out ca.pem -days 2 -subj /CN=hallmark-test-CA \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
        ))?;
        openssl(&format!(
            "req {NEW_KEY} -keyout server.key -out server.csr -subj /CN=127.0.0.1"
        ))?;
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )?;
        openssl(
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
             -days 2 -extfile server.ext",
        )?;
        let key = dir.join("server.key");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        if let Some(user) = self.run_as {
            let (uid, gid) = user_ids(user)?;
            std::os::unix::fs::chown(&key, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    fn start_with(tls: bool) -> io::Result<Self> {
        let bin = find_bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("hallmark-pg-")
            .tempdir_in(std::env::temp_dir())?;
        let run_as = if is_root() {
            let (uid, gid) = user_ids(UNPRIVILEGED_USER)?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
            Some(UNPRIVILEGED_USER)
        } else {
            None
        };
        let mut cluster = Self {
            bin,
            dir,
            port: 0,
            run_as,
            tls,
        };
        if tls {
            cluster.make_certificates()?;
        }
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        // A port that was free a moment ago may be taken by the time the server binds it: try a
        // few.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl("start") {
                Ok(()) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| fail("the cluster did not start")))
    }

    /// A cluster shared by the tests of one process: started by the first caller, stopped when
    /// the last holder drops it.
    pub fn shared() -> io::Result<Arc<Self>> {
        let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.upgrade() {
            return Ok(c);
        }
        let c = Arc::new(Self::start()?);
        *slot = Arc::downgrade(&c);
        Ok(c)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> io::Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args).current_dir(self.dir.path());
        let out = cmd
            .output()
            .map_err(|e| fail(format!("running {}: {e}", exe.display())))?;
        if !out.status.success() {
            return Err(fail(format!(
                "{tool} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    fn pg_ctl(&self, action: &str) -> io::Result<()> {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        let mut options = format!(
            "-p {} -h 127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        if self.tls {
            let d = self.dir.path().display();
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={d}/server.pem -c ssl_key_file={d}/server.key"
            ));
        }
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                action.as_ref(),
            ],
        )
        .map_err(|e| {
            let server_log = std::fs::read_to_string(&log).unwrap_or_default();
            fail(format!("{e}\nserver log:\n{server_log}"))
        })
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory (data directory, server log).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A connection URL for database `db` (superuser `postgres`, no password, no TLS).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Creates a new, empty database with a unique name and returns its URL.
    pub fn fresh_database(&self, prefix: &str) -> io::Result<String> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name: String = format!("{prefix}_{}_{n}", std::process::id())
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let mut client = self.client("postgres")?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| fail(format!("creating database {name}: {e}")))?;
        Ok(self.url(&name))
    }

    /// A plain client to database `db`.
    pub fn client(&self, db: &str) -> io::Result<postgres::Client> {
        let config = postgres::Config::from_str(&self.url(db))
            .map_err(|e| fail(format!("test database URL: {e}")))?;
        config
            .connect(postgres::NoTls)
            .map_err(|e| fail(format!("connecting to the test cluster: {e}")))
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every open connection is closed.
    pub fn restart(&self) -> io::Result<()> {
        self.pg_ctl("restart")
    }

    /// Stops the server.
    pub fn stop(&self) -> io::Result<()> {
        self.pg_ctl("stop")
    }

    /// Starts the server again after [`PgCluster::stop`].
    pub fn start_again(&self) -> io::Result<()> {
        self.pg_ctl("start")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        // Immediate: the data directory is thrown away anyway.
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-w".as_ref(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "stop".as_ref(),
            ],
        );
    }
}
