//! Where `intake export` writes: stdout, or a file that appears only when complete. The file
//! is written under a temporary name beside it and renamed at the end, so a failed or
//! interrupted export never leaves a half file that looks like a whole one.

use std::fs::File;
use std::io::{BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};

use crate::ToolError;

/// An export's destination.
pub enum Output {
    /// Standard output.
    Stdout(BufWriter<Stdout>),
    /// A temporary file, renamed to `target` by [`Output::finish`], removed if dropped before.
    File {
        /// The open temporary file.
        file: BufWriter<File>,
        /// Its path.
        temporary: PathBuf,
        /// The path asked for.
        target: PathBuf,
    },
}

impl Output {
    /// Stdout, or a new temporary file beside `path`.
    pub fn open(path: Option<&Path>) -> Result<Self, ToolError> {
        let Some(target) = path else {
            return Ok(Self::Stdout(BufWriter::new(std::io::stdout())));
        };
        let name = target
            .file_name()
            .ok_or_else(|| ToolError::Options(format!("{}: not a file name", target.display())))?;
        let temporary = target.with_file_name(format!(
            ".{}.{}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&temporary).map_err(|error| ToolError::io(&temporary, error))?;
        Ok(Self::File {
            file: BufWriter::new(file),
            temporary,
            target: target.to_owned(),
        })
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ToolError> {
        match self {
            Self::Stdout(out) => out
                .write_all(bytes)
                .map_err(|error| ToolError::io(Path::new("stdout"), error)),
            Self::File {
                file, temporary, ..
            } => file
                .write_all(bytes)
                .map_err(|error| ToolError::io(temporary, error)),
        }
    }

    /// Flushes, and puts a file in place under its name.
    pub fn finish(mut self) -> Result<(), ToolError> {
        match &mut self {
            Self::Stdout(out) => out
                .flush()
                .map_err(|error| ToolError::io(Path::new("stdout"), error)),
            Self::File {
                file,
                temporary,
                target,
            } => {
                file.flush()
                    .and_then(|()| file.get_ref().sync_all())
                    .map_err(|error| ToolError::io(temporary, error))?;
                std::fs::rename(&*temporary, &*target)
                    .map_err(|error| ToolError::io(target, error))?;
                // Renamed: nothing left for Drop to remove.
                temporary.clear();
                Ok(())
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Self::File { temporary, .. } = self {
            if !temporary.as_os_str().is_empty() {
                let _ = std::fs::remove_file(temporary);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("intake-export-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_appears_only_when_finished() {
        let dir = scratch();
        let target = dir.join("out.ndjson");
        let mut output = Output::open(Some(&target)).unwrap();
        output.write(b"one\n").unwrap();
        assert!(!target.exists(), "not before the end");
        output.finish().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"one\n");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unfinished_file_leaves_nothing() {
        let dir = scratch();
        let target = dir.join("out.ndjson");
        std::fs::write(&target, b"the previous export").unwrap();
        let mut output = Output::open(Some(&target)).unwrap();
        output.write(b"half").unwrap();
        drop(output);
        assert_eq!(std::fs::read(&target).unwrap(), b"the previous export");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
