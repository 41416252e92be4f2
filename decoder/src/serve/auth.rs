//! The shared token a collector started with `--token-file` requires in every HELLO.

use std::path::Path;

use tapelog_format::net::MAX_TOKEN;

/// A shared secret. Its `Debug` shows only its length, so it never reaches a log line.
///
/// ```
/// use tapelog_decoder::serve::Token;
///
/// let t = Token::new("s3cret")?;
/// assert!(t.matches(b"s3cret") && !t.matches(b"s3creT"));
/// assert!(!format!("{t:?}").contains("s3cret"));
/// assert!(Token::new("").is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(<{} bytes, redacted>)", self.0.len())
    }
}

impl Token {
    /// A token of these bytes, checked: not empty, at most [`MAX_TOKEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Token, String> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err("the token is empty".into());
        }
        if bytes.len() > MAX_TOKEN {
            return Err(format!("the token is {} bytes, over the {MAX_TOKEN}-byte limit", bytes.len()));
        }
        Ok(Token(bytes))
    }

    /// Reads the token from `path`: the file's content with leading and trailing whitespace
    /// trimmed. Refuses a file that is missing, empty, or accessible by group or other (a
    /// secret that anyone on the machine may read keeps nobody out).
    pub fn from_file(path: &Path) -> Result<Token, String> {
        use std::os::unix::fs::PermissionsExt;
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read token file {shown}: {e}"))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "token file {shown} is accessible by group or other (mode {mode:03o}); `chmod 600 {shown}` first"
            ));
        }
        let content = std::fs::read(path).map_err(|e| format!("cannot read token file {shown}: {e}"))?;
        Token::new(content.trim_ascii()).map_err(|e| format!("token file {shown}: {e}"))
    }

    /// Whether `offered` is this token, in time that depends on the lengths only, never on
    /// where the first differing byte is.
    pub fn matches(&self, offered: &[u8]) -> bool {
        ct_eq(&self.0, offered)
    }
}

/// Compares two byte strings in constant time for a given length: every byte pair is XORed
/// and the differences ORed together, with no branch on their content, so the time taken does
/// not tell a guesser how many leading bytes were right. Different lengths return at once:
/// the length is not the secret (it is at most [`MAX_TOKEN`], and a guesser learns nothing
/// about the content from it).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // black_box keeps the optimizer from turning the loop into an early-exit compare.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_every_byte() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"xbc"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
        let t = Token::new(&b"s3cret"[..]).unwrap();
        assert!(t.matches(b"s3cret") && !t.matches(b"s3cre") && !t.matches(b""));
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(Token::new(Vec::new()).is_err());
        assert!(Token::new(vec![b'x'; MAX_TOKEN + 1]).unwrap_err().contains("over the"));
    }

    #[test]
    fn token_files_are_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tapelog-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("token");
        let missing = Token::from_file(&p).unwrap_err();
        assert!(missing.contains("cannot read token file"), "{missing}");
        std::fs::write(&p, "  s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = Token::from_file(&p).unwrap_err();
        assert!(open.contains("accessible by group or other (mode 644)"), "{open}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Token::from_file(&p).unwrap().matches(b"s3cret"));
        std::fs::write(&p, " \n").unwrap();
        assert!(Token::from_file(&p).unwrap_err().contains("is empty"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
