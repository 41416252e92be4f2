//! A network token that is empty, too long, or whose file cannot be read is refused when the
//! logger starts (or when the file is read), with a message naming it; the token itself never
//! shows in the configuration's `Debug`.

use std::time::Duration;

fn start_with(net: tapelog::Network) -> String {
    let dir = std::env::temp_dir().join(format!("tapelog-token-start-{}", std::process::id()));
    let r = tapelog::Builder::new().dir(&dir).shutdown_timeout(Duration::from_millis(100)).network(net).start();
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok(_) => panic!("the logger started"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_tokens_are_refused_at_start() {
    let e = start_with(tapelog::Network::tcp("127.0.0.1:9").token(" \n"));
    assert!(e.contains("network token of 0 bytes"), "{e}");
    let e = start_with(tapelog::Network::tcp("127.0.0.1:9").token(vec![b'x'; 1025]));
    assert!(e.contains("network token of 1025 bytes: it must hold 1 to 1024 bytes"), "{e}");
    let missing = std::env::temp_dir().join("tapelog-no-such-token-file");
    let e = tapelog::Network::tcp("127.0.0.1:9").token_file(&missing).unwrap_err().to_string();
    assert!(e.contains("cannot read token file") && e.contains("tapelog-no-such-token-file"), "{e}");
    let net = tapelog::Network::tcp("127.0.0.1:9").token("hunter2");
    assert!(!format!("{net:?}").contains("hunter2"));
}
