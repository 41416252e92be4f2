//! `tapelog serve` run as root stops at once with a clear message and exit code 2 unless
//! given `--allow-root`; run as another user it starts without the flag.

mod common;
use common::*;
use std::process::Stdio;

#[test]
fn root_needs_allow_root() {
    let d = TempDir::new("net-root");
    let dir = d.path().join("collected");
    let args = ["serve", "--listen", "127.0.0.1:0", "--dir", dir.to_str().unwrap()];
    if tapelog_decoder::serve::running_as_root() {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("refusing to run as root") && err.contains("--allow-root"), "{err}");
        assert!(!dir.exists(), "a refused start created --dir");
    } else {
        // Not root: it starts (and is stopped here).
        let mut child = bin().args(args).stderr(Stdio::piped()).spawn().unwrap();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(line.contains("listening on"), "{line}");
    }
}
