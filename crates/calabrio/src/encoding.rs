//! Source encodings. Calabrio exports opened and re-saved on Windows arrive as Windows-1252 (or true
//! ISO-8859-1); the readers work on UTF-8. A file in another encoding is transcoded, streaming, into a
//! private temporary UTF-8 copy that the reader parses; records still name the original file. `auto`
//! keeps a file that is valid UTF-8 as it is and reads any other as Windows-1252.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::FileError;

/// The encoding of a source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceEncoding {
    /// UTF-8 (a BOM is allowed); an invalid byte makes its record unreadable.
    #[default]
    Utf8,
    /// Windows-1252.
    Windows1252,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// UTF-8 if the whole file is valid UTF-8, else Windows-1252.
    Auto,
}

impl SourceEncoding {
    /// Parses a configuration value (`utf-8`, `windows-1252`, `latin-1`, `auto`).
    pub fn parse(s: &str) -> Option<SourceEncoding> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(SourceEncoding::Utf8),
            "windows-1252" | "cp1252" => Some(SourceEncoding::Windows1252),
            "latin-1" | "latin1" | "iso-8859-1" => Some(SourceEncoding::Latin1),
            "auto" => Some(SourceEncoding::Auto),
            _ => None,
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        file: path.display().to_string(),
        source,
    }
}

/// True when the whole file is valid UTF-8 (read in chunks).
fn is_utf8(path: &Path) -> Result<bool, FileError> {
    let mut r = BufReader::new(File::open(path).map_err(io(path))?);
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = r.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            return Ok(carry.is_empty());
        }
        carry.extend_from_slice(&buf[..n]);
        match std::str::from_utf8(&carry) {
            Ok(_) => carry.clear(),
            Err(e) if e.error_len().is_none() => {
                let keep = carry.split_off(e.valid_up_to());
                carry = keep;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// A UTF-8 copy of `path` when it needs one, else `None` (read the file itself).
///
/// # Errors
/// I/O errors naming the file.
pub fn utf8_copy(
    path: &Path,
    enc: SourceEncoding,
) -> Result<Option<tempfile::NamedTempFile>, FileError> {
    let enc = match enc {
        SourceEncoding::Utf8 => return Ok(None),
        SourceEncoding::Auto if is_utf8(path)? => return Ok(None),
        SourceEncoding::Auto => SourceEncoding::Windows1252,
        other => other,
    };
    let mut input = BufReader::new(File::open(path).map_err(io(path))?);
    let mut out = tempfile::NamedTempFile::new().map_err(io(path))?;
    let mut decoder = encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling();
    let mut buf = vec![0u8; 64 * 1024];
    let mut text = String::with_capacity(3 * buf.len());
    loop {
        let n = input.read(&mut buf).map_err(io(path))?;
        text.clear();
        let last = n == 0;
        match enc {
            SourceEncoding::Latin1 => text.extend(buf[..n].iter().map(|b| char::from(*b))),
            _ => {
                let (_, _, _) = decoder.decode_to_string(&buf[..n], &mut text, last);
            }
        }
        out.write_all(text.as_bytes()).map_err(io(path))?;
        if last {
            break;
        }
    }
    out.flush().map_err(io(path))?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn windows_1252_and_latin_1_become_utf8() {
        // "Müller – 80€" in Windows-1252: ü = 0xFC, – = 0x96, € = 0x80.
        let src = file(b"M\xfcller \x96 80\x80");
        let copy = utf8_copy(src.path(), SourceEncoding::Windows1252)
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(copy.path()).unwrap(),
            "Müller – 80€"
        );
        let copy = utf8_copy(src.path(), SourceEncoding::Latin1)
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(copy.path()).unwrap(),
            "Müller \u{96} 80\u{80}"
        );
        let auto = utf8_copy(src.path(), SourceEncoding::Auto)
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(auto.path()).unwrap(),
            "Müller – 80€"
        );
    }

    #[test]
    fn auto_leaves_utf8_alone_even_across_chunk_boundaries() {
        let mut text = "a".repeat(64 * 1024 - 1).into_bytes();
        text.extend_from_slice("é€😀".as_bytes());
        let src = file(&text);
        assert!(
            utf8_copy(src.path(), SourceEncoding::Auto)
                .unwrap()
                .is_none()
        );
        assert!(
            utf8_copy(src.path(), SourceEncoding::Utf8)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            SourceEncoding::parse("CP1252"),
            Some(SourceEncoding::Windows1252)
        );
        assert_eq!(SourceEncoding::parse("ebcdic"), None);
    }
}
