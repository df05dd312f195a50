//! File I/O for the CLI: reading MNIST and checkpoints with bounded sizes, and writing outputs so
//! that nothing is ever left half-written.
//!
//! Contract: every read refuses a file larger than its parser could accept before reading it;
//! [`check_writable`] proves an output directory takes files before a run starts;
//! [`write_atomic`] writes to a temporary file in the same directory and renames it into place,
//! so an existing file is either kept whole or replaced whole (a full disk or a crash loses
//! neither the old file nor leaves a partial new one).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Device;
use vgg_mnist::checkpoint::{self, Checkpoint, MAX_CHECKPOINT_BYTES};
use vgg_mnist::data::{
    Dataset, Mnist, MAX_IDX_BYTES, MY_DIGITS_IMAGES, MY_DIGITS_LABELS, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,
    TRAIN_LABELS,
};

/// Reads `path` unless it is larger than `max` bytes (`what` names it in errors). The size is
/// checked from the metadata first, then again while reading (a pipe, `/dev/zero` or a growing file
/// reports no size that holds), so at most `max + 1` bytes are ever read.
pub fn read_capped(path: &Path, max: usize, what: &str) -> Result<Vec<u8>> {
    let context = || format!("reading {what} {}", path.display());
    let file = std::fs::File::open(path).with_context(context)?;
    let size = file.metadata().with_context(context)?.len();
    let too_large = |size: u64| {
        anyhow::anyhow!(
            "{what} {} is {size} bytes, more than the {max} accepted",
            path.display()
        )
    };
    if size > max as u64 {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(context)?;
    if bytes.len() > max {
        bail!("{what} {} is more than the {max} bytes accepted", path.display());
    }
    Ok(bytes)
}

/// Splits an output file's path into its directory and name (an empty parent is `.`), refusing a
/// path with no usable file name and one that names any of `inputs` (which it would overwrite).
pub fn output_path(path: &Path, flag: &str, inputs: &[&Path]) -> Result<(PathBuf, String)> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        bail!("{flag} {} does not end in a file name", path.display());
    };
    if path.is_dir() {
        bail!("{flag} {} is a directory; give a file name", path.display());
    }
    if let Some(input) = inputs.iter().find(|input| same_file(path, input)) {
        bail!(
            "{flag} {} would overwrite {}; pass another path",
            path.display(),
            input.display()
        );
    }
    let dir = (path.parent())
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((dir.to_path_buf(), name.to_string()))
}

/// Whether `a` and `b` name one existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn check_data_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "data directory {} not found; it should hold the four MNIST .gz files (see www/data/ in the repository), or pass --data-dir",
            dir.display()
        );
    }
    Ok(())
}

/// Reads and parses one pair of MNIST files in `dir`.
fn load_pair(dir: &Path, images: &str, labels: &str) -> Result<Dataset> {
    let (ip, lp) = (dir.join(images), dir.join(labels));
    let i = read_capped(&ip, MAX_IDX_BYTES, "data file")?;
    let l = read_capped(&lp, MAX_IDX_BYTES, "data file")?;
    Ok(Dataset::from_idx(
        &ip.display().to_string(),
        &i,
        &lp.display().to_string(),
        &l,
    )?)
}

/// Reads and parses the four MNIST files in `dir`.
pub fn load_mnist(dir: &Path) -> Result<Mnist> {
    check_data_dir(dir)?;
    Ok(Mnist {
        train: load_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
        test: load_test(dir)?,
    })
}

/// Reads and parses only the MNIST test files in `dir` (what `eval` needs).
pub fn load_test(dir: &Path) -> Result<Dataset> {
    check_data_dir(dir)?;
    load_pair(dir, TEST_IMAGES, TEST_LABELS)
}

/// The first `limit` images of `data` (all without a limit), which must not be none: an
/// evaluation of zero images would report 0 % of 0 as if it were a result.
pub fn take_nonempty(data: &Dataset, limit: Option<usize>, what: &str) -> Result<Dataset> {
    let taken = data.take(limit.unwrap_or(usize::MAX));
    if taken.is_empty() {
        bail!("the {what} set has no images");
    }
    Ok(taken)
}

/// Reads and parses a My-digits pair (the user's own samples) in `dir`, with the same IDX parser
/// as MNIST: a bad pair is refused with a message naming the file.
pub fn load_my_digits(dir: &Path) -> Result<Dataset> {
    if !dir.is_dir() {
        bail!(
            "directory {} not found; it should hold {MY_DIGITS_IMAGES} and {MY_DIGITS_LABELS} (the web app's My digits download)",
            dir.display()
        );
    }
    load_pair(dir, MY_DIGITS_IMAGES, MY_DIGITS_LABELS)
}

/// Reads and validates a checkpoint file.
pub fn load_checkpoint(path: &Path, device: &Device) -> Result<Checkpoint> {
    let bytes = read_capped(path, MAX_CHECKPOINT_BYTES, "model")?;
    checkpoint::from_bytes(&bytes, device).with_context(|| format!("loading model {}", path.display()))
}

/// Creates `dir` if needed and checks that files can be created in it, before any work whose
/// results would go there.
pub fn check_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating output directory {}", dir.display()))?;
    tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("output directory {} is not writable", dir.display()))?;
    Ok(())
}

fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
}

/// Writes `bytes` to `dir/name` atomically: into a temporary file in `dir`, flushed to disk,
/// then renamed over `name`.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let context = || format!("writing {}", path.display());
    // Why the permissions: tempfile creates 0600 files; outputs get the usual 0666 less the umask,
    // as a plain `fs::write` would give them.
    let mut tmp = temp_builder().tempfile_in(dir).with_context(context)?;
    tmp.write_all(bytes).with_context(context)?;
    // Why sync: a rename that reaches the disk before the data would leave an empty file after
    // a crash, in place of the old one.
    tmp.as_file().sync_all().with_context(context)?;
    tmp.persist(&path).map_err(|e| e.error).with_context(context)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_reads_stop_at_the_cap_whatever_the_file_claims() {
        // /dev/zero reports a size of 0 and never ends.
        let err = read_capped(Path::new("/dev/zero"), 1000, "model").unwrap_err();
        assert!(format!("{err}").contains("more than the 1000 bytes"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        std::fs::write(&path, [7u8; 1000]).unwrap();
        assert_eq!(read_capped(&path, 1000, "model").unwrap().len(), 1000);
        assert!(read_capped(&path, 999, "model").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn atomic_writes_get_the_permissions_of_a_plain_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        write_atomic(dir.path(), "atomic", b"x").unwrap();
        let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("atomic"), mode("plain"));
    }

    #[test]
    fn output_paths_never_name_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("model.safetensors");
        std::fs::write(&input, b"x").unwrap();
        let same = dir.path().join(".").join("model.safetensors");
        let err = output_path(&same, "--out", &[&input]).unwrap_err();
        assert!(format!("{err}").contains("would overwrite"), "{err}");
        assert!(output_path(dir.path(), "--out", &[]).is_err());
        assert!(output_path(Path::new(".."), "--out", &[]).is_err());
        let (d, name) = output_path(Path::new("e.json"), "--out", &[&input]).unwrap();
        assert_eq!((d, name.as_str()), (PathBuf::from("."), "e.json"));
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "a.bin", b"old").unwrap();
        write_atomic(dir.path(), "a.bin", b"new contents").unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.bin")).unwrap(), b"new contents");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.bin"]);
        // A failed write keeps the old file: here the target name is a directory.
        std::fs::create_dir(dir.path().join("d")).unwrap();
        assert!(write_atomic(dir.path(), "d", b"x").is_err());
        assert!(dir.path().join("d").is_dir());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary left");
    }

    #[test]
    fn read_capped_refuses_large_files_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, [0u8; 10]).unwrap();
        assert_eq!(read_capped(&f, 10, "x").unwrap().len(), 10);
        let err = read_capped(&f, 9, "data file").unwrap_err().to_string();
        assert!(err.contains("is 10 bytes, more than the 9 accepted"), "{err}");
    }
}
