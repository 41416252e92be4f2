//! Key-value fields are typed and deferred like arguments: the call site's dictionary entry
//! names them, and their values follow the format arguments in the record.

mod common;
use common::*;
use tapelog::wire::reader::{Entry, EntryReader};

#[test]
fn fields_are_named_in_the_dictionary_and_typed_in_the_record() {
    let _s = serial();
    let dir = TempDir::new("kv-fields");
    let guard = tapelog::Builder::new().dir(dir.path()).start().unwrap();
    let id = 42u64;
    tapelog::info!(order_id = id, side = "buy", px = 101.25; "filled {}", 100u32);
    tapelog::warn!(every = 1; venue = "XNAS"; "sampled with a field");
    drop(guard);

    let (events, diags) = decode(&[dir.path().to_path_buf()]);
    assert!(diags.is_empty(), "{diags:?}");
    let (_, args) = args_of(&events, "filled {}").next().expect("record");
    assert_eq!(args, ["100", "42", "buy", "101.25"], "format arguments, then field values");

    let (path, _) = tapelog::list_segments(dir.path()).into_iter().next().unwrap();
    let file = std::fs::File::open(path).unwrap();
    let mut r = EntryReader::open(file).unwrap();
    let mut fields = Vec::new();
    while let Some((_, e)) = r.next_entry().unwrap() {
        if let Entry::Callsite(cs) = e {
            fields.push((
                cs.format.to_string(),
                cs.fields.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
                cs.kinds.len(),
            ));
        }
    }
    assert!(
        fields.contains(&("filled {}".into(), vec!["order_id".into(), "side".into(), "px".into()], 4)),
        "{fields:?}"
    );
    assert!(fields.contains(&("sampled with a field".into(), vec!["venue".into()], 1)), "{fields:?}");
}
