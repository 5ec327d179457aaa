//! `scripts/setup-postgres.sh` gets pgvector's source from the mirror apt is configured with (or
//! `$PGVECTOR_MIRROR`), never from an address written in the script, checks it against the
//! pinned sha256, and names the ways to supply it offline when no mirror answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const POOL_PATH: &str = "/debian/pool/main/p/pgvector/pgvector_0.8.0.orig.tar.gz";

fn script() -> PathBuf {
    // The checkout under test (cargo sets this for the test process), not the one compiled in.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../../scripts/setup-postgres.sh")
}

/// A one-file HTTP mirror on a free port: answers every GET with `body`, records the paths.
fn mirror(body: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/debian", listener.local_addr().unwrap());
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = paths.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(path);
            let mut out = &stream;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(&body);
        }
    });
    (url, paths)
}

fn fetch_source(home: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg("--fetch-source")
        .env("UNDERSTUDY_HOME", home)
        .env_remove("PGVECTOR_TARBALL")
        .env_remove("PGVECTOR_MIRROR");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_source_comes_from_the_configured_mirror_and_is_checked() {
    let home = tempfile::tempdir().unwrap();
    let (url, paths) = mirror(b"not the pgvector tarball".to_vec());
    let out = fetch_source(home.path(), &[("PGVECTOR_MIRROR", &url)]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("pinned sha256"), "{}", stderr(&out));
    assert_eq!(*paths.lock().unwrap(), vec![POOL_PATH.to_string()]);
    assert!(
        !home
            .path()
            .join("pgvector/pgvector_0.8.0.orig.tar.gz")
            .exists(),
        "a tarball that failed its check is not kept"
    );

    // The real tarball, where an earlier setup cached it, is accepted from the mirror.
    let cached = std::env::var_os("UNDERSTUDY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/understudy"))
        .join("pgvector/pgvector_0.8.0.orig.tar.gz");
    let Ok(real) = std::fs::read(&cached) else {
        eprintln!(
            "no cached pgvector tarball at {}: real-file half skipped",
            cached.display()
        );
        return;
    };
    let (url, paths) = mirror(real);
    let out = fetch_source(home.path(), &[("PGVECTOR_MIRROR", &url)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(*paths.lock().unwrap(), vec![POOL_PATH.to_string()]);
    assert!(home
        .path()
        .join("pgvector/pgvector_0.8.0.orig.tar.gz")
        .exists());
}

#[test]
fn with_no_mirror_answering_it_says_how_to_supply_the_source() {
    let home = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/debian", closed.local_addr().unwrap());
    drop(closed);
    let out = fetch_source(home.path(), &[("PGVECTOR_MIRROR", &url)]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("PGVECTOR_TARBALL") && err.contains("PGVECTOR_MIRROR"),
        "{err}"
    );

    // An offline copy with the wrong content is refused by name.
    let wrong = home.path().join("copy.tar.gz");
    std::fs::write(&wrong, b"wrong").unwrap();
    let out = fetch_source(
        home.path(),
        &[("PGVECTOR_TARBALL", wrong.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pinned sha256"), "{}", stderr(&out));
}
